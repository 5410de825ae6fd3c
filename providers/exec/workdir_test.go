package exec_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/exec"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
)

const workdirRunbook = `runbook "workdir" {}

provider "exec" "local" {}
provider "exec" "tools" { dir = "tools" }

step "local_exec" "default" {
  provider  = exec.local
  command   = ["./scripts/where.sh"]
  read_only = true
}

step "local_exec" "step_dir" {
  provider  = exec.local
  command   = ["../scripts/where.sh"]
  dir       = "tools"
  read_only = true
}

step "local_exec" "provider_dir" {
  provider  = exec.tools
  command   = ["../scripts/where.sh"]
  read_only = true
}

step "local_exec" "step_over_provider" {
  provider  = exec.tools
  command   = ["./scripts/where.sh"]
  dir       = "."
  read_only = true
}
`

// workdirBook writes workdirRunbook and its script (which prints its
// working directory) in a new folder, moves the test elsewhere, and
// returns the runbook's path and its folder (symlinks resolved, as pwd
// -P prints it).
func workdirBook(t *testing.T) (path, dir string) {
	t.Helper()
	root := t.TempDir()
	book := filepath.Join(root, "book")
	for _, d := range []string{filepath.Join(book, "scripts"), filepath.Join(book, "tools"), filepath.Join(root, "elsewhere")} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(book, "scripts", "where.sh"), []byte("#!/bin/sh\npwd -P\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(book, "release.hcl"), []byte(workdirRunbook), 0o644))
	t.Chdir(filepath.Join(root, "elsewhere"))
	dir, err := filepath.EvalSymlinks(book)
	require.NoError(t, err)
	return filepath.Join("..", "book", "release.hcl"), dir
}

// A runbook loaded from HCL runs local_exec, when no dir says otherwise,
// in the runbook file's directory, not in the caller's: a script named
// relative to the runbook runs from any working directory. The step's dir
// beats the provider's, and both are relative to the runbook.
func TestLocalExecRunsInRunbookDir(t *testing.T) {
	path, book := workdirBook(t)
	reg, err := provider.NewRegistry(&exec.Provider{})
	require.NoError(t, err)
	rb, diags := hcl.Load(context.Background(), path, hcl.Options{Registry: reg})
	require.False(t, diags.HasErrors(), diags.Error())
	t.Cleanup(func() { _ = rb.Close() })

	h := runbooktest.Run(t, rb.Plan())
	require.Equal(t, runbook.StatusSucceeded, h.Result.Status, "%v", h.Result.Err)
	for node, want := range map[string]string{
		"default":            book,
		"step_dir":           filepath.Join(book, "tools"),
		"provider_dir":       filepath.Join(book, "tools"),
		"step_over_provider": book,
	} {
		assert.Equal(t, want+"\n", h.Result.Nodes[node].Outputs["stdout"], node)
	}
}

// A plan built in Go has no runbook file: without a dir its commands run
// in the process's working directory.
func TestLocalExecGoPlanRunsInWorkingDir(t *testing.T) {
	_, book := workdirBook(t)
	cwd, err := os.Getwd()
	require.NoError(t, err)
	cwd, err = filepath.EvalSymlinks(cwd)
	require.NoError(t, err)
	in, err := exec.New("local", exec.Config{})
	require.NoError(t, err)
	a, err := exec.NewRun(in, exec.RunOptions{Command: []string{"pwd", "-P"}})
	require.NoError(t, err)
	out, err := a.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	require.NoError(t, err)
	assert.Equal(t, cwd+"\n", out["stdout"])
	assert.NotEqual(t, book+"\n", out["stdout"])
}
