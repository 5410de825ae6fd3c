package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const editRunbook = `runbook "edits" {
  description = "Fix and carry on"
  window      = "10m"
}

provider "exec" "local" {}

step "local_exec" "first" {
  provider         = exec.local
  command          = ["sh", "-c", "echo ran >> first"]
  rollback_command = ["rm", "-f", "first"]
  dir              = "%s"
}

step "local_exec" "second" {
  provider         = exec.local
  command          = ["sh", "-c", "exit 3"]
  rollback_command = ["rm", "-f", "second"]
  dir              = "%s"
  on_fail          = "abort"
}

step "local_exec" "third" {
  provider         = exec.local
  command          = ["touch", "third"]
  rollback_command = ["rm", "-f", "third"]
  dir              = "%s"
}
`

// TestResumeEditedRunbook: a step fails with a typo; the operator fixes the
// runbook and resumes the run with it, from another directory. The
// comparison is printed before anything runs; a change to a completed step
// is refused until forced with a reason; the completed step never runs
// again; show displays the run across its plan versions.
func TestResumeEditedRunbook(t *testing.T) {
	tmp := t.TempDir()
	work, elsewhere := filepath.Join(tmp, "work"), filepath.Join(tmp, "elsewhere")
	require.NoError(t, os.MkdirAll(work, 0o755))
	require.NoError(t, os.MkdirAll(elsewhere, 0o755))
	src := strings.ReplaceAll(editRunbook, "%s", work)
	rb := writeFile(t, work, "edits.hcl", src)

	r := run(t, work, "apply", "edits.hcl", "-auto-approve")
	require.Equal(t, 3, r.code, r.stderr)
	assert.Contains(t, r.stderr, "aborted")
	h := hints(r.stderr)
	require.Contains(t, h, "rollback", r.stderr)
	id := strings.Fields(h["rollback"])[2]
	ran := func() int {
		b, err := os.ReadFile(filepath.Join(work, "first"))
		require.NoError(t, err)
		return strings.Count(string(b), "ran")
	}
	require.Equal(t, 1, ran())

	// An edit of the completed step and the fix of the failed one:
	// refused, nothing runs.
	both := strings.Replace(src, `"echo ran >> first"`, `"echo ran twice >> first"`, 1)
	both = strings.Replace(both, `["sh", "-c", "exit 3"]`, `["touch", "second"]`, 1)
	writeFile(t, work, "edits.hcl", both)
	r = run(t, elsewhere, "resume", id, "-runbook", rb)
	require.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "unsafe            first: completed, and its action or arguments changed")
	assert.Contains(t, r.stderr, "re-run            second (changed): failed: runs again, with its new definition")
	assert.Contains(t, r.stderr, "-force -reason")
	assert.NoFileExists(t, filepath.Join(work, "second"))
	r = run(t, elsewhere, "resume", id, "-runbook", rb, "-force")
	require.Equal(t, 1, r.code, "forcing needs a reason: %s", r.stderr)
	assert.NoFileExists(t, filepath.Join(work, "second"))

	// Only the failed step fixed: it goes on.
	fixed := strings.Replace(src, `["sh", "-c", "exit 3"]`, `["touch", "second"]`, 1)
	writeFile(t, work, "edits.hcl", fixed)
	r = run(t, elsewhere, "resume", id, "-runbook", rb, "-reason", "typo in second")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "re-run            second (changed)")
	assert.Contains(t, r.stderr, "kept              1 node(s), unchanged")
	assert.FileExists(t, filepath.Join(work, "second"))
	assert.FileExists(t, filepath.Join(work, "third"))
	assert.Equal(t, 1, ran(), "the completed step did not run again")

	r = run(t, elsewhere, "show", id)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Plan versions:")
	assert.Contains(t, r.stdout, "typo in second")
	assert.Contains(t, r.stdout, "second re-run (changed)")

	r = run(t, elsewhere, "report", id, "-o", filepath.Join(elsewhere, "r.html"))
	require.Equal(t, 0, r.code, r.stderr)
	page, err := os.ReadFile(filepath.Join(elsewhere, "r.html"))
	require.NoError(t, err)
	assert.Contains(t, string(page), "Plan versions")
	assert.Contains(t, string(page), "typo in second")

	// Resumed again from the first step, which is not idempotent:
	// nobody can confirm here, so it is refused unless listed.
	r = run(t, elsewhere, "resume", id, "-from", "step.first")
	assert.Equal(t, 0, r.code, "a succeeded run has nothing to resume: %s", r.stderr+r.stdout)
	assert.Contains(t, r.stdout, "Nothing to resume")
}
