package explain_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/gates"
	"github.com/handrail-dev/handrail/gates/explain"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

var t0 = time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)

// record runs a one-gate plan whose probe answers values[minute] and
// returns the gate's recorded decision and samples, as the journal has them.
func record(t *testing.T, check runbook.Check, values ...float64) (runbook.GateDecision, []runbook.SampleRecord) {
	t.Helper()
	check.Probe = runbook.ProbeFunc(func(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
		m := int(env.Clock().Now().Sub(t0) / time.Minute)
		return runbook.Sample{Value: values[min(m, len(values)-1)]}, nil
	})
	b := runbook.NewBuilder("eval")
	b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Duration: time.Duration(len(values)-1) * time.Minute, Every: time.Minute, Checks: []runbook.Check{check}})
	plan, err := b.Build()
	require.NoError(t, err)
	j := &runbook.MemJournal{}
	ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}
	_, _ = ex.Run(context.Background(), plan, runbook.RunOptions{RunID: "r"})
	recs, err := j.Load(context.Background(), "r")
	require.NoError(t, err)
	var dec *runbook.GateDecision
	var samples []runbook.SampleRecord
	for _, r := range recs {
		switch r.Kind {
		case runbook.RecGateDecided:
			dec = r.Gate
		case runbook.RecGateSample:
			samples = append(samples, *r.Sample)
		}
	}
	require.NotNil(t, dec)
	return *dec, samples
}

func ptr[T any](v T) *T { return &v }

func TestReevaluate(t *testing.T) {
	series := []float64{0.002, 0.004, 0.007, 0.012, 0.013, 0.003, 0.004, 0.006, 0.003, 0.002, 0.002}
	// As recorded: threshold 1%, tolerate 2 in a row: the two breaches at
	// minutes 3 and 4 are tolerated and the soak passes.
	dec, samples := record(t, runbook.Check{Name: "error_rate", Success: gates.Below(0.01), Threshold: "< 0.01", Tolerate: 2}, series...)
	require.Equal(t, engine.OutcomePassed, dec.Outcome)
	require.Len(t, samples, 11)

	same, err := explain.Reevaluate(dec, samples, nil)
	require.NoError(t, err)
	assert.Equal(t, engine.OutcomePassed, same.Outcome)
	assert.False(t, same.Differs, "replaying unchanged reproduces the decision")

	// Without the tolerance the first breach (minute 3) fails the soak.
	strict, err := explain.Reevaluate(dec, samples, map[string]explain.Override{"error_rate": {Tolerate: ptr(0)}})
	require.NoError(t, err)
	assert.Equal(t, engine.OutcomeFailed, strict.Outcome)
	assert.True(t, strict.Differs)
	assert.Equal(t, "error_rate", strict.Decider)
	assert.Equal(t, 4, strict.Checks[0].Seq)
	assert.Equal(t, t0.Add(3*time.Minute), strict.At)
	assert.Equal(t, "1 breaches in all > failure_limit 0 and 1 in a row > tolerate 0", strict.Checks[0].Explanation)

	// A tighter condition (0.5 %) breaches at minutes 2, 3, 4: three in a
	// row exceed tolerate 2 at minute 4.
	tight, err := explain.Reevaluate(dec, samples, map[string]explain.Override{"*": {Success: gates.Below(0.005), Threshold: "< 0.005"}})
	require.NoError(t, err)
	assert.Equal(t, engine.OutcomeFailed, tight.Outcome)
	assert.Equal(t, 5, tight.Checks[0].Seq)
	assert.Equal(t, 1, tight.Checks[0].Changed, "up to the decision only minute 2 changes verdict (3 and 4 were breaches already)")
	assert.Equal(t, "< 0.005", tight.Checks[0].Threshold)

	_, err = explain.Reevaluate(dec, samples, map[string]explain.Override{"latency": {Tolerate: ptr(1)}})
	assert.ErrorContains(t, err, `no check "latency"`)
}

// TestReevaluateStoppedEarly: a soak that failed at its first breach has
// no samples beyond it; looser limits cannot say what would have come
// next, so the answer is undecided, not passed.
func TestReevaluateStoppedEarly(t *testing.T) {
	dec, samples := record(t, runbook.Check{Name: "p95", Success: gates.Below(0.2), Threshold: "< 0.2"}, 0.1, 0.1, 0.3, 0.1, 0.1)
	require.Equal(t, engine.OutcomeFailed, dec.Outcome)
	require.Len(t, samples, 3)
	loose, err := explain.Reevaluate(dec, samples, map[string]explain.Override{"p95": {FailureLimit: ptr(1)}})
	require.NoError(t, err)
	assert.Equal(t, explain.Undecided, loose.Outcome)
	assert.True(t, loose.Differs)
	assert.Contains(t, loose.Checks[0].Explanation, "no decision within the 3 recorded samples")
}
