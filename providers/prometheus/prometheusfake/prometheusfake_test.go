package prometheusfake_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/providers/prometheus/prometheusfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

const errRate = `sum(rate(http_errors_total[1m])) / sum(rate(http_requests_total[1m]))`

func instance(t *testing.T, w *prometheusfake.World) *prometheus.Instance {
	t.Helper()
	inst, err := w.Provider().Configure(context.Background(), "main", cty.ObjectVal(map[string]cty.Value{"url": cty.StringVal("http://prometheus:9090")}))
	require.NoError(t, err)
	return inst.(*prometheus.Instance)
}

// TestErrorRateClimbsDuringSoak: "error rate climbs to 6% at minute 9 of
// the 50% soak", on the simulated clock: the 10% soak passes, the 50% soak
// fails at its ninth minute, and the p95 gate compares with a baseline.
func TestErrorRateClimbsDuringSoak(t *testing.T) {
	start := time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
	clock := runbook.NewSimClock(start)
	w := prometheusfake.New()
	w.Script(errRate).Value(0.002).AfterNode("soak_50", 9*time.Minute, 0.06)
	w.Script("p95").Func(func(t time.Time) (float64, bool) { return 0.120, true })
	inst := instance(t, w)
	q, err := prometheus.NewQuery(inst, "  sum(rate(http_errors_total[1m]))  /  sum(rate(http_requests_total[1m])) ")
	require.NoError(t, err)
	base, err := prometheus.NewBaseline(inst, prometheus.BaselineConfig{Query: "p95", Window: 30 * time.Minute})
	require.NoError(t, err)
	p95, err := prometheus.NewQuery(inst, "p95")
	require.NoError(t, err)
	below := func(limit float64) runbook.Condition {
		return runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) { return v.(float64) < limit, nil })
	}
	soak := func(name string) runbook.Gate {
		return runbook.Gate{Name: name, Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: 30 * time.Second, Uses: []string{"baseline"},
			Checks: []runbook.Check{
				{Name: "error_rate", Probe: q, Success: below(0.05)},
				{Name: "p95", Probe: p95, Success: runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) {
					b, _ := env.Output("baseline")
					return v.(float64) < b["value"].(float64)*1.5, nil
				})},
			}}
	}
	b := runbook.NewBuilder("ramp")
	b.Step(runbook.Step{Name: "baseline", Action: base})
	b.Gate(soak("soak_10"))
	b.Gate(soak("soak_50"))
	b.Gate(soak("soak_100"))
	plan, err := b.Build()
	require.NoError(t, err)
	res, err := (&runbook.Executor{Clock: clock, Observer: w}).Run(context.Background(), plan, runbook.RunOptions{})
	require.Error(t, err)
	assert.ErrorIs(t, err, runbook.ErrGateFailed)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, start.Add(24*time.Minute), clock.Now(), "15 min of soak_10 + 9 min into soak_50")
	assert.Equal(t, runbook.StateSucceeded, res.Nodes["soak_10"].Status)
	assert.InDelta(t, 0.120, res.Nodes["baseline"].Outputs["value"], 1e-9)
	// The two checks sample at the same instants, in either order: the
	// breach is the error rate's last sample.
	var last runbook.SampleRecord
	for _, s := range res.Nodes["soak_50"].Samples {
		if s.Check == "error_rate" {
			last = s
		}
	}
	assert.Equal(t, 0.06, last.Value)
	assert.Equal(t, start.Add(24*time.Minute), last.Time)
	assert.Equal(t, start.Add(24*time.Minute), w.Queries()[len(w.Queries())-1].At)
}

func TestScripts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := prometheusfake.New()
	w.Script("up").Value(1).At(t0.Add(time.Minute), 0)
	w.Script("by_path").Series(prometheusfake.Labelled{Labels: map[string]string{"path": "/a"}, Value: 1}, prometheusfake.Labelled{Labels: map[string]string{"path": "/b"}, Value: 2})
	w.Script("broken").Fail("execution", "query timed out")
	inst := instance(t, w)
	sample := func(query string, at time.Time) (runbook.Sample, error) {
		q, err := prometheus.NewQuery(inst, query)
		require.NoError(t, err)
		return q.Sample(context.Background(), runbook.NewEnv(runbook.EnvConfig{Clock: runbook.NewSimClock(at)}))
	}
	s, err := sample("up", t0)
	require.NoError(t, err)
	assert.Equal(t, 1.0, s.Value)
	s, err = sample("up", t0.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 0.0, s.Value)
	s, err = sample("unscripted", t0)
	require.NoError(t, err)
	assert.True(t, s.NoData)
	_, err = sample("by_path", t0)
	assert.ErrorContains(t, err, "returned 2 series")
	_, err = sample("broken", t0)
	assert.ErrorContains(t, err, "execution: query timed out")

	// Over HTTP, with a real client, the same answers.
	srv := httptest.NewServer(w)
	defer srv.Close()
	real, err := (&prometheus.Provider{}).NewInstance("real", prometheus.Config{URL: srv.URL})
	require.NoError(t, err)
	res, err := real.QueryRange(context.Background(), "up", t0, t0.Add(2*time.Minute), 30*time.Second)
	require.NoError(t, err)
	require.Len(t, res.Series, 1)
	var vals []float64
	for _, p := range res.Series[0].Points {
		vals = append(vals, p.Value)
	}
	assert.Equal(t, []float64{1, 1, 0, 0, 0}, vals)
}
