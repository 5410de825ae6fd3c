package sandbox

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/providers/aws"
)

// Disk is the local disk of a sandbox: the files that fake local tools
// and downloads write (a pg_dump backup, s3_download's file) and that
// later steps read (s3_upload's and ssh_upload's source). What is written lives in memory, so a rehearsal never writes
// to the machine's disk and parallel cases never share files. Reads of a
// path the sandbox never wrote fall through to the machine's disk, read
// only: a runbook that uploads the operator's own files (a build
// directory, a config) rehearses with them, relative paths taken from the
// working directory as in a real run. Paths written are slash-separated;
// relative ones are taken from "/". It is safe for concurrent use.
type Disk struct {
	mu    sync.Mutex
	files map[string]diskFile
	now   func() time.Time
	// base is the machine's disk, read only; nil reads nothing from it.
	base aws.LocalFiles
}

type diskFile struct {
	data    []byte
	modTime time.Time
}

// NewDisk returns a disk whose files are dated by now and whose reads of
// paths never written fall through to the machine's disk.
func NewDisk(now func() time.Time) *Disk {
	return &Disk{files: map[string]diskFile{}, now: now, base: osDisk{}}
}

// NewMemDisk returns a disk that holds only what is written to it: the
// machine's disk is never read.
func NewMemDisk(now func() time.Time) *Disk {
	return &Disk{files: map[string]diskFile{}, now: now}
}

// osDisk reads the machine's disk.
type osDisk struct{}

func (osDisk) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
func (osDisk) Open(name string) (aws.LocalFile, error)    { return os.Open(name) }
func (osDisk) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

func cleanPath(name string) string {
	return path.Clean("/" + strings.ReplaceAll(name, "\\", "/"))
}

// WriteFile creates or replaces the file name (its directories exist
// implicitly).
func (d *Disk) WriteFile(name string, data []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := cleanPath(name)
	if d.isDirLocked(p) {
		return &fs.PathError{Op: "write", Path: name, Err: fs.ErrExist}
	}
	d.files[p] = diskFile{data: bytes.Clone(data), modTime: d.now()}
	return nil
}

// ReadFile returns a file's content.
func (d *Disk) ReadFile(name string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.files[cleanPath(name)]
	if !ok {
		if d.base != nil && !d.isDirLocked(cleanPath(name)) {
			return readAll(d.base, name)
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return bytes.Clone(f.data), nil
}

// written returns the content of a file written to the disk (not one
// read through from the machine's disk).
func (d *Disk) written(name string) ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.files[cleanPath(name)]
	if !ok {
		return nil, false
	}
	return bytes.Clone(f.data), true
}

// Files lists every file, sorted.
func (d *Disk) Files() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.files))
	for p := range d.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// isDirLocked: a directory is any strict prefix of a file's path.
func (d *Disk) isDirLocked(p string) bool {
	if p == "/" {
		return true
	}
	for f := range d.files {
		if strings.HasPrefix(f, p+"/") {
			return true
		}
	}
	return false
}

// Stat describes a file or directory.
func (d *Disk) Stat(name string) (fs.FileInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := cleanPath(name)
	if f, ok := d.files[p]; ok {
		return diskInfo{name: path.Base(p), size: int64(len(f.data)), mod: f.modTime}, nil
	}
	if d.isDirLocked(p) {
		return diskInfo{name: path.Base(p), dir: true}, nil
	}
	if d.base != nil {
		return d.base.Stat(name)
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

// Open opens a regular file for reading.
func (d *Disk) Open(name string) (aws.LocalFile, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := cleanPath(name)
	f, ok := d.files[p]
	if !ok {
		if d.isDirLocked(p) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
		}
		if d.base != nil {
			return d.base.Open(name)
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &diskReader{Reader: bytes.NewReader(f.data), info: diskInfo{name: path.Base(p), size: int64(len(f.data)), mod: f.modTime}}, nil
}

// ReadDir lists a directory, sorted by name.
func (d *Disk) ReadDir(name string) ([]fs.DirEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := cleanPath(name)
	if !d.isDirLocked(p) {
		if d.base != nil {
			return d.base.ReadDir(name)
		}
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	prefix := strings.TrimSuffix(p, "/") + "/"
	seen := map[string]fs.DirEntry{}
	for f, file := range d.files {
		if !strings.HasPrefix(f, prefix) {
			continue
		}
		rest := f[len(prefix):]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seen[rest[:i]] = fs.FileInfoToDirEntry(diskInfo{name: rest[:i], dir: true})
		} else {
			seen[rest] = fs.FileInfoToDirEntry(diskInfo{name: rest, size: int64(len(file.data)), mod: file.modTime})
		}
	}
	out := make([]fs.DirEntry, 0, len(seen))
	for _, e := range seen {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// readAll reads a whole file of files.
func readAll(files aws.LocalFiles, name string) ([]byte, error) {
	f, err := files.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

type diskInfo struct {
	name string
	size int64
	mod  time.Time
	dir  bool
}

func (i diskInfo) Name() string { return i.name }
func (i diskInfo) Size() int64  { return i.size }
func (i diskInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i diskInfo) ModTime() time.Time { return i.mod }
func (i diskInfo) IsDir() bool        { return i.dir }
func (i diskInfo) Sys() any           { return nil }

type diskReader struct {
	*bytes.Reader
	info diskInfo
}

func (r *diskReader) Stat() (fs.FileInfo, error) { return r.info, nil }
func (r *diskReader) Close() error               { return nil }

var _ aws.LocalFiles = (*Disk)(nil)
