package sandbox

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiskReadsTheMachinesDiskButNeverWritesIt(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "build", "app.js")
	require.NoError(t, os.MkdirAll(filepath.Dir(real), 0o755))
	require.NoError(t, os.WriteFile(real, []byte("operator's file"), 0o644))

	d := NewDisk(DefaultStart.UTC)
	got, err := d.ReadFile(real)
	require.NoError(t, err, "a file the sandbox never wrote is read from the machine's disk")
	assert.Equal(t, "operator's file", string(got))
	info, err := d.Stat(filepath.Join(dir, "build"))
	require.NoError(t, err)
	assert.True(t, info.IsDir())
	entries, err := d.ReadDir(filepath.Join(dir, "build"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "app.js", entries[0].Name())
	f, err := d.Open(real)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	// A write shadows the machine's file and never reaches it.
	require.NoError(t, d.WriteFile(real, []byte("rehearsal's dump")))
	got, err = d.ReadFile(real)
	require.NoError(t, err)
	assert.Equal(t, "rehearsal's dump", string(got))
	onDisk, err := os.ReadFile(real)
	require.NoError(t, err)
	assert.Equal(t, "operator's file", string(onDisk), "the machine's disk is never written")
	newFile := filepath.Join(dir, "dumps", "pre.dump")
	require.NoError(t, d.WriteFile(newFile, []byte("x")))
	_, err = os.Stat(newFile)
	assert.True(t, errors.Is(err, fs.ErrNotExist), "a file the sandbox writes stays in memory")
	assert.Equal(t, []string{filepath.ToSlash(real), filepath.ToSlash(newFile)}, d.Files(), "only what the sandbox wrote is its state")

	// A memory-only disk reads nothing from the machine.
	m := NewMemDisk(DefaultStart.UTC)
	_, err = m.ReadFile(real)
	assert.True(t, errors.Is(err, fs.ErrNotExist))
	_, err = m.Stat(real)
	assert.True(t, errors.Is(err, fs.ErrNotExist))
}
