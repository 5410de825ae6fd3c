package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const soakRunbook = `runbook "gate-demo" {
  window = "1h"
}

provider "prometheus" "main" {
  url = "http://127.0.0.1:9090"
}

gate "soak" "watch" {
  duration = "10m"
  every    = "1m"
  check "error_rate" {
    probe         = "prometheus_query"
    query         = "sum(rate(errors_total[5m]))"
    condition     = self.value < 0.01
    tolerate      = 1
    error_message = "error rate is above 1%"
  }
}
`

// The error rate is 0.2 % and reaches 2 % from minute 4 of the soak: with
// tolerate = 1 the second breach in a row (minute 5) fails the gate.
const soakWorld = `world {
  prometheus {
    query = "sum(rate(errors_total[5m]))"
    value = 0.002
    at {
      node  = "watch"
      after = "4m"
      value = 0.02
    }
  }
}
`

func TestShowGateAndGateEval(t *testing.T) {
	dir := t.TempDir()
	rb := writeFile(t, dir, "gate-demo.hcl", soakRunbook)
	writeFile(t, dir, "gate-demo.test.hcl", soakWorld)
	state := filepath.Join(dir, "state")
	r := run(t, dir, "apply", "--sandbox", rb, "-state-dir", state)
	require.Equal(t, 2, r.code, r.stdout+r.stderr)
	id := regexp.MustCompile(`\d{8}T\d{6}Z-[0-9a-f]+`).FindString(r.stdout + r.stderr)
	require.NotEmpty(t, id, r.stdout+r.stderr)
	other := t.TempDir()

	r = run(t, other, "show", id, "-gate", "watch", "-state-dir", state)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Gate watch (soak for 10m0s): failed")
	assert.Contains(t, r.stdout, "decided by check error_rate")
	assert.Contains(t, r.stdout, "query:     sum(rate(errors_total[5m]))")
	assert.Contains(t, r.stdout, "threshold: self.value < 0.01")
	assert.Contains(t, r.stdout, "failure_limit 0, tolerate 1")
	assert.Contains(t, r.stdout, "2 breaches in all > failure_limit 0 and 2 in a row > tolerate 1")
	assert.Contains(t, r.stdout, "6 samples: 4 pass, 2 breach")

	r = run(t, other, "show", id, "-gate", "watch", "-state-dir", state, "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var doc struct {
		FormatVersion string `json:"format_version"`
		Decision      struct {
			Outcome string `json:"outcome"`
			Checks  []struct {
				Rule  string `json:"rule"`
				Tally struct {
					Breaches int `json:"breaches"`
				} `json:"tally"`
			} `json:"checks"`
		} `json:"decision"`
		Samples []map[string]any `json:"samples"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), r.stdout)
	assert.Equal(t, "failed", doc.Decision.Outcome)
	assert.Equal(t, "failure_limit", doc.Decision.Checks[0].Rule)
	assert.Equal(t, 2, doc.Decision.Checks[0].Tally.Breaches)
	assert.Len(t, doc.Samples, 6)

	// Would a 5 % threshold have let it through? Not within the recorded
	// samples: the run stopped at minute 5, so the answer is undecided.
	r = run(t, other, "gate", "eval", id, "watch", "-set", "error_rate.condition=self.value < 0.05", "-state-dir", state)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "recorded failed (by error_rate); re-evaluated undecided: the decision would differ")
	assert.Contains(t, r.stdout, "2 verdict(s) changed")

	// Without tolerance the first breach (minute 4) decides.
	r = run(t, other, "gate", "eval", id, "watch", "-set", "tolerate=0", "-state-dir", state)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "re-evaluated failed (by error_rate")
	assert.Contains(t, r.stdout, "failed at sample 5")

	r = run(t, other, "gate", "eval", id, "watch", "-set", "error_rate.condition=self.value < var.limit", "-state-dir", state)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "var is not available")

	// The report shows the decision next to the chart.
	page := filepath.Join(other, "report.html")
	r = run(t, other, "report", id, "-state-dir", state, "-o", page)
	require.Equal(t, 0, r.code, r.stderr)
	html, err := os.ReadFile(page)
	require.NoError(t, err)
	assert.Contains(t, string(html), "decided the gate: failed (failure_limit): 2 breaches in all &gt; failure_limit 0 and 2 in a row &gt; tolerate 1")

	r = run(t, other, "gate", "eval", id, "nope", "-state-dir", state)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "gates that decided: watch")
}
