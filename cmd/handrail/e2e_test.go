package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/handrail-dev/handrail/internal/testenv"
)

// bin is the handrail binary built once for the end-to-end tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "handrail-e2e-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "handrail")
	// The per-user index of state directories lives in the test's own
	// folder: every binary the tests run inherits it.
	if err := os.Setenv("XDG_STATE_HOME", filepath.Join(dir, "xdg")); err != nil {
		panic(err)
	}
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	// No goroutine started by the tests may outlive them.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs the binary in dir with args, no terminal, NO_COLOR set.
func run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running handrail %v: %v", args, err)
	}
	return result{code: code, stdout: so.String(), stderr: se.String()}
}

const approvalRunbook = `runbook "cli-demo" {
  description = "An approval-only runbook for CLI tests"
  window      = "1h"
}

variable "token" {
  type      = string
  sensitive = true
  default   = "tok-8c1f0d2e-very-secret"
}

gate "approval" "go_no_go" {
  message = "Ship it?"
  timeout = "5m"
}

output "token_length" {
  value = nonsensitive(strlen(var.token)) > 0
}

output "token" {
  value     = var.token
  sensitive = true
}
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestVersionAndUsage(t *testing.T) {
	r := run(t, t.TempDir(), "version")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "handrail ")
	r = run(t, t.TempDir())
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "Usage: handrail")
	r = run(t, t.TempDir(), "frobnicate")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `unknown command "frobnicate"`)
}

func TestValidateInvalidFixtures(t *testing.T) {
	fixtures, err := filepath.Glob("../../testdata/hcl/invalid/*.hcl")
	require.NoError(t, err)
	require.NotEmpty(t, fixtures)
	for _, f := range fixtures[:8] {
		r := run(t, t.TempDir(), "validate", f)
		assert.Equal(t, 1, r.code, "%s: %s", f, r.stderr)
		assert.Contains(t, r.stderr, filepath.Base(f), "diagnostics name the file")
		assert.NotContains(t, r.stderr, "goroutine", "no stack traces for user errors")
	}
}

func TestApprovalRunbookLifecycle(t *testing.T) {
	dir := t.TempDir()
	rbPath := writeFile(t, dir, "demo.hcl", approvalRunbook)
	state := filepath.Join(dir, "state")

	r := run(t, dir, "validate", rbPath)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "valid")

	r = run(t, dir, "plan", rbPath)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "go_no_go")
	assert.Contains(t, r.stdout, "Planned budget")
	assert.NotContains(t, r.stdout+r.stderr, "very-secret")

	r = run(t, dir, "plan", rbPath, "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	assert.Equal(t, "cli-demo", doc["runbook"])
	assert.NotContains(t, r.stdout, "very-secret")

	// No terminal and no -auto-approve: the approval cannot be answered,
	// and that is found before anything is locked or written.
	r = run(t, dir, "apply", rbPath, "-state-dir", state)
	assert.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "approval gates go_no_go need an answer")
	assert.Contains(t, r.stderr, "-auto-approve")
	assert.NotContains(t, r.stdout+r.stderr, "very-secret")
	_, err := os.Stat(state)
	assert.True(t, os.IsNotExist(err), "nothing written: %v", err)

	r = run(t, dir, "apply", rbPath, "-auto-approve", "-state-dir", state, "-json")
	require.Equal(t, 0, r.code, r.stderr)
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var ev map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), "line %q", sc.Text())
		require.NotEmpty(t, ev["type"])
		lines++
	}
	assert.GreaterOrEqual(t, lines, 4)
	assert.NotContains(t, r.stdout+r.stderr, "very-secret")

	r = run(t, dir, "runs", "-state-dir", state)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "cli-demo")
	assert.Contains(t, r.stdout, "succeeded")

	r = run(t, dir, "runs", "-state-dir", state, "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var doc2 struct {
		FormatVersion string           `json:"format_version"`
		Runs          []map[string]any `json:"runs"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc2))
	assert.Equal(t, "1", doc2.FormatVersion)
	require.Len(t, doc2.Runs, 1, "the apply refused by preflight left no run")
	id := doc2.Runs[0]["id"].(string)

	r = run(t, dir, "show", id, "-state-dir", state)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "go_no_go")

	report := filepath.Join(dir, "report.html")
	var html []byte
	r = run(t, dir, "report", id, "-state-dir", state, "-o", report)
	require.Equal(t, 0, r.code, r.stderr)
	html, err = os.ReadFile(report)
	require.NoError(t, err)
	assert.Contains(t, string(html), "<svg")
	assert.NotContains(t, string(html), "very-secret")
	assert.NotContains(t, string(html), "<script")

	r = run(t, dir, "show", "nope", "-state-dir", state)
	assert.Equal(t, 1, r.code)
}

func TestGraph(t *testing.T) {
	dir := t.TempDir()
	rbPath := writeFile(t, dir, "demo.hcl", approvalRunbook)
	r := run(t, dir, "graph", rbPath)
	require.Equal(t, 0, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "digraph "))
	dot := testenv.DotBin(t)
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin = strings.NewReader(r.stdout)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "dot rejected the graph: %s", out)
	assert.Contains(t, string(out), "<svg")

	r = run(t, dir, "graph", rbPath, "-format", "mermaid")
	require.Equal(t, 0, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "flowchart TD"))

	r = run(t, dir, "graph", rbPath, "-format", "png")
	assert.Equal(t, 1, r.code)
}

func TestFmt(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "ugly.hcl", "runbook \"x\" {\nwindow=\"1h\"\n   description =   \"d\"\n}\n")
	r := run(t, dir, "fmt", "-check", p)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "ugly.hcl")
	r = run(t, dir, "fmt", p)
	require.Equal(t, 0, r.code, r.stderr)
	r = run(t, dir, "fmt", "-check", p)
	assert.Equal(t, 0, r.code, r.stdout)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Contains(t, string(b), "  window      = \"1h\"")
}
