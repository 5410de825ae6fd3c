package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/internal/promhistory"
)

const backtestRunbook = `runbook "backtest-demo" {
  window = "1h"
}

variable "prometheus_url" {
  type    = string
  default = "http://prometheus.internal:9090"
}

provider "prometheus" "main" {
  url = var.prometheus_url
}

gate "soak" "soak" {
  duration = "15m"
  every    = "1m"
  check "error_rate" {
    probe     = "prometheus_query"
    query     = "max(http_request_errors_ratio{job=\"api\"})"
    condition = self.value < 0.01
  }
}
`

// TestGateBacktest replays a runbook's soak over two days of history in a
// real Prometheus, through the built CLI: the rates follow from how the
// history was made (see promhistory.ErrorRatio).
func TestGateBacktest(t *testing.T) {
	from := time.Now().UTC().Add(-49 * time.Hour).Truncate(time.Hour)
	url := promhistory.Start(t, promhistory.ErrorRatio(from))
	h := func(n int) string { return from.Add(time.Duration(n) * time.Hour).Format(time.RFC3339) }
	dir := t.TempDir()
	rb := writeFile(t, dir, "backtest-demo.hcl", backtestRunbook)
	page := filepath.Join(dir, "backtest.html")
	args := []string{"gate", "backtest", rb, "-gate", "soak", "-prometheus", url, "-from", h(0), "-to", from.Add(47*time.Hour + 15*time.Minute).Format(time.RFC3339),
		"-step", "1h", "-good", h(0) + ".." + h(10), "-good", h(13) + ".." + h(30), "-good", h(31) + ".." + h(40), "-good", h(41) + ".." + h(48),
		"-bad", h(10) + ".." + h(13), "-bad", h(30) + ".." + h(31), "-bad", h(40) + ".." + h(41)}
	r := run(t, t.TempDir(), append(args, "-html", page)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "48 windows of 15m0s, one every 1h0m0s")
	assert.Contains(t, r.stdout, "Totals: 43 passed, 5 failed, 0 inconclusive, 0 error")
	assert.Contains(t, r.stdout, "False aborts: 1 of 43 good windows (2.3%)")
	assert.Contains(t, r.stdout, "Missed regressions: 1 of 5 bad windows (20.0%)")
	html, err := os.ReadFile(page)
	require.NoError(t, err)
	assert.Contains(t, string(html), `<path class="series" d="M`)
	assert.Contains(t, string(html), "holds when self.value &lt; 0.01")

	r = run(t, dir, append(args, "-json")...)
	require.Equal(t, 0, r.code, r.stderr)
	var doc struct {
		FormatVersion string `json:"format_version"`
		Report        struct {
			FalseAbortRate       float64 `json:"false_abort_rate"`
			MissedRegressionRate float64 `json:"missed_regression_rate"`
			Windows              []any   `json:"windows"`
		} `json:"report"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	assert.Equal(t, "1", doc.FormatVersion)
	assert.InDelta(t, 0.2, doc.Report.MissedRegressionRate, 1e-12)
	assert.InDelta(t, 1.0/43, doc.Report.FalseAbortRate, 1e-12)
	assert.Len(t, doc.Report.Windows, 48)

	r = run(t, dir, "gate", "backtest", rb, "-gate", "nope", "-prometheus", url, "-from", "now-2h")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `no check, soak or guard gate "nope"; its gates: soak`)
}
