package runbook_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
)

func soak(name string, checks ...runbook.Check) runbook.Gate {
	return runbook.Gate{Name: name, Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: time.Minute, Checks: checks}
}

func TestSoakFailsAtFirstBreach(t *testing.T) {
	w := &world{}
	p := mustBuild("soak", func(b *runbook.Builder) {
		b.Step(w.step("deploy"))
		// Healthy until minute 9, then the error rate climbs to 6%.
		b.Gate(soak("watch", runbook.Check{Name: "error_rate", Probe: timedProbe(9*time.Minute, 0.001, 0.06), Success: below(0.01), Threshold: "< 0.01"}))
		b.Step(w.step("never"))
	})
	h := runbooktest.New(t, p)
	h.Run()
	h.AssertStatus(runbook.StatusRolledBack)
	h.AssertErrorIs(runbook.ErrGateFailed)
	assert.Equal(t, 9*time.Minute, h.Elapsed(), "fails at the first breach, not at the end of the soak")
	h.AssertCompensated("deploy")
	samples := h.Result.Nodes["watch"].Samples
	require.Len(t, samples, 10) // minutes 0..9
	assert.Equal(t, engine.VerdictFail, samples[9].Verdict)
	assert.Equal(t, 0.06, samples[9].Value)
	assert.Equal(t, t0.Add(9*time.Minute), samples[9].Time)
	assert.Contains(t, h.Err.Error(), "value 0.06, want < 0.01")
}

func TestSoakPassesAfterDuration(t *testing.T) {
	p := mustBuild("soak", func(b *runbook.Builder) {
		b.Gate(soak("watch", runbook.Check{Name: "p95", Probe: constProbe(120.0), Success: below(200)}))
	})
	h := runbooktest.New(t, p)
	h.Run()
	h.AssertStatus(runbook.StatusSucceeded)
	assert.Equal(t, 15*time.Minute, h.Elapsed())
	assert.Len(t, h.Result.Nodes["watch"].Samples, 16)
	assert.Equal(t, engine.OutcomePassed, engine.Outcome(h.Result.Nodes["watch"].Outputs["outcome"].(string)))
	assert.Equal(t, 120.0, h.Result.Nodes["watch"].Outputs["value"])
}

func TestCheckGate(t *testing.T) {
	tests := []struct {
		name    string
		probe   runbook.Probe
		status  runbook.Status
		elapsed time.Duration
	}{
		{"holds after a few polls", seqProbe(500.0, 500.0, 200.0), runbook.StatusSucceeded, 20 * time.Second},
		{"never holds: fails at its timeout", constProbe(500.0), runbook.StatusRolledBack, 2 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustBuild("check", func(b *runbook.Builder) {
				b.Gate(runbook.Gate{Name: "healthy", Kind: runbook.GateCheck, Timeout: 2 * time.Minute,
					Checks: []runbook.Check{{Name: "status", Probe: tc.probe, Success: below(300)}}})
			})
			h := runbooktest.New(t, p)
			h.Run()
			h.AssertStatus(tc.status)
			assert.Equal(t, tc.elapsed, h.Elapsed())
			if tc.status != runbook.StatusSucceeded {
				assert.ErrorIs(t, h.Err, runbook.ErrGateFailed)
				assert.Contains(t, h.Err.Error(), "did not hold within 2m0s")
			}
		})
	}
}

func TestApprovalGate(t *testing.T) {
	gate := func(timeout time.Duration, onTimeout bool) runbook.Gate {
		return runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval,
			Approval: &runbook.Approval{Message: "Proceed to 50%?", Approvers: []string{"alice", "bob"}, Timeout: timeout, OnTimeout: onTimeout}}
	}
	tests := []struct {
		name     string
		gate     runbook.Gate
		approver *runbooktest.Approver
		status   runbook.Status
		errIs    error
		by       string
		timedOut bool
		elapsed  time.Duration
	}{
		{"approved", gate(0, false), runbooktest.NewApprover().GrantBy("go_no_go", "alice"), runbook.StatusSucceeded, nil, "alice", false, 0},
		{"answered at once: no simulated time passes before the timeout", gate(30*time.Minute, false), runbooktest.NewApprover().GrantBy("go_no_go", "alice"), runbook.StatusSucceeded, nil, "alice", false, 0},
		{"denied", gate(0, false), runbooktest.NewApprover().Deny("go_no_go", "bob", "p95 too high"), runbook.StatusRolledBack, runbook.ErrDenied, "bob", false, 0},
		{"timeout defaults to yes", gate(30*time.Minute, true), runbooktest.NewApprover().Silence("go_no_go"), runbook.StatusSucceeded, nil, "timeout", true, 30 * time.Minute},
		{"timeout defaults to no", gate(30*time.Minute, false), runbooktest.NewApprover().Silence("go_no_go"), runbook.StatusRolledBack, runbook.ErrDenied, "timeout", true, 30 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{}
			p := mustBuild("approval", func(b *runbook.Builder) {
				b.Step(w.step("deploy"))
				b.Gate(tc.gate)
				b.Step(w.step("ramp"))
			})
			j := &runbook.MemJournal{}
			h := runbooktest.New(t, p, runbooktest.WithApprover(tc.approver), runbooktest.WithJournal(j))
			h.Run()
			h.AssertStatus(tc.status)
			if tc.errIs != nil {
				h.AssertErrorIs(tc.errIs)
				h.AssertCompensated("deploy")
			}
			assert.Equal(t, tc.elapsed, h.Elapsed())
			d := h.Result.Nodes["go_no_go"].Decision
			require.NotNil(t, d)
			assert.Equal(t, tc.by, d.By)
			assert.Equal(t, tc.timedOut, d.TimedOut)
			// The decision and who made it are in the journal and the events.
			recs, err := j.Load(context.Background(), h.Result.Run.ID)
			require.NoError(t, err)
			st, err := runbook.Replay(recs)
			require.NoError(t, err)
			require.Len(t, st.Decisions["go_no_go"], 1)
			assert.Equal(t, tc.by, st.Decisions["go_no_go"][0].By)
			assert.Contains(t, h.Recorder.Kinds("go_no_go"), "approval_decided")
			asked := tc.approver.Asked()
			require.Len(t, asked, 1)
			assert.Equal(t, "Proceed to 50%?", asked[0].Message)
			assert.Equal(t, []string{"deploy succeeded"}, asked[0].Evidence)
		})
	}
}

func TestApprovalWithoutApprover(t *testing.T) {
	p := mustBuild("noapprover", func(b *runbook.Builder) {
		b.Gate(runbook.Gate{Name: "go", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "go?"}})
	})
	res, err := (&runbook.Executor{Clock: runbook.NewSimClock(t0)}).Run(context.Background(), p, runbook.RunOptions{})
	require.Error(t, err)
	assert.ErrorIs(t, err, runbook.ErrGateFailed)
	assert.Contains(t, err.Error(), "no approver")
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
}

func TestBaselineRelativeThreshold(t *testing.T) {
	// "p95 must stay under 150% of the pre-deployment p95".
	relative := runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) {
		base, ok := env.Output("baseline")
		if !ok {
			return false, errors.New("no baseline")
		}
		return v.(float64) < base["p95"].(float64)*1.5, nil
	})
	tests := []struct {
		name   string
		p95    float64
		status runbook.Status
	}{
		{"within 150% of baseline", 140, runbook.StatusSucceeded},
		{"above 150% of baseline", 160, runbook.StatusRolledBack},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{}
			p := mustBuild("baseline", func(b *runbook.Builder) {
				b.Step(runbook.Step{Name: "baseline", Action: readOnly{runbook.Outputs{"p95": 100.0}}})
				b.Step(w.step("deploy"))
				g := soak("watch", runbook.Check{Name: "p95", Probe: constProbe(tc.p95), Success: relative, Threshold: "< 1.5 × baseline"})
				g.Uses = []string{"baseline"}
				b.Gate(g)
			})
			h := runbooktest.New(t, p)
			h.Run()
			h.AssertStatus(tc.status)
		})
	}
}

type readOnly struct{ out runbook.Outputs }

func (r readOnly) Do(context.Context, *runbook.Env) (runbook.Outputs, error) { return r.out, nil }
func (readOnly) ReadOnly() bool                                              { return true }

// TestCheckLimits covers the per-check limits, one at a time,
// on a soak of 10 samples (count) one minute apart.
func TestCheckLimits(t *testing.T) {
	probeErr := errors.New("prometheus: 503")
	tests := []struct {
		name    string
		check   runbook.Check
		status  runbook.Status
		outcome engine.Outcome
		errIs   error
		samples int // samples taken before the gate decided
	}{
		{"failure_limit 2 passes with two breaches",
			runbook.Check{Probe: seqProbe(0.5, 5.0, 0.5, 5.0, 0.5), Success: below(1), FailureLimit: 2},
			runbook.StatusSucceeded, engine.OutcomePassed, nil, 10},
		{"failure_limit 2 fails on the third breach",
			runbook.Check{Probe: seqProbe(0.5, 5.0, 0.5, 5.0, 0.5, 5.0, 0.5), Success: below(1), FailureLimit: 2},
			runbook.StatusRolledBack, engine.OutcomeFailed, runbook.ErrGateFailed, 6},
		{"tolerate 2 passes two breaches in a row",
			runbook.Check{Probe: seqProbe(5.0, 5.0, 0.5, 5.0, 5.0, 0.5), Success: below(1), Tolerate: 2},
			runbook.StatusSucceeded, engine.OutcomePassed, nil, 10},
		{"tolerate 2 fails on the third breach in a row",
			runbook.Check{Probe: seqProbe(0.5, 5.0, 5.0, 5.0), Success: below(1), Tolerate: 2},
			runbook.StatusRolledBack, engine.OutcomeFailed, runbook.ErrGateFailed, 4},
		{"error_limit 2 passes two probe errors in a row",
			runbook.Check{Probe: seqProbe(0.5, probeErr, probeErr, 0.5, probeErr, probeErr, 0.5), Success: below(1), ErrorLimit: 2},
			runbook.StatusSucceeded, engine.OutcomePassed, nil, 10},
		{"error_limit 2 fails on the third probe error in a row",
			runbook.Check{Probe: seqProbe(0.5, probeErr, probeErr, probeErr), Success: below(1), ErrorLimit: 2},
			runbook.StatusRolledBack, engine.OutcomeError, runbook.ErrGateFailed, 4},
		{"error_limit does not count breaches",
			runbook.Check{Probe: seqProbe(probeErr, probeErr, 5.0, 0.5), Success: below(1), ErrorLimit: 2, FailureLimit: 1},
			runbook.StatusSucceeded, engine.OutcomePassed, nil, 10},
		{"breaches do not count probe errors",
			runbook.Check{Probe: seqProbe(probeErr, 5.0, probeErr, 5.0, 0.5), Success: below(1), ErrorLimit: 1, FailureLimit: 2},
			runbook.StatusSucceeded, engine.OutcomePassed, nil, 10},
		{"a probe error fails at once without error_limit",
			runbook.Check{Probe: seqProbe(0.5, probeErr), Success: below(1)},
			runbook.StatusRolledBack, engine.OutcomeError, runbook.ErrGateFailed, 2},
		{"failure condition only: a sample not meeting it passes",
			runbook.Check{Probe: seqProbe(0.5, 0.9, 5.0), Failure: above(1)},
			runbook.StatusRolledBack, engine.OutcomeFailed, runbook.ErrGateFailed, 3},
		{"inconclusive_limit tolerates inconclusive samples",
			runbook.Check{Probe: seqProbe(0.5, 2.0, 0.5), Success: below(1), Failure: above(3), InconclusiveLimit: 1},
			runbook.StatusSucceeded, engine.OutcomePassed, nil, 10},
		{"dry_run never decides: breaches are recorded only",
			runbook.Check{Probe: constProbe(5.0), Success: below(1), DryRun: true},
			runbook.StatusSucceeded, engine.OutcomePassed, nil, 10},
		{"dry_run never decides: probe errors are recorded only",
			runbook.Check{Probe: constProbe(probeErr), Success: below(1), DryRun: true},
			runbook.StatusSucceeded, engine.OutcomePassed, nil, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{}
			tc.check.Name = "c"
			p := mustBuild("limits", func(b *runbook.Builder) {
				b.Step(w.step("deploy"))
				b.Gate(runbook.Gate{Name: "watch", Kind: runbook.GateSoak, Count: 10, Every: time.Minute, Checks: []runbook.Check{tc.check}})
			})
			h := runbooktest.New(t, p)
			h.Run()
			h.AssertStatus(tc.status)
			if tc.errIs != nil {
				h.AssertErrorIs(tc.errIs)
			}
			nr := h.Result.Nodes["watch"]
			assert.Equal(t, string(tc.outcome), nr.Outputs["outcome"])
			assert.Equal(t, tc.outcome, nr.Outcome)
			assert.Len(t, nr.Samples, tc.samples)
			assert.Equal(t, time.Duration(tc.samples-1)*time.Minute, h.Elapsed())
			for _, s := range nr.Samples {
				assert.Equal(t, tc.check.DryRun, s.DryRun)
			}
		})
	}
}

func TestDryRunCheckBesideARealOne(t *testing.T) {
	p := mustBuild("dry", func(b *runbook.Builder) {
		b.Gate(runbook.Gate{Name: "watch", Kind: runbook.GateSoak, Count: 5, Every: time.Minute, Checks: []runbook.Check{
			{Name: "new_threshold", Probe: constProbe(0.02), Success: below(0.01), DryRun: true},
			{Name: "error_rate", Probe: constProbe(0.02), Success: below(0.05)},
		}})
	})
	h := runbooktest.New(t, p)
	h.Run()
	h.AssertStatus(runbook.StatusSucceeded)
	var dry, real int
	for _, s := range h.Result.Nodes["watch"].Samples {
		if s.Check == "new_threshold" {
			dry++
			assert.Equal(t, engine.VerdictFail, s.Verdict)
			assert.True(t, s.DryRun)
		} else {
			real++
			assert.Equal(t, engine.VerdictPass, s.Verdict)
		}
	}
	assert.Equal(t, 5, dry)
	assert.Equal(t, 5, real)
}

func TestInconclusive(t *testing.T) {
	// Success below 1, failure above 3: a sample of 2 meets neither.
	check := func() runbook.Check {
		return runbook.Check{Name: "latency", Probe: seqProbe(0.5, 2.0, 0.5), Success: below(1), Failure: above(3)}
	}
	tests := []struct {
		name     string
		policy   runbook.Policy
		approver *runbooktest.Approver
		status   runbook.Status
		asked    []string
		ops      []string
	}{
		{"pauses by default and goes on when approved", "", runbooktest.NewApprover().Grant("watch"),
			runbook.StatusSucceeded, []string{"watch"}, []string{"do deploy", "do after"}},
		{"pauses by default and rolls back when denied", "", runbooktest.NewApprover().Deny("watch", "carol", ""),
			runbook.StatusRolledBack, []string{"watch"}, []string{"do deploy", "undo deploy"}},
		{"on_inconclusive rollback", runbook.PolicyRollback, runbooktest.NewApprover(),
			runbook.StatusRolledBack, nil, []string{"do deploy", "undo deploy"}},
		{"on_inconclusive continue", runbook.PolicyContinue, runbooktest.NewApprover(),
			runbook.StatusSucceeded, nil, []string{"do deploy", "do after"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{}
			p := mustBuild("inconclusive", func(b *runbook.Builder) {
				b.Step(w.step("deploy"))
				g := soak("watch", check())
				g.OnInconclusive = tc.policy
				b.Gate(g)
				b.Step(w.step("after"))
			})
			h := runbooktest.New(t, p, runbooktest.WithApprover(tc.approver))
			h.Run()
			h.AssertStatus(tc.status)
			assert.Equal(t, tc.asked, tc.approver.AskedNodes())
			assert.Equal(t, tc.ops, w.log())
			if tc.status == runbook.StatusRolledBack {
				h.AssertErrorIs(runbook.ErrGateInconclusive)
			}
			for _, ev := range h.Recorder.Events() {
				if gf, ok := ev.(runbook.GateFailed); ok {
					assert.Equal(t, engine.OutcomeInconclusive, gf.Outcome)
				}
			}
			// The gate decided at the inconclusive sample, at minute 1.
			assert.Len(t, h.Result.Nodes["watch"].Samples, 2)
		})
	}
}

func TestNoDataPolicies(t *testing.T) {
	// One sample without data in the middle of a 5-sample soak.
	probe := func() runbook.Probe { return seqProbe(0.5, nil, 0.5) }
	tests := []struct {
		policy   runbook.NoDataPolicy
		status   runbook.Status
		verdict  engine.Verdict
		approver *runbooktest.Approver
		asked    int
	}{
		{"", runbook.StatusRolledBack, engine.VerdictInconclusive, runbooktest.NewApprover().DenyByDefault(), 1},
		{runbook.NoDataInconclusive, runbook.StatusSucceeded, engine.VerdictInconclusive, runbooktest.NewApprover(), 1},
		{runbook.NoDataFail, runbook.StatusRolledBack, engine.VerdictFail, runbooktest.NewApprover(), 0},
		{runbook.NoDataPass, runbook.StatusSucceeded, engine.VerdictPass, runbooktest.NewApprover(), 0},
		{runbook.NoDataWait, runbook.StatusSucceeded, engine.VerdictNoData, runbooktest.NewApprover(), 0},
	}
	for _, tc := range tests {
		t.Run("no_data="+string(tc.policy), func(t *testing.T) {
			w := &world{}
			p := mustBuild("nodata", func(b *runbook.Builder) {
				b.Step(w.step("deploy"))
				b.Gate(runbook.Gate{Name: "watch", Kind: runbook.GateSoak, Count: 5, Every: time.Minute,
					Checks: []runbook.Check{{Name: "c", Probe: probe(), Success: below(1), NoData: tc.policy}}})
			})
			h := runbooktest.New(t, p, runbooktest.WithApprover(tc.approver))
			h.Run()
			h.AssertStatus(tc.status)
			samples := h.Result.Nodes["watch"].Samples
			require.GreaterOrEqual(t, len(samples), 2)
			assert.Equal(t, tc.verdict, samples[1].Verdict)
			assert.Len(t, tc.approver.Asked(), tc.asked)
		})
	}
}

func TestNoDataWaitInCheckGateKeepsPolling(t *testing.T) {
	p := mustBuild("nodata", func(b *runbook.Builder) {
		b.Gate(runbook.Gate{Name: "ready", Kind: runbook.GateCheck, Every: 10 * time.Second, Timeout: time.Minute,
			Checks: []runbook.Check{{Name: "c", Probe: seqProbe(nil, nil, 0.5), Success: below(1), NoData: runbook.NoDataWait}}})
	})
	h := runbooktest.New(t, p)
	h.Run()
	h.AssertStatus(runbook.StatusSucceeded)
	assert.Equal(t, 20*time.Second, h.Elapsed())
}

func TestGateOnFailPolicies(t *testing.T) {
	tests := []struct {
		policy   runbook.Policy
		approver *runbooktest.Approver
		status   runbook.Status
		ops      []string
	}{
		{runbook.PolicyRollback, runbooktest.NewApprover(), runbook.StatusRolledBack, []string{"do deploy", "undo deploy"}},
		{runbook.PolicyAbort, runbooktest.NewApprover(), runbook.StatusAborted, []string{"do deploy"}},
		{runbook.PolicyContinue, runbooktest.NewApprover(), runbook.StatusSucceeded, []string{"do deploy", "do after"}},
		{runbook.PolicyPause, runbooktest.NewApprover().Grant("watch"), runbook.StatusSucceeded, []string{"do deploy", "do after"}},
		{runbook.PolicyPause, runbooktest.NewApprover().Deny("watch", "dave", ""), runbook.StatusRolledBack, []string{"do deploy", "undo deploy"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.policy), func(t *testing.T) {
			w := &world{}
			p := mustBuild("onfail", func(b *runbook.Builder) {
				b.Step(w.step("deploy"))
				g := soak("watch", runbook.Check{Name: "c", Probe: constProbe(5.0), Success: below(1)})
				g.OnFail = tc.policy
				b.Gate(g)
				b.Step(w.step("after"))
			})
			h := runbooktest.New(t, p, runbooktest.WithApprover(tc.approver))
			h.Run()
			h.AssertStatus(tc.status)
			assert.Equal(t, tc.ops, w.log())
		})
	}
}

func TestGuard(t *testing.T) {
	const every = 30 * time.Second
	guard := func(probe runbook.Probe) runbook.Gate {
		return runbook.Gate{Name: "error_guard", Kind: runbook.GateGuard, Every: every, From: "traffic_10", Until: "maintenance_off",
			Checks: []runbook.Check{{Name: "error_rate", Probe: probe, Success: below(0.05), Threshold: "< 0.05"}}}
	}
	plan := func(w *world, probe runbook.Probe) *runbook.Plan {
		return mustBuild("guarded", func(b *runbook.Builder) {
			b.Gate(guard(probe))
			b.Step(w.step("maintenance_on"))
			b.Step(w.step("traffic_10", takes(time.Minute)))
			b.Step(w.step("traffic_50", takes(10*time.Minute)))
			b.Step(w.step("traffic_100", takes(10*time.Minute)))
			b.Step(w.step("maintenance_off", takes(time.Minute)))
			b.Step(w.step("after", takes(time.Hour)))
		})
	}
	t.Run("a breach mid-step cancels the step and rolls back within one interval", func(t *testing.T) {
		w := &world{}
		// Errors climb to 8% at minute 5, while traffic_50 runs (minutes 2-12).
		breachAt := 5 * time.Minute
		h := runbooktest.New(t, plan(w, timedProbe(breachAt, 0.01, 0.08)))
		h.Run()
		h.AssertStatus(runbook.StatusRolledBack)
		h.AssertErrorIs(runbook.ErrGateFailed)
		assert.Equal(t, []string{"do maintenance_on", "do traffic_10", "cancelled traffic_50", "undo traffic_10", "undo maintenance_on"}, w.log())
		h.AssertCompensated("traffic_10", "maintenance_on")
		assert.Equal(t, runbook.StateCancelled, h.Result.Nodes["traffic_50"].Status)
		assert.GreaterOrEqual(t, h.Elapsed(), breachAt)
		assert.LessOrEqual(t, h.Elapsed(), breachAt+every, "the guard reacts within one sampling interval")
		var se *runbook.StepError
		require.ErrorAs(t, h.Err, &se)
		assert.Equal(t, "error_guard", se.Node)
		// The guard started with its span, after traffic_10.
		at, ok := h.Recorder.StartedAt("error_guard")
		require.True(t, ok)
		assert.Equal(t, t0.Add(time.Minute), at)
	})
	t.Run("a guard that never breaches ends silently with its span", func(t *testing.T) {
		w := &world{}
		var sampledAt []time.Time
		probe := runbook.ProbeFunc(func(_ context.Context, env *runbook.Env) (runbook.Sample, error) {
			sampledAt = append(sampledAt, env.Clock().Now())
			return runbook.Sample{Value: 0.01}, nil
		})
		h := runbooktest.New(t, plan(w, probe))
		h.Run()
		h.AssertStatus(runbook.StatusSucceeded)
		assert.Equal(t, []string{"do maintenance_on", "do traffic_10", "do traffic_50", "do traffic_100", "do maintenance_off", "do after"}, w.log())
		require.NotEmpty(t, sampledAt)
		spanEnd := t0.Add(22 * time.Minute) // maintenance_off completes at minute 22
		assert.False(t, sampledAt[len(sampledAt)-1].After(spanEnd), "no sample after the span")
		assert.Equal(t, t0.Add(82*time.Minute), h.Clock.Now())
		for _, ev := range h.Recorder.Events() {
			_, failed := ev.(runbook.GateFailed)
			assert.False(t, failed, "guard must not fail: %v", ev)
		}
		assert.NotContains(t, h.Result.Completed, "error_guard", "a guard is not a completed step")
	})
	t.Run("a guard without Until watches until the run ends", func(t *testing.T) {
		w := &world{}
		p := mustBuild("guard-to-end", func(b *runbook.Builder) {
			b.Gate(runbook.Gate{Name: "g", Kind: runbook.GateGuard, Every: time.Minute,
				Checks: []runbook.Check{{Name: "c", Probe: constProbe(0.01), Success: below(0.05)}}})
			b.Step(w.step("a", takes(5*time.Minute)))
		})
		h := runbooktest.New(t, p)
		h.Run()
		h.AssertStatus(runbook.StatusSucceeded)
		assert.Equal(t, 5*time.Minute, h.Elapsed())
	})
}

func TestSchedule(t *testing.T) {
	var at []time.Duration
	probe := runbook.ProbeFunc(func(_ context.Context, env *runbook.Env) (runbook.Sample, error) {
		at = append(at, env.Clock().Now().Sub(t0))
		return runbook.Sample{Value: 0.5}, nil
	})
	tests := []struct {
		name string
		gate runbook.Gate
		want []time.Duration
	}{
		{"initial delay, then every interval, count samples",
			runbook.Gate{Name: "g", Kind: runbook.GateSoak, InitialDelay: 2 * time.Minute, Every: time.Minute, Count: 3,
				Checks: []runbook.Check{{Name: "c", Probe: probe, Success: below(1)}}},
			[]time.Duration{2 * time.Minute, 3 * time.Minute, 4 * time.Minute}},
		{"check overrides the gate's schedule",
			runbook.Gate{Name: "g", Kind: runbook.GateSoak, Every: time.Minute, Count: 10,
				Checks: []runbook.Check{{Name: "c", Probe: probe, Success: below(1), Every: 5 * time.Minute, Count: 2, InitialDelay: time.Minute}}},
			[]time.Duration{time.Minute, 6 * time.Minute}},
		{"duration: the last sample is at its end",
			runbook.Gate{Name: "g", Kind: runbook.GateSoak, Every: 4 * time.Minute, Duration: 10 * time.Minute,
				Checks: []runbook.Check{{Name: "c", Probe: probe, Success: below(1)}}},
			[]time.Duration{0, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at = nil
			p := mustBuild("schedule", func(b *runbook.Builder) { b.Gate(tc.gate) })
			h := runbooktest.New(t, p)
			h.Run()
			h.AssertStatus(runbook.StatusSucceeded)
			assert.Equal(t, tc.want, at)
		})
	}
}
