package runbook_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
)

// TestTally feeds verdict sequences to the counting rule alone; the
// expected decisions follow from the limits' documented meaning.
func TestTally(t *testing.T) {
	P, F, I, E, N := engine.VerdictPass, engine.VerdictFail, engine.VerdictInconclusive, engine.VerdictError, engine.VerdictNoData
	tests := []struct {
		name    string
		kind    runbook.GateKind
		check   runbook.Check
		seq     []engine.Verdict
		at      int // 1-based sample that decides; 0: none does
		outcome engine.Outcome
		rule    string
	}{
		{"first breach fails", runbook.GateSoak, runbook.Check{}, []engine.Verdict{P, P, F}, 3, engine.OutcomeFailed, engine.RuleFailureLimit},
		{"failure_limit 2: third breach", runbook.GateSoak, runbook.Check{FailureLimit: 2}, []engine.Verdict{F, P, F, P, F}, 5, engine.OutcomeFailed, engine.RuleFailureLimit},
		{"tolerate 1: needs two in a row", runbook.GateSoak, runbook.Check{Tolerate: 1}, []engine.Verdict{F, P, F, P, F, F}, 6, engine.OutcomeFailed, engine.RuleFailureLimit},
		{"both limits must be exceeded", runbook.GateSoak, runbook.Check{FailureLimit: 3, Tolerate: 1}, []engine.Verdict{F, F, P, F, F}, 5, engine.OutcomeFailed, engine.RuleFailureLimit},
		{"inconclusive_limit 1", runbook.GateSoak, runbook.Check{InconclusiveLimit: 1}, []engine.Verdict{I, P, I}, 3, engine.OutcomeInconclusive, engine.RuleInconclusiveLimit},
		{"error_limit counts in a row only", runbook.GateSoak, runbook.Check{ErrorLimit: 1}, []engine.Verdict{E, P, E, P, E, E}, 6, engine.OutcomeError, engine.RuleErrorLimit},
		{"no data decides nothing", runbook.GateSoak, runbook.Check{}, []engine.Verdict{N, N, N}, 0, "", ""},
		{"dry run never decides a soak", runbook.GateSoak, runbook.Check{DryRun: true}, []engine.Verdict{F, F, E}, 0, "", ""},
		{"check gate: first pass", runbook.GateCheck, runbook.Check{}, []engine.Verdict{engine.VerdictPending, engine.VerdictPending, P}, 3, engine.OutcomePassed, engine.RuleSuccess},
		{"check gate dry run passes at once", runbook.GateCheck, runbook.Check{DryRun: true}, []engine.Verdict{F}, 1, engine.OutcomePassed, engine.RuleDryRun},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := engine.NewTally(string(tc.kind), tc.check.Limits())
			at := 0
			var outcome engine.Outcome
			var rule string
			for i, v := range tc.seq {
				if d, o, r := tl.Add(v); d {
					at, outcome, rule = i+1, o, r
					break
				}
			}
			assert.Equal(t, tc.at, at, "deciding sample")
			assert.Equal(t, tc.outcome, outcome)
			assert.Equal(t, tc.rule, rule)
		})
	}
}

// TestGateDecisionIsJournaled: a soak that fails records why — the rule,
// the counters at the moment, the limits, the resolved query — in the
// journal and in the GateFailed event.
func TestGateDecisionIsJournaled(t *testing.T) {
	probe := runbook.ProbeFunc(func(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
		v := 0.002
		if env.Clock().Now().Sub(t0) >= 3*time.Minute {
			v = 0.06
		}
		return runbook.Sample{Value: v, Query: `sum(rate(errors[5m]))`}, nil
	})
	p := mustBuild("decide", func(b *runbook.Builder) {
		b.Gate(runbook.Gate{Name: "watch", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: time.Minute, Checks: []runbook.Check{
			{Name: "error_rate", Probe: probe, Success: below(0.01), Threshold: "< 0.01", FailureLimit: 1, Tolerate: 1},
			{Name: "p95", Probe: constProbe(0.1), Success: below(0.2), Threshold: "< 0.2"},
		}})
	})
	j := &runbook.MemJournal{}
	var failed *runbook.GateFailed
	h := runbooktest.New(t, p, runbooktest.WithJournal(j), runbooktest.WithObserver(runbook.ObserverFunc(func(e runbook.Event) {
		if f, ok := e.(runbook.GateFailed); ok {
			failed = &f
		}
	})))
	h.Run()
	h.AssertStatus(runbook.StatusRolledBack)
	recs, err := j.Load(context.Background(), h.Result.Run.ID)
	require.NoError(t, err)
	var dec *runbook.GateDecision
	for _, r := range recs {
		if r.Kind == runbook.RecGateDecided {
			dec = r.Gate
		}
	}
	require.NotNil(t, dec, "a gate_decided record")
	require.NotNil(t, failed)
	assert.Equal(t, dec, failed.Decision)
	assert.Equal(t, engine.OutcomeFailed, dec.Outcome)
	assert.Equal(t, "error_rate", dec.Decider)
	require.Len(t, dec.Checks, 2)
	er := dec.Checks[0]
	assert.Equal(t, engine.RuleFailureLimit, er.Rule)
	assert.Equal(t, "sum(rate(errors[5m]))", er.Query)
	assert.Equal(t, "< 0.01", er.Threshold)
	// Breaches at minutes 3 and 4: two in all > 1 and two in a row > 1.
	assert.Equal(t, 5, er.Tally.Samples)
	assert.Equal(t, 2, er.Tally.Breaches)
	assert.Equal(t, 2, er.Tally.Consecutive)
	assert.Equal(t, 1, er.Tally.FailureLimit)
	assert.Equal(t, time.Minute, er.Every)
	assert.Equal(t, "2 breaches in all > failure_limit 1 and 2 in a row > tolerate 1", er.Explanation)
	assert.Equal(t, engine.RuleStopped, dec.Checks[1].Rule, "the other check was stopped by the decision")
	b, err := json.Marshal(dec)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"rule":"failure_limit"`)
}
