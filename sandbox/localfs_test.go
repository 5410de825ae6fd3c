package sandbox

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
)

const downloadRunbook = `runbook "restore" {
  window = "1h"
}

provider "aws" "main" {
  region = "eu-west-1"
}

step "s3_download" "fetch" {
  provider = aws.main
  bucket   = "backups"
  key      = "db/dump.sql"
  file     = "restore/dump.sql"
}

step "s3_download" "fresh" {
  provider = aws.main
  bucket   = "backups"
  key      = "db/dump.sql"
  file     = "fresh/dump.sql"
}

provider "ssh" "app" {
  host = "app-01"
}

step "ssh_upload" "install" {
  provider = ssh.app
  path     = "/srv/dump.sql"
  source   = step.fetch.file

  restore_on_rollback = true
}

step "ssh_upload" "config" {
  provider = ssh.app
  path     = "/srv/app.conf"
  source   = "app.conf"

  restore_on_rollback = true
}

step "s3_upload" "copy" {
  provider = aws.main
  bucket   = "backups"
  source   = step.fetch.file
  key      = "copy/dump.sql"
}
`

// treeOf returns every file and directory under root with its content,
// skipping Handrail's own state (.handrail).
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".handrail" {
			return fs.SkipDir
		}
		if d.IsDir() {
			tree[p] = "(dir)"
			return nil
		}
		b, err := os.ReadFile(p)
		tree[p] = string(b)
		return err
	}))
	return tree
}

// A rehearsal never writes the machine's disk at the runbook's paths:
// s3_download writes to the sandbox's disk — neither overwriting the
// operator's file at its path nor creating a new one — and a later
// s3_upload or ssh_upload of that file reads what the rehearsal
// downloaded.
func TestRehearsalLeavesTheLocalDiskAlone(t *testing.T) {
	root := t.TempDir()
	book := filepath.Join(root, "book")
	require.NoError(t, os.MkdirAll(filepath.Join(book, "restore"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "elsewhere"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(book, "restore", "dump.sql"), []byte("the operator's own file"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(book, "app.conf"), []byte("a source only read"), 0o644))
	path := filepath.Join(book, "release.hcl")
	require.NoError(t, os.WriteFile(path, []byte(downloadRunbook), 0o644))
	t.Chdir(filepath.Join(root, "elsewhere"))
	before := treeOf(t, root)

	start := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)
	w, rb, err := Load(context.Background(), filepath.Join("..", "book", "release.hcl"), start, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rb.Close() })
	w.AWS.CreateBucket("backups", false).PutObject("backups", "db/dump.sql", []byte("the fake dump"), start.Add(-time.Hour))
	h := runbooktest.Run(t, rb.Plan(), runbooktest.WithClock(w.Clock), runbooktest.WithObserver(w.Observer()))
	require.Equal(t, runbook.StatusSucceeded, h.Result.Status, "%v", h.Result.Err)

	assert.Equal(t, before, treeOf(t, root), "the rehearsal changed the machine's disk")
	assert.NoDirExists(t, filepath.Join(book, "fresh"))
	for _, f := range []string{"restore/dump.sql", "fresh/dump.sql"} {
		b, err := w.Disk.ReadFile(filepath.Join(book, f))
		require.NoError(t, err, f)
		assert.Equal(t, "the fake dump", string(b), f)
	}
	// ssh_upload reads what the rehearsal downloaded too, and a source
	// the rehearsal never wrote from the machine's disk (read only).
	assert.Equal(t, "the fake dump", w.SSH.Host("app-01").Content("/srv/dump.sql"))
	assert.Equal(t, "a source only read", w.SSH.Host("app-01").Content("/srv/app.conf"))
	copied, ok := w.AWS.Object("backups", "copy/dump.sql")
	require.True(t, ok)
	assert.Equal(t, "the fake dump", string(copied), "s3_upload reads the rehearsal's download, not the operator's file")
}

const k6Runbook = `runbook "smoke" {
  window = "1h"
}

provider "exec" "local" {}

step "local_exec" "k6_by_hand" {
  provider  = exec.local
  command   = ["k6", "run", "--summary-export", "results/summary.json", "smoke.js"]
  read_only = true
}

step "k6_run" "smoke" {
  provider = exec.local
  script   = "smoke.js"
}
`

// A k6 run scripted in the world (k6 { summary = ... }) writes the summary
// of a local_exec's `k6 run --summary-export FILE` to the sandbox's disk,
// at the path the command names from the runbook's folder, and not on the
// machine; a k6_run step still reads its summary back from its own
// temporary directory.
func TestRehearsalK6SummaryStaysOffDisk(t *testing.T) {
	root := t.TempDir()
	book := filepath.Join(root, "book")
	require.NoError(t, os.MkdirAll(book, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "elsewhere"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(book, "release.hcl"), []byte(k6Runbook), 0o644))
	summary := `{"metrics":{"http_req_duration":{"avg":10,"p(95)":42,"thresholds":{"p(95)<500":false}}}}`
	require.NoError(t, os.WriteFile(filepath.Join(book, "release.test.hcl"), []byte("world {\n  k6 {\n    summary = <<-EOT\n"+summary+"\n    EOT\n  }\n}\n"), 0o644))
	t.Chdir(filepath.Join(root, "elsewhere"))
	before := treeOf(t, root)

	w, rb, err := Load(context.Background(), filepath.Join("..", "book", "release.hcl"), time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rb.Close() })
	h := runbooktest.Run(t, rb.Plan(), runbooktest.WithClock(w.Clock), runbooktest.WithObserver(w.Observer()))
	require.Equal(t, runbook.StatusSucceeded, h.Result.Status, "%v", h.Result.Err)

	assert.Equal(t, before, treeOf(t, root), "the rehearsal changed the machine's disk")
	b, err := w.Disk.ReadFile(filepath.Join(book, "results", "summary.json"))
	require.NoError(t, err)
	assert.JSONEq(t, summary, string(b))
	assert.Equal(t, 42.0, h.Result.Nodes["smoke"].Outputs["http_req_duration_p95"])
}
