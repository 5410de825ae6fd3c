package temporal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
	"github.com/handrail-dev/handrail/temporal"
)

func approvalPlan(t *testing.T, w *world, a runbook.Approval) *runbook.Plan {
	return mustBuild(t, "approval", func(b *runbook.Builder) {
		b.Step(w.step("prepare"))
		b.Gate(runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval, Approval: &a})
		b.Step(w.step("release"))
	})
}

// TestApprovalQueryAndSignals: the query shows what waits for whom; a
// decision from someone who is not an approver is ignored; the approver's
// denial rolls back.
func TestApprovalQueryAndSignals(t *testing.T) {
	w := &world{}
	p := approvalPlan(t, w, runbook.Approval{Message: "Release 0.3.0?", Approvers: []string{"alice", "bob"}})
	var waiting []temporal.Waiting
	var afterIntruder []temporal.Waiting
	tr := runOnTemporal(t, p, nil, func(env *testsuite.TestWorkflowEnvironment, _ *temporal.Input) {
		env.RegisterDelayedCallback(func() {
			v, err := env.QueryWorkflow(temporal.QueryWaiting)
			require.NoError(t, err)
			require.NoError(t, v.Get(&waiting))
			env.SignalWorkflow(temporal.SignalDecision, temporal.ApprovalSignal{Node: "go_no_go", Approved: true, By: "mallory"})
		}, 10*time.Minute)
		env.RegisterDelayedCallback(func() {
			v, err := env.QueryWorkflow(temporal.QueryWaiting)
			require.NoError(t, err)
			require.NoError(t, v.Get(&afterIntruder))
			env.SignalWorkflow(temporal.SignalDecision, temporal.ApprovalSignal{Node: "go_no_go", Approved: false, By: "bob", Comment: "error budget spent"})
		}, 20*time.Minute)
	})
	require.NoError(t, tr.err)
	require.Len(t, waiting, 1)
	assert.Equal(t, "go_no_go", waiting[0].Node)
	assert.Equal(t, "approval", waiting[0].Kind)
	assert.Equal(t, "Release 0.3.0?", waiting[0].Message)
	assert.Equal(t, []string{"alice", "bob"}, waiting[0].Approvers)
	assert.Equal(t, "run-1", waiting[0].Run)
	assert.Equal(t, []string{"prepare succeeded"}, waiting[0].Evidence)
	require.Len(t, afterIntruder, 1, "mallory's decision was ignored: the gate still waits")

	res := tr.result
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Contains(t, res.Error, "denied by bob: error budget spent")
	assert.Equal(t, []string{"do prepare", "undo prepare"}, w.log())
	d := res.Nodes["go_no_go"].Decision
	require.NotNil(t, d)
	assert.Equal(t, "bob", d.By)
	assert.Equal(t, t0.Add(20*time.Minute), d.At.UTC().Truncate(time.Second))
	kinds := map[string]int{}
	for _, ev := range tr.rec.Events() {
		kinds[ev.Kind()]++
	}
	for _, k := range []string{"run_started", "node_started", "node_succeeded", "approval_requested", "approval_decided", "gate_failed", "note", "rollback_started", "step_compensated", "run_finished"} {
		assert.Positive(t, kinds[k], "event %s emitted by the worker", k)
	}
}

// TestApprovalTimeoutTakesTheDefault: nobody answers within the timeout;
// the default (deny) is taken on the skipped clock.
func TestApprovalTimeoutTakesTheDefault(t *testing.T) {
	w := &world{}
	p := approvalPlan(t, w, runbook.Approval{Message: "Go?", Timeout: 4 * time.Hour})
	tr := runOnTemporal(t, p, nil)
	require.NoError(t, tr.err)
	assert.Equal(t, runbook.StatusRolledBack, tr.result.Status)
	assert.Contains(t, tr.result.Error, "no answer within 4h0m0s")
	assert.True(t, tr.result.Nodes["go_no_go"].Decision.TimedOut)
	assert.Equal(t, []string{"do prepare", "undo prepare"}, w.log())
}

// TestSoakBreachOnSkippedTime: a 15-minute soak sleeps on Temporal timers;
// the test environment skips the time, and the probe (reading the
// workflow's time) turns bad at minute 5.
func TestSoakBreachOnSkippedTime(t *testing.T) {
	w := &world{}
	p := mustBuild(t, "soak", func(b *runbook.Builder) {
		b.Step(w.step("deploy"))
		b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: 30 * time.Second,
			Checks: []runbook.Check{{Name: "error_rate", Probe: timedProbe(5*time.Minute, 0.001, 0.2), Success: below(0.01), Threshold: "< 0.01"}}})
	})
	start := time.Now()
	tr := runOnTemporal(t, p, nil)
	require.NoError(t, tr.err)
	assert.Less(t, time.Since(start), 10*time.Second, "15 minutes of soak are skipped, not waited")
	assert.Equal(t, runbook.StatusRolledBack, tr.result.Status)
	assert.Contains(t, tr.result.Error, "check error_rate breached: value 0.2, want < 0.01")
	var samples []runbook.SampleRecord
	for _, ev := range tr.rec.Events() {
		if s, ok := ev.(runbook.GateSampled); ok {
			samples = append(samples, s.Sample)
		}
	}
	require.NotEmpty(t, samples)
	last := samples[len(samples)-1]
	assert.Equal(t, engine.VerdictFail, last.Verdict)
	assert.Equal(t, 11, last.Seq, "10 good samples, 30s apart, then the breach at minute 5")
	assert.Equal(t, t0.Add(5*time.Minute), last.Time.UTC().Truncate(time.Second))
}

// TestWorkerRefusesAnotherPlan: the worker holds a plan with another hash
// (a step was added since the run started): it refuses to run anything.
func TestWorkerRefusesAnotherPlan(t *testing.T) {
	w := &world{}
	started := mustBuild(t, "release", func(b *runbook.Builder) { b.Step(w.step("a")).Step(w.step("b")) })
	held := mustBuild(t, "release", func(b *runbook.Builder) { b.Step(w.step("a")).Step(w.step("b")).Step(w.step("c")) })
	require.NotEqual(t, started.Hash(), held.Hash())
	tr := runOnTemporal(t, started, held)
	require.NoError(t, tr.err)
	assert.Equal(t, runbook.StatusRolledBack, tr.result.Status)
	assert.Contains(t, tr.result.Error, temporal.ErrPlanMismatch.Error())
	assert.Empty(t, w.log(), "no action ran")
}

func TestShapeRoundTripsThroughJSON(t *testing.T) {
	w := &world{}
	p := mustBuild(t, "shape", func(b *runbook.Builder) {
		b.Phase("prepare", func(b *runbook.Builder) {
			b.Step(w.step("a", with(func(s *runbook.Step) {
				s.Timeout, s.Retry, s.Idempotent = time.Minute, runbook.Retry{Attempts: 3, Delay: 2 * time.Second}, true
			})))
		})
		b.Parallel(func(b *runbook.Builder) { b.Step(w.step("b")).Step(w.step("c")) })
		b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: 30 * time.Second,
			Checks: []runbook.Check{{Name: "error_rate", Probe: timedProbe(0, 0, 0), Success: below(1), FailureLimit: 2, NoData: runbook.NoDataFail}}})
	})
	s, err := temporal.ShapeOf(p)
	require.NoError(t, err)
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "func", "no Go values travel")
	var back temporal.Shape
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, s, back)
	assert.Equal(t, p.Hash(), back.Hash)
	assert.Equal(t, "prepare", back.Nodes[0].Phase)
	assert.Equal(t, 3, back.Nodes[0].Step.Retry.Attempts)
	assert.Equal(t, []string{"a"}, back.Nodes[1].Deps)
	assert.Equal(t, []string{"b", "c"}, back.Nodes[3].Deps)
	assert.Equal(t, 2, back.Nodes[3].Gate.Checks[0].FailureLimit)

	_, err = temporal.ShapeOf(nil)
	assert.Error(t, err)
}

func TestWorkflowRefusesABadInput(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	r, err := temporal.NewRunner(temporal.Plans(), temporal.Options{})
	require.NoError(t, err)
	r.Register(env)
	env.ExecuteWorkflow(temporal.WorkflowName, temporal.Input{Shape: temporal.Shape{Runbook: "x", Hash: "h", Nodes: []temporal.NodeShape{
		{Name: "a", Kind: "step", Step: &temporal.StepShape{}, Deps: []string{"ghost"}},
	}}})
	require.True(t, env.IsWorkflowCompleted())
	require.Error(t, env.GetWorkflowError())
	assert.Contains(t, env.GetWorkflowError().Error(), `depends on unknown node "ghost"`)

	_, err = temporal.NewRunner(nil, temporal.Options{})
	assert.Error(t, err)
}

// TestCancellingTheWorkflowRollsBack: a cancelled workflow (temporal
// workflow cancel) stops going forward and still compensates.
func TestCancellingTheWorkflowRollsBack(t *testing.T) {
	w := &world{}
	p := approvalPlan(t, w, runbook.Approval{Message: "Go?"})
	tr := runOnTemporal(t, p, nil, func(env *testsuite.TestWorkflowEnvironment, _ *temporal.Input) {
		env.RegisterDelayedCallback(env.CancelWorkflow, time.Hour)
	})
	require.NoError(t, tr.err)
	assert.Equal(t, runbook.StatusRolledBack, tr.result.Status)
	assert.Equal(t, []string{"do prepare", "undo prepare"}, w.log())
}

func TestStepReadsEarlierOutputs(t *testing.T) {
	var seen any
	p := mustBuild(t, "outputs", func(b *runbook.Builder) {
		b.Step(runbook.Step{Name: "backup", Irreversible: true, Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			return runbook.Outputs{"key": "backups/1.sql", "size": 42}, nil
		})})
		b.Step(runbook.Step{Name: "use", Irreversible: true, Uses: []string{"backup"}, Action: runbook.ActionFunc(func(_ context.Context, env *runbook.Env) (runbook.Outputs, error) {
			o, _ := env.Output("backup")
			seen = o["key"]
			return nil, nil
		})})
	})
	tr := runOnTemporal(t, p, nil, func(_ *testsuite.TestWorkflowEnvironment, in *temporal.Input) { in.OnlyUsedOutputs = true })
	require.NoError(t, tr.err)
	assert.Equal(t, runbook.StatusSucceeded, tr.result.Status)
	assert.Equal(t, "backups/1.sql", seen)
	assert.Equal(t, float64(42), tr.result.Nodes["backup"].Outputs["size"], "outputs travel as JSON")
}

// BenchmarkSequenceInTestsuite runs a 50-step sequence of no-op steps in
// Temporal's test environment (no server): the cost of the workflow code
// and the SDK's state machines per step, without network or persistence.
func BenchmarkSequenceInTestsuite(b *testing.B) {
	const steps = 50
	bld := runbook.NewBuilder("bench-sequence")
	for i := 0; i < steps; i++ {
		bld.Step(runbook.Step{Name: fmt.Sprintf("s%02d", i), Irreversible: true,
			Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil })})
	}
	p, err := bld.Build()
	require.NoError(b, err)
	in, err := temporal.NewInput(p)
	require.NoError(b, err)
	r, err := temporal.NewRunner(temporal.Plans(p), temporal.Options{})
	require.NoError(b, err)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var s testsuite.WorkflowTestSuite
		s.SetLogger(quietLogger())
		env := s.NewTestWorkflowEnvironment()
		r.Register(env)
		env.ExecuteWorkflow(temporal.WorkflowName, in)
		var res temporal.Result
		require.NoError(b, env.GetWorkflowResult(&res))
		require.Len(b, res.Completed, steps)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/steps, "µs/step")
}

// TestParallelismIsBounded: a parallel group of six runs at most
// Input.Parallelism steps at once.
func TestParallelismIsBounded(t *testing.T) {
	var mu sync.Mutex
	running, peak := 0, 0
	slow := func(name string) runbook.Step {
		return runbook.Step{Name: name, Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			err := env.Clock().Sleep(ctx, 3*time.Minute)
			mu.Lock()
			running--
			mu.Unlock()
			return nil, err
		})}
	}
	p := mustBuild(t, "bounded", func(b *runbook.Builder) {
		b.Parallel(func(b *runbook.Builder) {
			for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
				b.Step(slow(n))
			}
		})
	})
	tr := runOnTemporal(t, p, nil, func(_ *testsuite.TestWorkflowEnvironment, in *temporal.Input) { in.Parallelism = 2 })
	require.NoError(t, tr.err)
	assert.Equal(t, runbook.StatusSucceeded, tr.result.Status)
	assert.Equal(t, 2, peak)
	assert.Len(t, tr.result.Completed, 6)
}

func TestFailureTextIsTheStepError(t *testing.T) {
	w := &world{}
	p := mustBuild(t, "text", func(b *runbook.Builder) { b.Step(w.step("a", fails(errBoom))) })
	tr := runOnTemporal(t, p, nil)
	require.NoError(t, tr.err)
	assert.Equal(t, "a: boom", tr.result.Error)
	assert.Equal(t, "a: boom", tr.result.Nodes["a"].Error)
}
