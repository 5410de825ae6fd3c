package temporal_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
	"github.com/handrail-dev/handrail/temporal"
)

// contractCase is one plan of the shared table: both runners must do the
// same things to the world, in the same order, and end the same way.
type contractCase struct {
	name string
	plan func(w *world, b *runbook.Builder)
	// local configures the local executor; temporal the workflow run. They
	// say the same thing to each runner (a decision, a rollback retry).
	local    []runbooktest.Option
	temporal []tOpt
	// want
	status      runbook.Status
	ops         []string
	compensated []string
	pending     []string
	// gates: each gate's outcome, the same under both runners; reason: a
	// text both runners' errors must contain.
	gates  map[string]engine.Outcome
	reason string
}

func contractCases() []contractCase {
	return []contractCase{
		{
			name: "sequence runs in declaration order",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a", takes(time.Minute))).Step(w.step("b")).Step(w.step("c"))
			},
			status: runbook.StatusSucceeded,
			ops:    []string{"do a", "do b", "do c"},
		},
		{
			name: "parallel group runs its branches at once, then goes on",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("before"))
				b.Parallel(func(b *runbook.Builder) {
					b.Step(w.step("slow", takes(30*time.Minute)))
					b.Step(w.step("fast", takes(time.Minute)))
					b.Sequence(func(b *runbook.Builder) {
						b.Step(w.step("s1", takes(5*time.Minute)))
						b.Step(w.step("s2", takes(5*time.Minute)))
					})
				})
				b.Step(w.step("after"))
			},
			status: runbook.StatusSucceeded,
			ops:    []string{"do before", "do fast", "do s1", "do s2", "do slow", "do after"},
		},
		{
			name: "failure mid-sequence compensates completed steps in reverse order",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a")).Step(w.step("b")).Step(w.step("c", fails(errBoom))).Step(w.step("d"))
			},
			status:      runbook.StatusRolledBack,
			ops:         []string{"do a", "do b", "fail c", "undo b", "undo a"},
			compensated: []string{"b", "a"},
		},
		{
			name: "failure in one parallel branch cancels its siblings; only completed steps are compensated",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Parallel(func(b *runbook.Builder) {
					b.Step(w.step("done1", takes(time.Minute)))
					b.Step(w.step("breaks", takes(20*time.Minute), fails(errBoom)))
					b.Step(w.step("long", takes(time.Hour)))
				})
				b.Step(w.step("never"))
			},
			status:      runbook.StatusRolledBack,
			ops:         []string{"do a", "do done1", "fail breaks", "cancelled long", "undo done1", "undo a"},
			compensated: []string{"done1", "a"},
		},
		{
			name: "rollback_on_failure runs the failed step's own rollback first",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("backup"))
				b.Step(w.step("migrate", fails(errBoom), with(func(s *runbook.Step) { s.RollbackOnFailure = true })))
			},
			status:      runbook.StatusRolledBack,
			ops:         []string{"do backup", "fail migrate", "undo ", "undo backup"},
			compensated: []string{"migrate", "backup"},
		},
		{
			name: "point of no return halts without compensating",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Step(w.step("cutover", with(func(s *runbook.Step) { s.PointOfNoReturn = true })))
				b.Step(w.step("monitor", fails(errBoom)))
			},
			status:  runbook.StatusHalted,
			ops:     []string{"do a", "do cutover", "fail monitor"},
			pending: []string{"cutover", "a"},
		},
		{
			name: "on_fail abort stops without compensating",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Step(w.step("b", fails(errBoom), with(func(s *runbook.Step) { s.OnFail = runbook.PolicyAbort })))
			},
			status:  runbook.StatusAborted,
			ops:     []string{"do a", "fail b"},
			pending: []string{"a"},
		},
		{
			name: "on_fail continue warns and goes on",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a", fails(errBoom), with(func(s *runbook.Step) { s.OnFail = runbook.PolicyContinue })))
				b.Step(w.step("b"))
			},
			status: runbook.StatusSucceeded,
			ops:    []string{"fail a", "do b"},
		},
		{
			name: "a failing compensation is retried, the others still run, the run ends rollback incomplete",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a")).Step(w.step("b", rollbackFails(-1))).Step(w.step("c")).Step(w.step("d", fails(errBoom)))
			},
			local: []runbooktest.Option{runbooktest.WithExecutor(func(e *runbook.Executor) {
				e.RollbackRetry = &runbook.Retry{Attempts: 2, Delay: time.Second}
			})},
			temporal:    []tOpt{rollbackRetry(runbook.Retry{Attempts: 2, Delay: time.Second})},
			status:      runbook.StatusRollbackIncomplete,
			ops:         []string{"do a", "do b", "do c", "fail d", "undo c", "undo-fail b", "undo-fail b", "undo a"},
			compensated: []string{"c", "a"},
			pending:     []string{"b"},
		},
		{
			name: "fallback rollbacks are tried in order",
			plan: func(w *world, b *runbook.Builder) {
				s := w.step("a", rollbackFails(-1))
				s.Rollbacks = append(s.Rollbacks, runbook.RollbackFunc(func(context.Context, *runbook.Env) error {
					w.add("fallback a")
					return nil
				}))
				s.RollbackRetry = &runbook.Retry{Attempts: 1}
				b.Step(s).Step(w.step("b", fails(errBoom)))
			},
			status:      runbook.StatusRolledBack,
			ops:         []string{"do a", "fail b", "undo-fail a", "fallback a"},
			compensated: []string{"a"},
		},
		{
			name: "retry then success",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("flaky", failsFirst(2), with(func(s *runbook.Step) {
					s.Retry = runbook.Retry{Attempts: 4, Delay: time.Second, Backoff: 3}
				})))
			},
			status: runbook.StatusSucceeded,
			ops:    []string{"fail flaky", "fail flaky", "do flaky"},
		},
		{
			name: "retries exhausted fail the step and roll back",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Step(w.step("flaky", failsFirst(5), with(func(s *runbook.Step) {
					s.Retry = runbook.Retry{Attempts: 2, Delay: time.Second}
				})))
			},
			status:      runbook.StatusRolledBack,
			ops:         []string{"do a", "fail flaky", "fail flaky", "undo a"},
			compensated: []string{"a"},
		},
		{
			name: "a permanent error is not retried",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Step(w.step("p", fails(runbook.Permanent(errBoom)), with(func(s *runbook.Step) {
					s.Retry = runbook.Retry{Attempts: 5, Delay: time.Second}
				})))
			},
			status:      runbook.StatusRolledBack,
			ops:         []string{"do a", "fail p", "undo a"},
			compensated: []string{"a"},
		},
		{
			name: "a step whose condition is false is skipped and counts as done",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Step(w.step("maybe", with(func(s *runbook.Step) {
					s.When = func(_ context.Context, env *runbook.Env) (bool, error) {
						o, _ := env.Output("a")
						return o["name"] != "a", nil
					}
				})))
				b.Step(w.step("c"))
			},
			status: runbook.StatusSucceeded,
			ops:    []string{"do a", "do c"},
		},
		{
			name: "soak gate breaching on skipped time rolls back",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("deploy"))
				b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: 30 * time.Second,
					Checks: []runbook.Check{{Name: "error_rate", Probe: timedProbe(5*time.Minute, 0.001, 0.2), Success: below(0.01), Threshold: "< 0.01"}}})
				b.Step(w.step("after"))
			},
			status:      runbook.StatusRolledBack,
			ops:         []string{"do deploy", "undo deploy"},
			compensated: []string{"deploy"},
		},
		{
			name: "soak gate that holds for 15 minutes lets the run go on",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("deploy"))
				b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: 30 * time.Second,
					Checks: []runbook.Check{{Name: "error_rate", Probe: timedProbe(time.Hour, 0.001, 0.2), Success: below(0.01)}}})
				b.Step(w.step("after"))
			},
			status: runbook.StatusSucceeded,
			ops:    []string{"do deploy", "do after"},
		},
		{
			name: "check gate passes once its check holds",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("deploy"))
				b.Gate(runbook.Gate{Name: "healthy", Kind: runbook.GateCheck, Every: 10 * time.Second, Timeout: 5 * time.Minute,
					Checks: []runbook.Check{{Name: "up", Probe: timedProbe(time.Minute, 0.5, 0.001), Success: below(0.01)}}})
				b.Step(w.step("after"))
			},
			status: runbook.StatusSucceeded,
			ops:    []string{"do deploy", "do after"},
		},
		{
			name: "approval granted lets the run go on",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("prepare"))
				b.Gate(runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "Go?", Approvers: []string{"alice"}}})
				b.Step(w.step("release"))
			},
			local:    []runbooktest.Option{runbooktest.WithApprover(runbooktest.NewApprover().GrantBy("go_no_go", "alice"))},
			temporal: []tOpt{signalAt(time.Minute, temporal.ApprovalSignal{Node: "go_no_go", Approved: true, By: "alice"})},
			status:   runbook.StatusSucceeded,
			ops:      []string{"do prepare", "do release"},
		},
		{
			name: "approval denied rolls back",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("prepare"))
				b.Gate(runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "Go?", Approvers: []string{"alice"}}})
				b.Step(w.step("release"))
			},
			local:       []runbooktest.Option{runbooktest.WithApprover(runbooktest.NewApprover().Deny("go_no_go", "alice", "not today"))},
			temporal:    []tOpt{signalAt(time.Minute, temporal.ApprovalSignal{Node: "go_no_go", Approved: false, By: "alice", Comment: "not today"})},
			status:      runbook.StatusRolledBack,
			ops:         []string{"do prepare", "undo prepare"},
			compensated: []string{"prepare"},
		},
		{
			name: "guard breaching while the run waits for an approval cancels the wait and rolls back",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("deploy"))
				b.Gate(runbook.Gate{Name: "rollback_criteria", Kind: runbook.GateGuard, From: "deploy", Until: "finish", Every: 30 * time.Second,
					Checks: []runbook.Check{{Name: "error_rate", Probe: timedProbe(3*time.Minute, 0.001, 0.2), Success: below(0.05)}}})
				b.Gate(runbook.Gate{Name: "wait", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "Go?", Timeout: time.Hour}})
				b.Step(w.step("finish"))
			},
			local:       []runbooktest.Option{runbooktest.WithApprover(runbooktest.NewApprover().Silence("wait"))},
			status:      runbook.StatusRolledBack,
			ops:         []string{"do deploy", "undo deploy"},
			compensated: []string{"deploy"},
		},
		{
			name: "guard that never breaches ends with its span",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("deploy"))
				b.Gate(runbook.Gate{Name: "rollback_criteria", Kind: runbook.GateGuard, From: "deploy", Until: "finish", Every: 30 * time.Second,
					Checks: []runbook.Check{{Name: "error_rate", Probe: timedProbe(time.Hour, 0.001, 0.2), Success: below(0.05)}}})
				b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Duration: 10 * time.Minute, Every: time.Minute,
					Checks: []runbook.Check{{Name: "error_rate", Probe: timedProbe(time.Hour, 0.001, 0.2), Success: below(0.05)}}})
				b.Step(w.step("finish"))
				b.Step(w.step("after"))
			},
			status: runbook.StatusSucceeded,
			ops:    []string{"do deploy", "do finish", "do after"},
		},
		{
			name:   "failure_limit 2: the third breach fails the soak",
			plan:   soakPlan(runbook.Check{FailureLimit: 2}, bad, good, bad, good, bad, good),
			status: runbook.StatusRolledBack, ops: []string{"do deploy", "undo deploy"}, compensated: []string{"deploy"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomeFailed}, reason: "check rate breached: value 0.2, want < 0.01",
		},
		{
			name:   "failure_limit 3 tolerates three breaches",
			plan:   soakPlan(runbook.Check{FailureLimit: 3}, bad, good, bad, good, bad, good),
			status: runbook.StatusSucceeded, ops: []string{"do deploy", "do after"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomePassed},
		},
		{
			name:   "tolerate 1: breaches never two in a row pass",
			plan:   soakPlan(runbook.Check{Tolerate: 1}, bad, good, bad, good, bad, good),
			status: runbook.StatusSucceeded, ops: []string{"do deploy", "do after"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomePassed},
		},
		{
			name:   "tolerate 1: two breaches in a row fail",
			plan:   soakPlan(runbook.Check{Tolerate: 1}, bad, good, bad, bad, good),
			status: runbook.StatusRolledBack, ops: []string{"do deploy", "undo deploy"}, compensated: []string{"deploy"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomeFailed}, reason: "check rate breached",
		},
		{
			name:   "inconclusive_limit 1: the second inconclusive sample ends the soak, on_inconclusive rollback",
			plan:   soakPlan(runbook.Check{Failure: above(0.1), InconclusiveLimit: 1}, good, 0.05, good, 0.05, good),
			status: runbook.StatusRolledBack, ops: []string{"do deploy", "undo deploy"}, compensated: []string{"deploy"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomeInconclusive}, reason: "check rate inconclusive 2 times (limit 1)",
		},
		{
			name:   "error_limit 1: two probe errors in a row",
			plan:   soakPlan(runbook.Check{ErrorLimit: 1}, errSample, good, errSample, errSample, good),
			status: runbook.StatusRolledBack, ops: []string{"do deploy", "undo deploy"}, compensated: []string{"deploy"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomeError}, reason: "check rate: probe failed 2 times in a row",
		},
		{
			name:   "no_data fail counts an empty sample as a breach",
			plan:   soakPlan(runbook.Check{NoData: runbook.NoDataFail}, good, noData, good),
			status: runbook.StatusRolledBack, ops: []string{"do deploy", "undo deploy"}, compensated: []string{"deploy"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomeFailed}, reason: "check rate breached: value (none)",
		},
		{
			name:   "no_data wait ignores empty samples",
			plan:   soakPlan(runbook.Check{NoData: runbook.NoDataWait}, noData, noData, good, noData),
			status: runbook.StatusSucceeded, ops: []string{"do deploy", "do after"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomePassed},
		},
		{
			name:   "no_data by default is inconclusive",
			plan:   soakPlan(runbook.Check{}, good, noData, good),
			status: runbook.StatusRolledBack, ops: []string{"do deploy", "undo deploy"}, compensated: []string{"deploy"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomeInconclusive}, reason: "check rate inconclusive 1 times (limit 0)",
		},
		{
			name:   "a dry-run check records its breaches and never decides",
			plan:   soakPlan(runbook.Check{DryRun: true}, bad, bad, bad, bad, bad, bad),
			status: runbook.StatusSucceeded, ops: []string{"do deploy", "do after"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomePassed},
		},
		{
			name:   "initial_delay skips the bad start",
			plan:   soakPlan(runbook.Check{InitialDelay: 3 * time.Minute}, bad, bad, bad, good, good, good, good, good, good),
			status: runbook.StatusSucceeded, ops: []string{"do deploy", "do after"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomePassed},
		},
		{
			name:   "count 3 ends the soak before the breach",
			plan:   soakPlan(runbook.Check{Count: 3}, good, good, good, bad, bad),
			status: runbook.StatusSucceeded, ops: []string{"do deploy", "do after"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomePassed},
		},
		{
			name: "a check gate that never holds fails at its timeout",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("deploy"))
				b.Gate(runbook.Gate{Name: "healthy", Kind: runbook.GateCheck, Every: 30 * time.Second, Timeout: 2 * time.Minute,
					Checks: []runbook.Check{{Name: "up", Probe: scriptProbe(bad), Success: below(0.01), Message: "still failing"}}})
				b.Step(w.step("after"))
			},
			status: runbook.StatusRolledBack, ops: []string{"do deploy", "undo deploy"}, compensated: []string{"deploy"},
			gates: map[string]engine.Outcome{"healthy": engine.OutcomeFailed}, reason: "check up did not hold within 2m0s: still failing",
		},
		{
			name: "the first of two checks to breach decides the soak",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("deploy"))
				b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Duration: 10 * time.Minute, Every: time.Minute, OnInconclusive: runbook.PolicyRollback,
					Checks: []runbook.Check{
						{Name: "latency", Probe: scriptProbe(good, good, good, good, bad), Success: below(0.01)},
						{Name: "rate", Probe: scriptProbe(good, good, bad), Success: below(0.01), Threshold: "< 0.01"},
					}})
				b.Step(w.step("after"))
			},
			status: runbook.StatusRolledBack, ops: []string{"do deploy", "undo deploy"}, compensated: []string{"deploy"},
			gates: map[string]engine.Outcome{"soak": engine.OutcomeFailed}, reason: "check rate breached: value 0.2, want < 0.01",
		},
		{
			name: "a guard with error_limit rides out one probe error, then breaches",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("deploy"))
				b.Gate(runbook.Gate{Name: "guard", Kind: runbook.GateGuard, From: "deploy", Until: "finish", Every: time.Minute,
					Checks: []runbook.Check{{Name: "rate", Probe: scriptProbe(good, errSample, good, bad), Success: below(0.01), ErrorLimit: 1}}})
				// Timers only while the guard samples: the test environment
				// skips time only when no activity runs.
				b.Gate(runbook.Gate{Name: "hold", Kind: runbook.GateSoak, Duration: 10 * time.Minute, Every: time.Minute,
					Checks: []runbook.Check{{Name: "rate", Probe: scriptProbe(good), Success: below(0.01)}}})
				b.Step(w.step("finish"))
			},
			status: runbook.StatusRolledBack, ops: []string{"do deploy", "undo deploy"}, compensated: []string{"deploy"},
			gates: map[string]engine.Outcome{"guard": engine.OutcomeFailed}, reason: "check rate breached: value 0.2",
		},
		{
			name: "pause on failure: approve goes on",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Step(w.step("b", fails(errBoom), with(func(s *runbook.Step) { s.OnFail = runbook.PolicyPause })))
				b.Step(w.step("c"))
			},
			local:    []runbooktest.Option{runbooktest.WithApprover(runbooktest.NewApprover().GrantBy("b", "bob"))},
			temporal: []tOpt{signalAt(time.Minute, temporal.ApprovalSignal{Node: "b", Approved: true, By: "bob"})},
			status:   runbook.StatusSucceeded,
			ops:      []string{"do a", "fail b", "do c"},
		},
	}
}

// TestSameOrdersAsLocalExecutor runs every plan of the shared table on the
// local executor (simulated clock) and as a Temporal workflow (test
// environment, skipped time), and asserts the same effects on the world, in
// the same order, the same compensations and the same final status.
func TestSameOrdersAsLocalExecutor(t *testing.T) {
	for _, tc := range contractCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Local executor.
			lw := &world{}
			lp := mustBuild(t, "contract", func(b *runbook.Builder) { tc.plan(lw, b) })
			h := runbooktest.New(t, lp, append([]runbooktest.Option{runbooktest.At(t0)}, tc.local...)...)
			h.Run()
			require.Equal(t, tc.status, h.Result.Status, "local status (err %v)", h.Err)
			assert.Equal(t, tc.ops, lw.log(), "local effects")
			assert.Equal(t, tc.compensated, h.Result.Compensated, "local compensations")

			// Temporal.
			tw := &world{}
			tp := mustBuild(t, "contract", func(b *runbook.Builder) { tc.plan(tw, b) })
			require.Equal(t, lp.Hash(), tp.Hash())
			tr := runOnTemporal(t, tp, nil, tc.temporal...)
			require.NoError(t, tr.err)
			res := tr.result
			require.Equal(t, tc.status, res.Status, "temporal status (error %q)", res.Error)
			// The test environment reports a cancelled activity to the
			// workflow at once, without waiting for the activity to
			// return (a server waits, WaitForCancellation): the
			// cancelled step's own log line may come late or never.
			assert.Equal(t, withoutCancelled(tc.ops), withoutCancelled(tw.log()), "temporal effects")
			for name, nr := range h.Result.Nodes {
				if nr.Status == runbook.StateCancelled {
					assert.Equal(t, runbook.StateCancelled, res.Nodes[name].Status, "node %s", name)
				}
			}
			assert.Equal(t, tc.compensated, res.Compensated, "temporal compensations")
			assert.Equal(t, tc.pending, res.Pending, "temporal pending")
			assert.Equal(t, h.Result.Pending, res.Pending, "pending, local vs temporal")
			assert.Equal(t, h.Result.Completed, res.Completed, "completion order, local vs temporal")
			assert.Equal(t, h.Compensated(), tr.rec.Compensated(), "compensation events, local vs temporal")
			for gate, outcome := range tc.gates {
				assert.Equal(t, outcome, h.Result.Nodes[gate].Outcome, "local outcome of gate %s", gate)
				assert.Equal(t, outcome, res.Nodes[gate].Outcome, "temporal outcome of gate %s", gate)
			}
			if tc.reason != "" {
				require.Error(t, h.Err)
				assert.Contains(t, h.Err.Error(), tc.reason, "local error")
				assert.Contains(t, res.Error, tc.reason, "temporal error")
			}
		})
	}
}

func withoutCancelled(ops []string) []string {
	out := []string{}
	for _, op := range ops {
		if !strings.HasPrefix(op, "cancelled ") {
			out = append(out, op)
		}
	}
	return out
}

// Sample values of scriptProbe.
const (
	good = 0.001
	bad  = 0.2
)

// Sentinels of scriptProbe: a sample with no data, a probe error.
var (
	noData    = struct{ noData bool }{true}
	errSample = errors.New("probe unreachable")
)

// scriptProbe answers values[k] for the k-th minute since t0 (the last
// value after the script ends): noData as an empty sample, errSample as a
// probe error. Being a function of the simulated time, it answers the
// same under both runners.
func scriptProbe(values ...any) runbook.Probe {
	return runbook.ProbeFunc(func(_ context.Context, env *runbook.Env) (runbook.Sample, error) {
		k := min(int(env.Clock().Now().Sub(t0)/time.Minute), len(values)-1)
		switch v := values[k].(type) {
		case error:
			return runbook.Sample{}, v
		case float64:
			return runbook.Sample{Value: v}, nil
		default:
			return runbook.Sample{NoData: true}, nil
		}
	})
}

// soakPlan is deploy, a 10-minute soak sampling check (named rate, its
// probe scripted by values, success below 0.01 unless check says
// otherwise) every minute, then after. An inconclusive soak rolls back.
func soakPlan(check runbook.Check, values ...any) func(w *world, b *runbook.Builder) {
	return func(w *world, b *runbook.Builder) {
		c := check
		c.Name, c.Probe, c.Threshold = "rate", scriptProbe(values...), "< 0.01"
		if c.Success == nil {
			c.Success = below(0.01)
		}
		b.Step(w.step("deploy"))
		b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Duration: 10 * time.Minute, Every: time.Minute,
			OnInconclusive: runbook.PolicyRollback, Checks: []runbook.Check{c}})
		b.Step(w.step("after"))
	}
}

func above(limit float64) runbook.Condition {
	return runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) {
		f, ok := v.(float64)
		return ok && f > limit, nil
	})
}
