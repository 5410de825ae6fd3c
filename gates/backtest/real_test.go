package backtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/gates"
	"github.com/handrail-dev/handrail/gates/backtest"
	"github.com/handrail-dev/handrail/internal/promhistory"
	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// TestBacktestRealPrometheus slides a 15-minute soak (1 % threshold, every
// minute) over two days of backfilled history, one window an hour, and
// checks the rates that follow from how the history was made: 48 windows,
// 5 bad (hours 10, 11, 12, 30 and 40) of which one is missed (hour 40,
// under the threshold), 43 good of which one is aborted (hour 20's blip).
func TestBacktestRealPrometheus(t *testing.T) {
	from := time.Now().UTC().Add(-49 * time.Hour).Truncate(time.Hour)
	url := promhistory.Start(t, promhistory.ErrorRatio(from))
	inst, err := (&prometheus.Provider{}).NewInstance("history", prometheus.Config{URL: url})
	require.NoError(t, err)
	q, err := prometheus.NewQuery(inst, `max(http_request_errors_ratio{job="api"})`)
	require.NoError(t, err)
	gate := runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: time.Minute,
		Checks: []runbook.Check{{Name: "error_rate", Probe: q, Success: gates.Below(0.01), Threshold: "< 0.01"}}}
	h := func(n int) time.Time { return from.Add(time.Duration(n) * time.Hour) }
	rep, err := backtest.Run(context.Background(), backtest.Config{
		Gate: gate, From: from, To: h(47).Add(15 * time.Minute), Step: time.Hour,
		Good: []backtest.Range{{From: h(0), To: h(10)}, {From: h(13), To: h(30)}, {From: h(31), To: h(40)}, {From: h(41), To: h(48)}},
		Bad:  []backtest.Range{{From: h(10), To: h(13)}, {From: h(30), To: h(31)}, {From: h(40), To: h(41)}},
	})
	require.NoError(t, err)
	require.Len(t, rep.Windows, 48)
	assert.Equal(t, 5, rep.BadWindows)
	assert.Equal(t, 43, rep.GoodWindows)
	assert.Equal(t, 1, rep.MissedRegressions)
	assert.Equal(t, 1, rep.FalseAborts)
	assert.InDelta(t, 1.0/5, rep.MissedRegressionRate, 1e-12)
	assert.InDelta(t, 1.0/43, rep.FalseAbortRate, 1e-12)
	assert.Equal(t, map[engine.Outcome]int{engine.OutcomePassed: 43, engine.OutcomeFailed: 5}, rep.Totals)
	for _, w := range rep.Windows {
		hour := int(w.Start.Sub(from) / time.Hour)
		switch hour {
		case 10, 11, 12, 30:
			assert.Equal(t, engine.OutcomeFailed, w.Outcome, "hour %d", hour)
			assert.Equal(t, w.Start, w.StoppedAt, "hour %d: stopped at the first sample", hour)
		case 20:
			assert.Equal(t, engine.OutcomeFailed, w.Outcome)
			assert.Equal(t, w.Start.Add(5*time.Minute), w.StoppedAt, "the blip at minute 5")
			assert.Equal(t, engine.RuleFailureLimit, w.Rule)
		default:
			assert.Equal(t, engine.OutcomePassed, w.Outcome, "hour %d", hour)
			assert.Len(t, w.Samples, 16, "hour %d: a sample a minute for 15 minutes", hour)
		}
	}
}
