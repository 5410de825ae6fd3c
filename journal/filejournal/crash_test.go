package filejournal_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/journal/internal/crashworld"
	"github.com/handrail-dev/handrail/runbook"
)

// site is a world file and a state directory.
type site struct{ root string }

func newSite(t *testing.T) crashworld.Site { return site{t.TempDir()} }

func (s site) dir() string                       { return filepath.Join(s.root, "state") }
func (s site) WorldPath() string                 { return filepath.Join(s.root, "world.json") }
func (s site) Env() []string                     { return []string{envStateDir + "=" + s.dir()} }
func (s site) Open(t *testing.T) runbook.Journal { return open(t, s.dir(), nil) }

// TestCrashMatrix kills the run with SIGKILL right after every durable
// journal append (every boundary of an uninterrupted run, in a success and a
// failure scenario), then resumes — and, separately, rolls back — in new
// processes.
func TestCrashMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("crash matrix: not in -short")
	}
	crashworld.Matrix(t, newSite)
}

// TestCrashEditedResume: a resume with an edited plan dies after every
// durable append; resuming again keeps exactly once.
func TestCrashEditedResume(t *testing.T) {
	crashworld.EditedResume(t, newSite)
}

// TestCrashInDoubt kills the run between a step's side effect and its
// record, for every step.
func TestCrashInDoubt(t *testing.T) {
	if testing.Short() {
		t.Skip("crash matrix: not in -short")
	}
	crashworld.InDoubt(t, newSite)
}

// TestCrashRollbackInDoubt shows the core gap: Rollback ignores a step in
// doubt whose effect happened.
func TestCrashRollbackInDoubt(t *testing.T) {
	crashworld.RollbackInDoubt(t, newSite)
}

// Copy copies the world and the state directory (lock files included).
func (s site) Copy(t *testing.T) crashworld.Site {
	c := site{t.TempDir()}
	require.NoError(t, filepath.Walk(s.root, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.root, path)
		dst := filepath.Join(c.root, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o750)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}))
	return c
}
