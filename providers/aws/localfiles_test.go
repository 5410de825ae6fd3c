package aws_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/aws/awsfake"
	"github.com/handrail-dev/handrail/runbook"
)

// noFiles is a LocalFiles holding nothing, read only.
type noFiles struct{}

func (noFiles) Stat(name string) (fs.FileInfo, error) {
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}
func (noFiles) Open(name string) (aws.LocalFile, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}
func (noFiles) ReadDir(name string) ([]fs.DirEntry, error) {
	return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
}

// memFiles is a writable LocalFiles: what is written is kept in a map.
type memFiles struct {
	noFiles
	written map[string]string
}

func (m *memFiles) WriteFile(name string, data []byte) error {
	m.written[name] = string(data)
	return nil
}

// An instance whose local files are replaced writes s3_download's file to
// them when they are writable, and refuses to download when they are read
// only: it never falls back to the machine's disk.
func TestDownloadWritesThroughLocalFiles(t *testing.T) {
	w := awsfake.New().CreateBucket("backups", false).PutObject("backups", "dump.sql", []byte("the dump"), time.Unix(0, 0))
	file := filepath.Join(t.TempDir(), "restore", "dump.sql")

	mem := &memFiles{written: map[string]string{}}
	inst, err := aws.NewInstance("mem", aws.Config{Region: "eu-west-1"}, w.Option(), aws.WithLocalFiles(mem))
	require.NoError(t, err)
	d, err := aws.NewDownload(inst, aws.DownloadArgs{Bucket: "backups", Key: "dump.sql", File: file, PartSize: 5 << 20, Concurrency: 3})
	require.NoError(t, err)
	out, err := d.Do(context.Background(), envAt(time.Now()))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{file: "the dump"}, mem.written)
	assert.Equal(t, int64(8), out["size"])
	assert.Equal(t, "etag-md5", out["verified_by"])
	assert.NoDirExists(t, filepath.Dir(file))

	// A wrong checksum writes nothing.
	d, err = aws.NewDownload(inst, aws.DownloadArgs{Bucket: "backups", Key: "dump.sql", File: file + ".2", SHA256: strings.Repeat("ab", 32)})
	require.NoError(t, err)
	_, err = d.Do(context.Background(), envAt(time.Now()))
	require.ErrorIs(t, err, aws.ErrChecksum)
	assert.NotContains(t, mem.written, file+".2")

	ro, err := aws.NewInstance("ro", aws.Config{Region: "eu-west-1"}, w.Option(), aws.WithLocalFiles(noFiles{}))
	require.NoError(t, err)
	d, err = aws.NewDownload(ro, aws.DownloadArgs{Bucket: "backups", Key: "dump.sql", File: file})
	require.NoError(t, err)
	_, err = d.Do(context.Background(), envAt(time.Now()))
	require.ErrorIs(t, err, aws.ErrReadOnlyFiles)
	assert.True(t, runbook.IsPermanent(err))
	_, statErr := os.Stat(filepath.Dir(file))
	assert.ErrorIs(t, statErr, fs.ErrNotExist)
}
