package aws

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// LocalFiles is the file system s3_upload reads its sources from. The
// default is the machine's disk; [WithLocalFiles] gives another, such as a
// sandbox's fake disk that holds what a fake pg_dump wrote.
type LocalFiles interface {
	// Stat describes the file or directory name.
	Stat(name string) (fs.FileInfo, error)
	// Open opens the regular file name for reading.
	Open(name string) (LocalFile, error)
	// ReadDir lists the directory name, sorted by file name.
	ReadDir(name string) ([]fs.DirEntry, error)
}

// LocalFile is an open local file. The parts of a multipart upload are
// read at their offsets, in parallel.
type LocalFile interface {
	fs.File
	io.ReaderAt
}

// WritableFiles is a [LocalFiles] that s3_download writes to as well
// (a sandbox's fake disk, so that a rehearsal writes nothing on the
// machine). An instance given local files that are not writable refuses
// to download: it never falls back to the machine's disk.
type WritableFiles interface {
	LocalFiles
	// WriteFile creates or replaces the regular file name with data,
	// creating its directories.
	WriteFile(name string, data []byte) error
}

// ErrReadOnlyFiles is wrapped by the error of an s3_download on an
// instance whose replaced local files are not [WritableFiles].
var ErrReadOnlyFiles = errors.New("local files are read only")

// memWriterAt is an in-memory io.WriterAt: the parts of a download may be
// written concurrently, at any offset.
type memWriterAt struct {
	mu  sync.Mutex
	buf []byte
}

func (m *memWriterAt) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fs.ErrInvalid
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if end := off + int64(len(p)); end > int64(len(m.buf)) {
		m.buf = append(m.buf, make([]byte, end-int64(len(m.buf)))...)
	}
	return copy(m.buf[off:], p), nil
}

func (m *memWriterAt) bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.buf
}

// WithLocalFiles makes the instance read local files (s3_upload's source)
// from files instead of the machine's disk, and write s3_download's file
// to them when they are [WritableFiles].
func WithLocalFiles(files LocalFiles) Option {
	return func(o *options) { o.files = files }
}

// osFiles is the machine's disk.
type osFiles struct{}

func (osFiles) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
func (osFiles) Open(name string) (LocalFile, error)        { return os.Open(name) }
func (osFiles) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// walkFiles calls fn for root and, if it is a directory, everything under
// it in lexical order, as filepath.WalkDir does on the machine's disk.
func walkFiles(files LocalFiles, root string, fn fs.WalkDirFunc) error {
	st, err := files.Stat(root)
	if err != nil {
		return fn(root, nil, err)
	}
	return walkEntry(files, root, fs.FileInfoToDirEntry(st), fn)
}

func walkEntry(files LocalFiles, p string, d fs.DirEntry, fn fs.WalkDirFunc) error {
	if err := fn(p, d, nil); err != nil || !d.IsDir() {
		if err == fs.SkipDir && d.IsDir() {
			return nil
		}
		return err
	}
	entries, err := files.ReadDir(p)
	if err != nil {
		if err := fn(p, d, err); err != nil && err != fs.SkipDir {
			return err
		}
		return nil
	}
	for _, e := range entries {
		if err := walkEntry(files, filepath.Join(p, e.Name()), e, fn); err != nil {
			if err == fs.SkipDir {
				break
			}
			return err
		}
	}
	return nil
}

// digestLocal digests a local file of files.
func digestLocal(ctx context.Context, files LocalFiles, file string, partSize int64) (digest, error) {
	f, err := files.Open(file)
	if err != nil {
		return digest{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return digest{}, err
	}
	return digestReader(ctx, f, st.Size(), partSize)
}
