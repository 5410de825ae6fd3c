package main_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTerminalOverBudget: a step that runs past its budget shows ⚠ on the
// status line while it runs, on its event line when it ends (not a green
// ✔), and in the run's final summary.
func TestTerminalOverBudget(t *testing.T) {
	svc := newService(t)
	dir := t.TempDir()
	rb := writeFile(t, dir, "slow.hcl", fmt.Sprintf(`runbook "slow" {
  window = "1h"
}

provider "http" "svc" {
  base_url = %q
}

step "http_check" "fast" {
  provider = http.svc
  url      = "/fast/health"
  budget   = "1m"
}

step "http_check" "slow" {
  provider   = http.svc
  url        = "/slow/health"
  budget     = "500ms"
  depends_on = [step.fast]
}
`, svc.URL))
	p := startPTY(t, dir, 100, termEnv(), "apply", rb, "-state-dir", filepath.Join(dir, "state"))
	code, out := p.wait(t)
	require.Equal(t, 0, code, out)
	plain := ansiColor.ReplaceAllString(out, "")
	assert.Regexp(t, `⏳ ⚠ slow [1-9]s/500ms`, plain, "the status line marks the step over budget while it runs")
	assert.NotRegexp(t, `⏳ ⚠ fast`, plain)
	assert.Regexp(t, `⚠ slow in 2\.\ds / 500ms: over budget`, plain)
	assert.NotContains(t, plain, "✔ slow", "over budget is not a green tick")
	assert.Regexp(t, `✔ fast in \S+ \(budget 1m0s\)`, plain)
	shown := strings.Join(screen(out, 100), "\n")
	assert.Regexp(t, `run \S+ succeeded after \S+\n  ⚠ over budget \(1\): slow 2\.\ds / 500ms`, shown, "the final summary")
}

// TestTerminalMultiLineValue: a check whose value is a multi-line HTTP
// body shows it on one line of the status line, cut to the terminal's
// width, in a rehearsal whose world answers that body.
func TestTerminalMultiLineValue(t *testing.T) {
	const cols = 70
	dir := t.TempDir()
	rb := writeFile(t, dir, "body.hcl", `runbook "body" {
  window = "1h"
}

provider "http" "api" {
  base_url = "https://api.example.com"
}

gate "soak" "watch" {
  duration = "3m"
  every    = "30s"
  budget   = "5m"
  check "status" {
    provider  = http.api
    probe     = "http_check"
    url       = "/status"
    condition = self.ok
  }
}
`)
	body := "status: healthy\nchecks:\n    database: up\n    queue:    up\n    cache:    warming up slowly after the restart of the primary node\n"
	writeFile(t, dir, "body.test.hcl", fmt.Sprintf(`world {
  http {
    path = "/status"
    body = %q
  }
}
`, body))
	p := startPTY(t, dir, cols, termEnv(), "apply", "--sandbox", rb)
	code, out := p.wait(t)
	require.Equal(t, 0, code, out)
	plain := ansiColor.ReplaceAllString(out, "")
	var status []string
	for _, seg := range strings.Split(plain, "\r\x1b[K") {
		s := seg[strings.LastIndex(seg, "\n")+1:]
		if strings.HasPrefix(s, "⏳") && strings.Contains(s, " last ") {
			status = append(status, s)
		}
	}
	require.NotEmpty(t, status, "the status line shows the latest sample:\n%s", plain)
	for _, s := range status {
		w := 0
		for _, r := range s {
			w += runeWidth(r)
		}
		assert.Less(t, w, cols, "cut to the terminal's width: %q", s)
		assert.True(t, strings.HasSuffix(s, "…"), "cut, and marked as cut: %q", s)
		assert.Contains(t, s, `last status=status: healthy checks:`, "the body on one line, its white space folded")
	}
	for i, l := range screen(out, cols) {
		assert.NotContains(t, l, "⏳", "line %d: a status line was left on the screen", i+1)
		assert.NotRegexp(t, `^\s*(checks|database|queue):`, l, "line %d: the body's lines flooded the screen", i+1)
	}
}

// TestInjectedBreachWording: --fail gate.x breaches the gate's first
// deciding check, says it was injected and on which check, shows no
// measured value as the failing one, and never picks a dry_run check; a
// gate whose every check is dry_run cannot be made to breach.
func TestInjectedBreachWording(t *testing.T) {
	dir := t.TempDir()
	rb := writeFile(t, dir, "inj.hcl", `runbook "inj" {
  window = "1h"
}

provider "http" "api" {
  base_url = "https://api.example.com"
}

provider "manual" "team" {}

step "manual_task" "prepare" {
  message = "Prepare"
}

gate "check" "health" {
  depends_on = [step.prepare]
  check "shadow" {
    provider  = http.api
    probe     = "http_check"
    url       = "/shadow"
    condition = self.ok
    dry_run   = true
  }
  check "live" {
    provider  = http.api
    probe     = "http_check"
    url       = "/live"
    condition = self.ok
  }
}

gate "check" "only_shadow" {
  depends_on = [gate.health]
  check "shadow" {
    provider  = http.api
    probe     = "http_check"
    url       = "/shadow"
    condition = self.ok
    dry_run   = true
  }
}
`)
	writeFile(t, dir, "inj.test.hcl", `world {
  http {
    path = "/live"
    body = "fine"
  }
  http {
    path = "/shadow"
    body = "fine"
  }
}
`)
	r := run(t, t.TempDir(), "apply", "--sandbox", rb, "--fail", "gate.health", "-verbose")
	require.Equal(t, 2, r.code, r.stderr)
	assert.Contains(t, r.stderr, "Injected failures: gate.health")
	assert.Regexp(t, `× health/live #1 = \(injected\) → fail`, r.stderr, "the deciding check breaches, with no measured value")
	assert.Contains(t, r.stderr, "breach of check live injected by --fail health (not measured)")
	assert.NotRegexp(t, `health/shadow [^\n]*→ fail`, r.stderr, "the dry_run check is never the one that breaches")
	assert.NotRegexp(t, `= fine[^\n]*→ fail`, r.stderr, "no passing value is labelled fail")

	r = run(t, t.TempDir(), "apply", "--sandbox", rb, "--fail", "gate.only_shadow")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "every check of that gate is dry_run")
	assert.Regexp(t, regexp.MustCompile(`name another gate`), r.stderr)
}
