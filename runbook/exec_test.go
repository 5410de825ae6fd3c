package runbook_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
)

var errBoom = errors.New("boom")

// TestExecutorContract covers the execution contract of docs/design.md, points 1-4
// and 6, one scenario per row.
func TestExecutorContract(t *testing.T) {
	type scenario struct {
		name string
		plan func(w *world, b *runbook.Builder)
		opts []runbooktest.Option
		// want
		status      runbook.Status
		errIs       error
		ops         []string
		compensated []string
		pending     []string
		elapsed     time.Duration
		check       func(t *testing.T, h *runbooktest.Harness, w *world)
	}
	tests := []scenario{
		{
			name: "sequence runs in declaration order and passes outputs on",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a", outputs(runbook.Outputs{"key": "backups/1.sql"}), takes(time.Minute)))
				s := w.step("b", takes(time.Minute))
				inner := s.Action
				s.Uses = []string{"a"}
				s.Action = runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
					o, ok := env.Output("a")
					if !ok || o["key"] != "backups/1.sql" {
						return nil, errors.New("b cannot see a's output")
					}
					return inner.Do(ctx, env)
				})
				b.Step(s)
				b.Step(w.step("c", takes(time.Minute)))
			},
			status:  runbook.StatusSucceeded,
			ops:     []string{"do a", "do b", "do c"},
			elapsed: 3 * time.Minute,
		},
		{
			name: "parallel group runs its branches at once, then goes on",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("before"))
				b.Parallel(func(b *runbook.Builder) {
					b.Step(w.step("slow", takes(3*time.Minute)))
					b.Step(w.step("fast", takes(time.Minute)))
					b.Sequence(func(b *runbook.Builder) {
						b.Step(w.step("s1", takes(90*time.Second)))
						b.Step(w.step("s2", takes(time.Minute)))
					})
				})
				b.Step(w.step("after"))
			},
			status:  runbook.StatusSucceeded,
			ops:     []string{"do before", "do fast", "do s1", "do s2", "do slow", "do after"},
			elapsed: 3 * time.Minute,
		},
		{
			name: "failure mid-sequence compensates completed steps in reverse order",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a")).Step(w.step("b")).Step(w.step("c", fails(errBoom))).Step(w.step("d"))
			},
			status:      runbook.StatusRolledBack,
			errIs:       errBoom,
			ops:         []string{"do a", "do b", "fail c", "undo b", "undo a"},
			compensated: []string{"b", "a"},
		},
		{
			name: "failure in one parallel branch cancels siblings; only completed steps are compensated",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Parallel(func(b *runbook.Builder) {
					b.Step(w.step("done1", takes(time.Minute)))
					b.Step(w.step("breaks", takes(2*time.Minute), fails(errBoom)))
					b.Step(w.step("long", takes(time.Hour)))
				})
				b.Step(w.step("never"))
			},
			status:      runbook.StatusRolledBack,
			errIs:       errBoom,
			ops:         []string{"do a", "do done1", "fail breaks", "cancelled long", "undo done1", "undo a"},
			compensated: []string{"done1", "a"},
			elapsed:     2 * time.Minute,
			check: func(t *testing.T, h *runbooktest.Harness, w *world) {
				assert.Equal(t, runbook.StateCancelled, h.Result.Nodes["long"].Status)
				assert.ErrorIs(t, h.Result.Nodes["long"].Err, runbook.ErrCancelled)
				assert.Equal(t, runbook.StatePending, h.Result.Nodes["never"].Status)
			},
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
			errIs:   errBoom,
			ops:     []string{"do a", "do cutover", "fail monitor"},
			pending: []string{"cutover", "a"},
		},
		{
			name: "a failing compensation is retried, the others still run, the run ends rollback incomplete",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a")).Step(w.step("b", rollbackFails(-1))).Step(w.step("c")).Step(w.step("d", fails(errBoom)))
			},
			opts:        []runbooktest.Option{runbooktest.WithExecutor(func(e *runbook.Executor) { e.RollbackRetry = &runbook.Retry{Attempts: 2, Delay: time.Second} })},
			status:      runbook.StatusRollbackIncomplete,
			ops:         []string{"do a", "do b", "do c", "fail d", "undo c", "undo-fail b", "undo-fail b", "undo a"},
			compensated: []string{"c", "a"},
			pending:     []string{"b"},
			check: func(t *testing.T, h *runbooktest.Harness, w *world) {
				assert.Equal(t, runbook.StateCompensationFailed, h.Result.Nodes["b"].Status)
				assert.Equal(t, []string{"b"}, h.Recorder.CompensationFailed())
				var re *runbook.RunError
				require.ErrorAs(t, h.Err, &re)
				assert.Contains(t, re.Error(), "left to undo: b")
			},
		},
		{
			name: "a compensation that fails once succeeds on retry",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a", rollbackFails(1))).Step(w.step("b", fails(errBoom)))
			},
			status:      runbook.StatusRolledBack,
			ops:         []string{"do a", "fail b", "undo-fail a", "undo a"},
			compensated: []string{"a"},
			elapsed:     time.Second, // the default rollback retry waits 1s
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
			name: "timeout fails the attempt at the deadline on the run's clock",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Step(w.step("hang", takes(time.Hour), with(func(s *runbook.Step) { s.Timeout = 10 * time.Minute })))
			},
			status:      runbook.StatusRolledBack,
			errIs:       runbook.ErrTimeout,
			ops:         []string{"do a", "cancelled hang", "undo a"},
			compensated: []string{"a"},
			elapsed:     10 * time.Minute,
		},
		{
			name: "retry then success, with exponential backoff",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("flaky", failsFirst(2), with(func(s *runbook.Step) {
					s.Retry = runbook.Retry{Attempts: 4, Delay: time.Second, Backoff: 3}
				})))
			},
			status:  runbook.StatusSucceeded,
			ops:     []string{"fail flaky", "fail flaky", "do flaky"},
			elapsed: 4 * time.Second, // 1s, then 3s
			check: func(t *testing.T, h *runbooktest.Harness, w *world) {
				assert.Equal(t, 3, h.Result.Nodes["flaky"].Attempts)
				assert.Equal(t, 2, h.Recorder.Retries("flaky"))
			},
		},
		{
			name: "retry exhausted fails the step",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Step(w.step("flaky", fails(errBoom), with(func(s *runbook.Step) {
					s.Retry = runbook.Retry{Attempts: 3, Delay: time.Second, MaxDelay: 1500 * time.Millisecond}
				})))
			},
			status:      runbook.StatusRolledBack,
			errIs:       errBoom,
			ops:         []string{"do a", "fail flaky", "fail flaky", "fail flaky", "undo a"},
			compensated: []string{"a"},
			elapsed:     2500 * time.Millisecond, // 1s, then 2s capped at 1.5s
			check: func(t *testing.T, h *runbooktest.Harness, w *world) {
				assert.Equal(t, 3, h.Result.Nodes["flaky"].Attempts)
				var se *runbook.StepError
				require.ErrorAs(t, h.Err, &se)
				assert.Equal(t, "flaky", se.Node)
				assert.Equal(t, 3, se.Attempt)
			},
		},
		{
			name: "a permanent error is not retried",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a", fails(runbook.Permanent(errBoom)), with(func(s *runbook.Step) {
					s.Retry = runbook.Retry{Attempts: 5}
				})))
			},
			status: runbook.StatusRolledBack,
			errIs:  errBoom,
			ops:    []string{"fail a"},
			check: func(t *testing.T, h *runbooktest.Harness, w *world) {
				assert.Equal(t, 1, h.Result.Nodes["a"].Attempts)
				assert.True(t, runbook.IsPermanent(h.Err))
			},
		},
		{
			name: "a panic in a step is a failure, not a crash",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a")).Step(w.step("bad", panics("nil map"))).Step(w.step("c"))
			},
			status:      runbook.StatusRolledBack,
			errIs:       runbook.ErrPanic,
			ops:         []string{"do a", "undo a"},
			compensated: []string{"a"},
			check: func(t *testing.T, h *runbooktest.Harness, w *world) {
				assert.Contains(t, h.Err.Error(), "nil map")
			},
		},
		{
			name: "on_fail abort stops without compensating",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a")).Step(w.step("backup", fails(errBoom), with(func(s *runbook.Step) { s.OnFail = runbook.PolicyAbort })))
			},
			status:  runbook.StatusAborted,
			ops:     []string{"do a", "fail backup"},
			pending: []string{"a"},
		},
		{
			name: "on_fail continue warns and goes on",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("notify", fails(errBoom), with(func(s *runbook.Step) { s.OnFail = runbook.PolicyContinue })))
				b.Step(w.step("b"))
			},
			status: runbook.StatusSucceeded,
			ops:    []string{"fail notify", "do b"},
			check: func(t *testing.T, h *runbooktest.Harness, w *world) {
				require.Len(t, h.Result.Warnings, 1)
				assert.ErrorIs(t, h.Result.Warnings[0], errBoom)
			},
		},
		{
			name: "on_fail pause asks; a denial rolls back",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Step(w.step("b", fails(errBoom), with(func(s *runbook.Step) { s.OnFail = runbook.PolicyPause })))
			},
			opts:        []runbooktest.Option{runbooktest.WithApprover(runbooktest.NewApprover().Deny("b", "alice", "no"))},
			status:      runbook.StatusRolledBack,
			ops:         []string{"do a", "fail b", "undo a"},
			compensated: []string{"a"},
		},
		{
			name: "when false skips a step, which counts as done",
			plan: func(w *world, b *runbook.Builder) {
				b.Step(w.step("a", with(func(s *runbook.Step) {
					s.When = func(context.Context, *runbook.Env) (bool, error) { return false, nil }
				})))
				b.Step(w.step("b"))
			},
			status: runbook.StatusSucceeded,
			ops:    []string{"do b"},
			check: func(t *testing.T, h *runbooktest.Harness, w *world) {
				assert.Equal(t, runbook.StateSkipped, h.Result.Nodes["a"].Status)
			},
		},
		{
			name: "an irreversible step is not compensated",
			plan: func(w *world, b *runbook.Builder) {
				s := w.step("email")
				s.Rollbacks, s.Irreversible = nil, true
				b.Step(w.step("a")).Step(s).Step(w.step("c", fails(errBoom)))
			},
			status:      runbook.StatusRolledBack,
			ops:         []string{"do a", "do email", "fail c", "undo a"},
			compensated: []string{"a"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{}
			p, err := build("contract", func(b *runbook.Builder) { tc.plan(w, b) })
			require.NoError(t, err)
			h := runbooktest.New(t, p, tc.opts...)
			res := h.Run()
			h.AssertStatus(tc.status)
			if tc.status == runbook.StatusSucceeded {
				assert.NoError(t, h.Err)
			} else {
				require.Error(t, h.Err)
				var re *runbook.RunError
				assert.ErrorAs(t, h.Err, &re)
			}
			if tc.errIs != nil {
				assert.ErrorIs(t, h.Err, tc.errIs)
			}
			assert.Equal(t, tc.ops, w.log(), "world")
			h.AssertCompensated(tc.compensated...)
			assert.Equal(t, tc.compensated, nilIfEmpty(res.Compensated), "result compensated")
			assert.Equal(t, tc.pending, nilIfEmpty(res.Pending), "pending")
			if tc.elapsed > 0 {
				assert.Equal(t, tc.elapsed, h.Elapsed(), "simulated time")
			}
			if tc.check != nil {
				tc.check(t, h, w)
			}
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestContextCancelledMidStepStillRollsBack(t *testing.T) {
	w := &world{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := mustBuild("cancel", func(b *runbook.Builder) {
		b.Step(w.step("a")).Step(w.step("b"))
		b.Step(runbook.Step{Name: "ctrl_c", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			cancel() // the operator presses Ctrl-C while this step runs
			<-ctx.Done()
			return nil, ctx.Err()
		})})
		b.Step(w.step("never"))
	})
	h := runbooktest.New(t, p, runbooktest.WithContext(ctx))
	h.Run()
	h.AssertStatus(runbook.StatusRolledBack)
	h.AssertCompensated("b", "a")
	assert.Equal(t, []string{"do a", "do b", "undo b", "undo a"}, w.log())
	assert.ErrorIs(t, h.Err, context.Canceled)
	assert.Equal(t, runbook.StateCancelled, h.Result.Nodes["ctrl_c"].Status)
}

func TestParallelismIsBounded(t *testing.T) {
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	running, peak := 0, 0
	p := mustBuild("bounded", func(b *runbook.Builder) {
		b.Parallel(func(b *runbook.Builder) {
			for _, n := range []string{"a", "b", "c", "d", "e"} {
				b.Step(runbook.Step{Name: n, Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
					<-mu
					running++
					peak = max(peak, running)
					mu <- struct{}{}
					err := env.Clock().Sleep(ctx, time.Minute)
					<-mu
					running--
					mu <- struct{}{}
					return nil, err
				})})
			}
		})
	})
	h := runbooktest.New(t, p, runbooktest.WithExecutor(func(e *runbook.Executor) { e.Parallelism = 2 }))
	h.Run()
	h.AssertStatus(runbook.StatusSucceeded)
	assert.Equal(t, 2, peak)
	assert.Equal(t, 3*time.Minute, h.Elapsed())
	// Lowest declaration index first; the harness lists nodes started at
	// the same instant in plan order.
	h.AssertExecuted("a", "b", "c", "d", "e")
}

func TestCompensationTimeoutDoesNotSkipSimulatedTime(t *testing.T) {
	w := &world{}
	p := mustBuild("rbtime", func(b *runbook.Builder) {
		b.Step(w.step("a")).Step(w.step("b", fails(errBoom)))
	})
	h := runbooktest.New(t, p)
	h.Run()
	h.AssertStatus(runbook.StatusRolledBack)
	// The rollback's own 10-minute timeout must not fire while it works.
	assert.Equal(t, time.Duration(0), h.Elapsed())
}

func TestStepTimeoutOnRealClock(t *testing.T) {
	p := mustBuild("real", func(b *runbook.Builder) {
		b.Step(runbook.Step{Name: "hang", Irreversible: true, Timeout: 20 * time.Millisecond, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		})})
	})
	res, err := (&runbook.Executor{}).Run(context.Background(), p, runbook.RunOptions{})
	require.Error(t, err)
	assert.ErrorIs(t, err, runbook.ErrTimeout)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
}

func TestSimultaneousCompletionsCompensateDeterministically(t *testing.T) {
	for range 20 {
		w := &world{}
		p := mustBuild("simultaneous", func(b *runbook.Builder) {
			b.Step(w.step("maintenance_on"))
			b.Parallel(func(b *runbook.Builder) {
				b.Step(w.step("backend"))
				b.Step(w.step("ml_service", with(func(s *runbook.Step) { s.DependsOn = []string{"mqtt_bridge"} })))
				b.Step(w.step("mqtt_bridge"))
				b.Step(w.step("frontend"))
			})
			b.Step(w.step("smoke", fails(errBoom)))
		})
		h := runbooktest.New(t, p)
		h.Run()
		h.AssertStatus(runbook.StatusRolledBack)
		// All completed at the same simulated instant: the rollback is in
		// reverse dependency-then-plan order, every time; ml_service
		// depends on mqtt_bridge, so it is undone first.
		if !h.AssertCompensated("ml_service", "frontend", "mqtt_bridge", "backend", "maintenance_on") {
			return
		}
		assert.Equal(t, []string{"maintenance_on", "backend", "mqtt_bridge", "frontend", "ml_service"}, h.Result.Completed)
	}
}

func TestRollbackLaterMatchesInProcessOrderForParallelSteps(t *testing.T) {
	for range 10 {
		w := &world{}
		p := mustBuild("later", func(b *runbook.Builder) {
			b.Parallel(func(b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Step(w.step("b"))
				b.Step(w.step("c"))
			})
		})
		j := &runbook.MemJournal{}
		h := runbooktest.New(t, p, runbooktest.WithJournal(j))
		res := h.Run()
		h.AssertStatus(runbook.StatusSucceeded)
		h2 := runbooktest.New(t, p, runbooktest.WithJournal(j))
		h2.Rollback(res.Run.ID)
		if !h2.AssertCompensated("c", "b", "a") {
			return
		}
	}
}
