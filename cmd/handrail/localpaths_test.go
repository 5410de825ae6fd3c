package main_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const localPathsRunbook = `runbook "paths" {
  description = "Relative local paths"
  window      = "10m"
}

provider "exec" "local" {}

step "local_exec" "build" {
  provider         = exec.local
  command          = ["sh", "-c", "echo artifact > out.txt"]
  rollback_command = ["rm", "-f", "out.txt"]
  dir              = "work"
}

step "local_exec" "wait" {
  provider = exec.local
  command          = ["test", "-f", "go"]
  rollback_command = ["true"]
  dir              = "work"
  on_fail          = "abort"
}

step "local_exec" "ship" {
  provider         = exec.local
  command          = ["sh", "-c", "cat out.txt > shipped.txt"]
  rollback_command = ["rm", "-f", "shipped.txt"]
  dir              = "work"
}
`

// TestLocalPathsFromAnyDirectory: a runbook naming its local_exec dir
// relative to itself is applied from one directory and resumed from
// another; both run in the runbook's folder, not the caller's.
func TestLocalPathsFromAnyDirectory(t *testing.T) {
	tmp := t.TempDir()
	book, here, elsewhere := filepath.Join(tmp, "book"), filepath.Join(tmp, "here"), filepath.Join(tmp, "elsewhere")
	for _, d := range []string{filepath.Join(book, "work"), filepath.Join(here, "work"), filepath.Join(elsewhere, "work")} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	writeFile(t, book, "release.hcl", localPathsRunbook)

	r := run(t, here, "apply", filepath.Join("..", "book", "release.hcl"), "-auto-approve")
	require.Equal(t, 3, r.code, r.stderr)
	assert.Contains(t, r.stderr, "aborted")
	assert.FileExists(t, filepath.Join(book, "work", "out.txt"))
	assert.NoFileExists(t, filepath.Join(here, "work", "out.txt"))
	h := hints(r.stderr)
	require.Contains(t, h, "rollback", r.stderr)
	id := strings.Fields(h["rollback"])[2]

	require.NoError(t, os.WriteFile(filepath.Join(book, "work", "go"), nil, 0o644))
	r = run(t, elsewhere, "resume", id, "-from", "wait")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	b, err := os.ReadFile(filepath.Join(book, "work", "shipped.txt"))
	require.NoError(t, err)
	assert.Equal(t, "artifact\n", string(b))
	assert.NoFileExists(t, filepath.Join(elsewhere, "work", "shipped.txt"))

	// The rollback, from the first directory again, undoes in the
	// runbook's folder.
	r = run(t, here, "rollback", id)
	require.Equal(t, 2, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.NoFileExists(t, filepath.Join(book, "work", "shipped.txt"))
	assert.NoFileExists(t, filepath.Join(book, "work", "out.txt"))
	assert.Contains(t, r.stderr, "rolled back as requested")
}

const s3PathsRunbook = `runbook "s3paths" {
  description = "Relative upload source"
  window      = "10m"
}

provider "aws" "main" { region = "eu-west-1" }

step "s3_upload" "artifact" {
  provider = aws.main
  bucket   = "releases"
  source   = "dist/app.txt"
  key      = "app.txt"
}
`

// TestSandboxRelativeUploadSource: a rehearsal of an s3_upload whose
// source is relative to the runbook reads the file next to the runbook
// (the sandbox's disk reads through to the machine's), from any directory.
func TestSandboxRelativeUploadSource(t *testing.T) {
	tmp := t.TempDir()
	book, here := filepath.Join(tmp, "book"), filepath.Join(tmp, "here")
	require.NoError(t, os.MkdirAll(filepath.Join(book, "dist"), 0o755))
	require.NoError(t, os.MkdirAll(here, 0o755))
	writeFile(t, filepath.Join(book, "dist"), "app.txt", "the release\n")
	writeFile(t, book, "release.hcl", s3PathsRunbook)
	writeFile(t, book, "release.test.hcl", "world {\n  s3_bucket {\n    name = \"releases\"\n  }\n}\n")

	r := run(t, here, "apply", "--sandbox", filepath.Join("..", "book", "release.hcl"), "-json")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	sum := sha256.Sum256([]byte("the release\n"))
	assert.Contains(t, r.stdout, fmt.Sprintf(`"sha256":{"app.txt":"%x"}`, sum))
	assert.Contains(t, r.stdout, `"status":"succeeded"`)
}

const scriptRunbook = `runbook "script" {
  description = "A script next to the runbook"
  window      = "10m"
}

provider "exec" "local" {}

step "local_exec" "check" {
  provider  = exec.local
  command   = ["./scripts/check.sh", "declared"]
  read_only = true
}
`

// scriptRunbookImplicit uses the implicit exec.default instance (no
// provider block).
const scriptRunbookImplicit = `runbook "script" {
  description = "A script next to the runbook"
  window      = "10m"
}

step "local_exec" "check" {
  command   = ["./scripts/check.sh", "implicit"]
  read_only = true
}
`

// TestLocalExecDefaultsToRunbookDir: a local_exec without dir runs in the
// runbook file's directory, with a declared exec provider or the implicit
// one, so a script named relative to the runbook runs when handrail is
// started from another directory.
func TestLocalExecDefaultsToRunbookDir(t *testing.T) {
	tmp := t.TempDir()
	book, here := filepath.Join(tmp, "book"), filepath.Join(tmp, "here")
	require.NoError(t, os.MkdirAll(filepath.Join(book, "scripts"), 0o755))
	require.NoError(t, os.MkdirAll(here, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(book, "scripts", "check.sh"), []byte("#!/bin/sh\npwd > \"ran-$1.txt\"\n"), 0o755))
	writeFile(t, book, "declared.hcl", scriptRunbook)
	writeFile(t, book, "implicit.hcl", scriptRunbookImplicit)
	want, err := filepath.EvalSymlinks(book)
	require.NoError(t, err)

	for _, name := range []string{"declared", "implicit"} {
		r := run(t, here, "apply", filepath.Join("..", "book", name+".hcl"), "-auto-approve")
		require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		b, err := os.ReadFile(filepath.Join(book, "ran-"+name+".txt"))
		require.NoError(t, err, name)
		assert.Equal(t, want+"\n", string(b), name)
		assert.NoFileExists(t, filepath.Join(here, "ran-"+name+".txt"))
	}
}

const s3DownloadRunbook = `runbook "restore" {
  description = "Download a dump next to the runbook"
  window      = "10m"
}

provider "aws" "main" { region = "eu-west-1" }

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
  file     = "%s"
}
`

// TestSandboxWritesNoLocalFile: `apply --sandbox` of s3_download steps,
// started from another directory, neither overwrites the operator's file
// at the destination nor creates one; only Handrail's own state
// (.handrail beside the runbook) changes.
func TestSandboxWritesNoLocalFile(t *testing.T) {
	tmp := t.TempDir()
	book, here := filepath.Join(tmp, "book"), filepath.Join(tmp, "here")
	require.NoError(t, os.MkdirAll(filepath.Join(book, "restore"), 0o755))
	require.NoError(t, os.MkdirAll(here, 0o755))
	writeFile(t, filepath.Join(book, "restore"), "dump.sql", "the operator's own file")
	fresh := filepath.Join(tmp, "fresh", "dump.sql") // absolute
	writeFile(t, book, "release.hcl", fmt.Sprintf(s3DownloadRunbook, fresh))
	writeFile(t, book, "release.test.hcl", `world {
  s3_bucket {
    name = "backups"
  }
  s3_object {
    bucket  = "backups"
    key     = "db/dump.sql"
    content = "the fake dump"
  }
}
`)
	snapshot := func() map[string]string {
		tree := map[string]string{}
		require.NoError(t, filepath.WalkDir(tmp, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == ".handrail" {
				return filepath.SkipDir
			}
			if !d.IsDir() {
				b, err := os.ReadFile(p)
				tree[p] = string(b)
				return err
			}
			tree[p] = "(dir)"
			return nil
		}))
		return tree
	}
	before := snapshot()

	r := run(t, here, "apply", "--sandbox", filepath.Join("..", "book", "release.hcl"), "-json")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	// The downloads ran (against the fake S3) and wrote where the
	// runbook says, as far as the rehearsal's own disk is concerned.
	assert.Contains(t, r.stdout, fmt.Sprintf(`"sha256":"%x"`, sha256.Sum256([]byte("the fake dump"))))
	assert.Contains(t, r.stdout, fmt.Sprintf(`"file":%q`, filepath.Join(book, "restore", "dump.sql")))
	assert.Equal(t, before, snapshot(), "the rehearsal changed files outside .handrail")
	assert.NoDirExists(t, filepath.Dir(fresh))
}
