package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hintRE finds the commands the CLI prints for the operator to paste.
var hintRE = regexp.MustCompile(`(?m)handrail (resume|rollback|report|show|apply|unlock) [^\n']*('[^'\n]*'[^\n']*)*`)

// hints returns every command printed in out, by verb.
func hints(out string) map[string]string {
	m := map[string]string{}
	for _, h := range hintRE.FindAllString(out, -1) {
		h = strings.TrimSpace(h)
		if i := strings.Index(h, "   #"); i > 0 {
			h = h[:i]
		}
		verb := strings.Fields(h)[1]
		if _, ok := m[verb]; !ok {
			m[verb] = h
		}
	}
	return m
}

// paste runs a printed command in a POSIX shell, from dir, with the test's
// binary as `handrail`: exactly what an operator pasting it would run.
func paste(t *testing.T, dir, command string, env ...string) result {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1", "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH")), env...)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	return result{code: code, stdout: so.String(), stderr: se.String()}
}

// copyExample copies an example folder (without state) into dir.
func copyExample(t *testing.T, name, dir string) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", name)
	dst := filepath.Join(dir, name)
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
	_ = os.RemoveAll(filepath.Join(dst, ".handrail"))
	return dst
}

// TestRehearsalHintsRunAsPrinted: a rehearsal halted past its point of no
// return, and one that crashed, print resume / rollback / report commands;
// each works as printed from another directory, against the same fake
// world (a rollback against a fresh world could not restore the previous
// containers and would end rollback_incomplete).
func TestRehearsalHintsRunAsPrinted(t *testing.T) {
	tmp := t.TempDir()
	ex := copyExample(t, "release-2", tmp)
	here, elsewhere := filepath.Join(tmp, "here"), filepath.Join(tmp, "elsewhere")
	require.NoError(t, os.MkdirAll(here, 0o755))
	require.NoError(t, os.MkdirAll(elsewhere, 0o755))
	rb := filepath.Join("..", "release-2", "release-2.hcl")

	// Halted after the point of no return.
	r := run(t, here, "apply", "--sandbox", rb, "--fail", "gate.monitor")
	require.Equal(t, 3, r.code, r.stderr)
	assert.Contains(t, r.stderr, "HALTED")
	h := hints(r.stderr)
	require.Contains(t, h, "rollback", r.stderr)
	require.Contains(t, h, "report", r.stderr)
	promised := regexp.MustCompile(`these compensations run in this order: (.*)`).FindStringSubmatch(r.stderr)
	require.Len(t, promised, 2)

	id := strings.Fields(h["rollback"])[2]
	// show agrees with apply on the order, from anywhere, by a prefix.
	s := run(t, elsewhere, "show", id[:len(id)-3])
	require.Equal(t, 0, s.code, s.stderr)
	assert.Contains(t, s.stdout, "left to undo, in order: "+promised[1])
	// resume: nothing to resume, exit 0, with the rollback command.
	s = run(t, elsewhere, "resume", id)
	assert.Equal(t, 0, s.code, s.stderr)
	assert.Contains(t, s.stdout, "Nothing to resume")

	rep := paste(t, elsewhere, h["report"])
	require.Equal(t, 0, rep.code, rep.stderr)
	page, err := os.ReadFile(filepath.Join(elsewhere, id+".html"))
	require.NoError(t, err)
	assert.Contains(t, string(page), "REHEARSAL", "the report of a sandbox run says so in its banner")

	rbk := paste(t, elsewhere, h["rollback"])
	require.Equal(t, 2, rbk.code, rbk.stderr)
	assert.Contains(t, rbk.stderr, "rolled back as requested (handrail rollback): compensated in this order: "+promised[1]+".")

	// Crashed mid-ramp: resume as printed, then the success's rollback hint.
	r = run(t, here, "apply", "--sandbox", rb, "--crash-after", "traffic[50]")
	require.Equal(t, 3, r.code, r.stderr)
	h = hints(r.stderr)
	require.Contains(t, h, "resume", r.stderr)
	// The world's state is kept with the run; a world that does not
	// rebuild to it is refused, not continued.
	id = strings.Fields(h["resume"])[2]
	wf := filepath.Join(ex, ".handrail", "sandbox", "worlds", id+".json")
	saved, err := os.ReadFile(wf)
	require.NoError(t, err)
	require.Contains(t, string(saved), `dcmms-green/2453ed029918f21f": 50`)
	require.NoError(t, os.WriteFile(wf, []byte(strings.Replace(string(saved), `dcmms-green/2453ed029918f21f": 50`, `dcmms-green/2453ed029918f21f": 49`, 1)), 0o600))
	bad := paste(t, elsewhere, h["resume"])
	require.Equal(t, 1, bad.code, bad.stderr)
	assert.Contains(t, bad.stderr, "its fake world cannot be rebuilt")
	require.NoError(t, os.WriteFile(wf, saved, 0o600))
	res := paste(t, elsewhere, h["resume"])
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "succeeded. It can still be rolled back later")
	assert.NotContains(t, res.stderr, "left to undo")
	assert.Contains(t, res.stdout, "schema_version = 17", "outputs are results: stdout")
	h = hints(res.stderr)
	require.Contains(t, h, "rollback", res.stderr)
	rbk = paste(t, elsewhere, h["rollback"])
	require.Equal(t, 2, rbk.code, rbk.stderr)
	assert.Contains(t, rbk.stderr, "rolled back as requested")
	assert.Contains(t, rbk.stderr, "deploy_backend, migrate, maintenance_page")
	assert.NotContains(t, rbk.stderr, "INCOMPLETE")

	// runs lists every rehearsal from anywhere, as JSON too.
	s = run(t, elsewhere, "runs", "-json")
	require.Equal(t, 0, s.code, s.stderr)
	var doc struct {
		FormatVersion string `json:"format_version"`
		Runs          []struct {
			ID      string `json:"id"`
			State   string `json:"state"`
			Sandbox bool   `json:"sandbox"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal([]byte(s.stdout), &doc))
	assert.Equal(t, "1", doc.FormatVersion)
	require.Len(t, doc.Runs, 2)
	for _, run := range doc.Runs {
		assert.Equal(t, "rolled_back", run.State)
		assert.True(t, run.Sandbox)
	}
	// A prefix shared by both runs is refused, naming them.
	s = run(t, elsewhere, "show", "2")
	assert.Equal(t, 1, s.code)
	assert.Contains(t, s.stderr, "ambiguous run id")
}

// hintRunbook makes a file and removes it when rolled back, behind an
// approval.
const hintRunbook = `runbook "hints" {
  description = "Hints e2e"
  window      = "10m"
}

provider "exec" "local" {}

step "local_exec" "make" {
  provider         = exec.local
  command          = ["touch", "made"]
  rollback_command = ["rm", "made"]
  dir              = "%s"
}

gate "approval" "go" {
  message = "Go?"
  timeout = "1m"
}
`

// TestRealRunHintsRunAsPrinted: the apply that cannot ask prints the
// command with -auto-approve; a succeeded run prints how to roll it back;
// both work as printed from another directory. With no per-user index
// (an unwritable state home) the hints carry -state-dir.
func TestRealRunHintsRunAsPrinted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      []string
		stateDir bool
	}{
		{"indexed", nil, false},
		{"no index", []string{"XDG_STATE_HOME=/dev/null/nowhere"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			work, elsewhere := filepath.Join(tmp, "work"), filepath.Join(tmp, "elsewhere")
			require.NoError(t, os.MkdirAll(work, 0o755))
			require.NoError(t, os.MkdirAll(elsewhere, 0o755))
			rb := writeFile(t, work, "hints.hcl", strings.Replace(hintRunbook, "%s", work, 1))

			r := paste(t, work, "handrail apply hints.hcl", tc.env...)
			require.Equal(t, 1, r.code, r.stderr)
			_, err := os.Stat(filepath.Join(work, ".handrail"))
			assert.True(t, os.IsNotExist(err), "preflight writes nothing")
			h := hints(r.stderr)
			require.Contains(t, h, "apply", r.stderr)
			assert.Contains(t, h["apply"], rb)
			assert.Contains(t, h["apply"], "-auto-approve")

			r = paste(t, elsewhere, h["apply"], tc.env...)
			require.Equal(t, 0, r.code, r.stderr)
			assert.FileExists(t, filepath.Join(work, "made"))
			assert.Contains(t, r.stderr, "succeeded. It can still be rolled back later (compensations in this order: make)")
			h = hints(r.stderr)
			require.Contains(t, h, "rollback", r.stderr)
			assert.Equal(t, tc.stateDir, strings.Contains(h["rollback"], "-state-dir"), h["rollback"])

			r = paste(t, elsewhere, h["rollback"], tc.env...)
			require.Equal(t, 2, r.code, r.stderr)
			assert.Contains(t, r.stderr, "rolled back as requested (handrail rollback): compensated in this order: make.")
			assert.NoFileExists(t, filepath.Join(work, "made"))
		})
	}
}
