package main_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tinyRunbook = `runbook "tiny" {
  description = "A runbook for handrail test"
  window      = "1h"
}

provider "manual" "team" {}

step "manual_task" "ready" {
  message = "Ready?"
}

gate "approval" "go" {
  message = "Go?"
}
`

const tinyTests = `
scenario "goes" {
  expect {
    status   = "succeeded"
    executed = ["ready", "go"]
  }
}

scenario "no_go" {
  deny = ["gate.go"]
  expect {
    status = "rolled_back"
  }
}
`

func TestTestCommand(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tiny.hcl", tinyRunbook)
	writeFile(t, dir, "tiny.test.hcl", tinyTests)
	r := run(t, dir, "test")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "--- PASS: goes (")
	assert.Contains(t, r.stdout, "--- PASS: no_go (")
	assert.Contains(t, r.stdout, "ok  \ttiny.test.hcl\t")
	assert.Regexp(t, `(?m)^ok$`, r.stdout)

	r = run(t, dir, "test", "-run", "no_go", "tiny.test.hcl")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.NotContains(t, r.stdout, "goes")
}

func TestTestCommandFailures(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tiny.hcl", tinyRunbook)
	writeFile(t, dir, "tiny.test.hcl", `
scenario "wrong" {
  deny = ["gate.go"]
  expect {
    status = "succeeded"
  }
}
`)
	r := run(t, dir, "test", ".")
	require.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "--- FAIL: wrong (")
	assert.Contains(t, r.stdout, "tiny.test.hcl:5: status = rolled_back, want succeeded")
	assert.Regexp(t, `(?m)^FAIL$`, r.stdout)

	// Every failing expectation names the line it is written on.
	located := `
scenario "many" {
  deny = ["gate.go", "gate.nope"]
  expect {
    status         = "succeeded"
    executed       = ["go", "ready"]
    error_contains = "never said"
    world {
      docker_container {
        name = "api"
      }
      slack_messages = 3
    }
  }
}
`
	writeFile(t, dir, "tiny.test.hcl", located)
	r = run(t, dir, "test", ".")
	require.Equal(t, 1, r.code, r.stdout+r.stderr)
	for _, want := range []struct{ line, msg string }{
		{`deny = ["gate.go", "gate.nope"]`, `deny: "gate.nope" names no step or gate`},
	} {
		assert.Contains(t, r.stdout, fmt.Sprintf("tiny.test.hcl:%d: %s", lineOf(t, located, want.line), want.msg))
	}
	writeFile(t, dir, "tiny.test.hcl", strings.Replace(located, `, "gate.nope"`, "", 1))
	r = run(t, dir, "test", ".")
	require.Equal(t, 1, r.code, r.stdout+r.stderr)
	for _, want := range []struct{ line, msg string }{
		{`status         = "succeeded"`, "status = rolled_back, want succeeded"},
		{`executed       = ["go", "ready"]`, "executed order:"},
		{`error_contains = "never said"`, `error "`},
		{`docker_container {`, "docker container api does not exist"},
		{`slack_messages = 3`, "slack: 0 messages, want 3"},
	} {
		assert.Contains(t, r.stdout, fmt.Sprintf("tiny.test.hcl:%d: %s", lineOf(t, located, want.line), want.msg))
	}

	writeFile(t, dir, "tiny.test.hcl", `scenario "no_expect" {}`)
	r = run(t, dir, "test")
	require.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "Missing expect block")
	assert.Contains(t, r.stderr, "tiny.test.hcl:1")

	r = run(t, t.TempDir(), "test")
	require.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no test files")

	r = run(t, dir, "test", filepath.Join(dir, "tiny.hcl"))
	require.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "is not a test file")
}

// lineOf is the line (from 1) of src on which text is written.
func lineOf(t *testing.T, src, text string) int {
	t.Helper()
	i := strings.Index(src, text)
	require.GreaterOrEqual(t, i, 0, "%q is not in the source", text)
	return strings.Count(src[:i], "\n") + 1
}
