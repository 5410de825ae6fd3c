package runbooktest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// Start is the simulated time at which harness runs begin unless [At] says
// otherwise: 2026-01-01 02:00 UTC, the start of a night maintenance window.
var Start = time.Date(2026, time.January, 1, 2, 0, 0, 0, time.UTC)

// ErrInjected is wrapped by every failure the harness injects.
var ErrInjected = errors.New("runbooktest: injected failure")

// Harness runs one plan on a [runbook.SimClock] for a test. Build it with
// [New]; run it with [Harness.Run]; inspect it with the Assert methods, the
// [Recorder] and the [runbook.Result].
type Harness struct {
	tb       testing.TB
	plan     *runbook.Plan
	Clock    *runbook.SimClock
	Recorder *Recorder
	Journal  runbook.Journal
	Approver runbook.Approver
	// Executor is the executor the harness runs with; options and tests
	// may adjust it before Run.
	Executor *runbook.Executor
	// Result and Err are those of the last Run, Resume or Rollback.
	Result *runbook.Result
	Err    error

	start    time.Time
	runOpts  runbook.RunOptions
	wall     time.Duration
	ctx      context.Context
	inj      *injections
	observer []runbook.Observer
}

// Option configures a [Harness].
type Option func(*Harness)

// At starts the simulated clock at t.
func At(t time.Time) Option { return func(h *Harness) { h.start = t } }

// WithClock runs on c instead of a new simulated clock (to share it with
// approvers or fakes built before the harness).
func WithClock(c *runbook.SimClock) Option { return func(h *Harness) { h.Clock = c } }

// WithJournal makes runs write to j (default: a new [runbook.MemJournal]).
func WithJournal(j runbook.Journal) Option { return func(h *Harness) { h.Journal = j } }

// WithApprover answers approvals with a (default: a new [Approver] that
// approves everything).
func WithApprover(a runbook.Approver) Option { return func(h *Harness) { h.Approver = a } }

// WithObserver sends events to o as well as to the recorder.
func WithObserver(o runbook.Observer) Option {
	return func(h *Harness) { h.observer = append(h.observer, o) }
}

// WithRunOptions sets the options of every run.
func WithRunOptions(o runbook.RunOptions) Option { return func(h *Harness) { h.runOpts = o } }

// WithContext runs with ctx (default: context.Background()).
func WithContext(ctx context.Context) Option { return func(h *Harness) { h.ctx = ctx } }

// WithExecutor lets fn adjust the executor (parallelism, rollback retry,
// jitter source) before runs.
func WithExecutor(fn func(e *runbook.Executor)) Option {
	return func(h *Harness) { fn(h.Executor) }
}

// WallTimeout fails the test when a run takes longer than d of wall time
// (default 30s): a simulated run that does not finish is almost always
// waiting on something outside the clock.
func WallTimeout(d time.Duration) Option { return func(h *Harness) { h.wall = d } }

// New returns a harness for plan. It fails the test at once when plan is
// nil. Failure injections among opts apply to every run of the harness.
func New(tb testing.TB, plan *runbook.Plan, opts ...Option) *Harness {
	tb.Helper()
	if plan == nil {
		tb.Fatalf("runbooktest.New: nil plan")
	}
	h := &Harness{tb: tb, start: Start, Recorder: &Recorder{}, wall: 30 * time.Second, ctx: context.Background(), inj: &injections{}}
	h.Executor = &runbook.Executor{Rand: func() float64 { return 0.5 }}
	for _, o := range opts {
		o(h)
	}
	if h.Clock == nil {
		h.Clock = runbook.NewSimClock(h.start)
	} else {
		h.start = h.Clock.Now()
	}
	if h.Journal == nil {
		h.Journal = &runbook.MemJournal{}
	}
	if h.Approver == nil {
		h.Approver = NewApprover()
	}
	if a, ok := h.Approver.(*Approver); ok && a.Clock == nil {
		a.Clock = h.Clock
	}
	h.Executor.Clock = h.Clock
	h.Executor.Journal = h.Journal
	h.Executor.Approver = h.Approver
	obs := runbook.MultiObserver{h.Recorder}
	obs = append(obs, h.observer...)
	h.Executor.Observer = obs
	h.plan = h.inj.apply(plan, h)
	return h
}

// Run is New followed by [Harness.Run]: it runs plan once on a simulated
// clock and returns the harness to assert on.
func Run(tb testing.TB, plan *runbook.Plan, opts ...Option) *Harness {
	tb.Helper()
	h := New(tb, plan, opts...)
	h.Run()
	return h
}

// Plan returns the plan the harness runs: the caller's plan with the
// failure injections applied.
func (h *Harness) Plan() *runbook.Plan { return h.plan }

// Elapsed returns the simulated time since the harness's start.
func (h *Harness) Elapsed() time.Duration { return h.Clock.Now().Sub(h.start) }

// Run runs the plan and returns its result. A run that does not succeed is
// not a test failure (assert on it); a run that cannot start, or does not
// end within the wall timeout, fails the test.
func (h *Harness) Run() *runbook.Result {
	h.tb.Helper()
	return h.do("run", func(ctx context.Context) (*runbook.Result, error) {
		return h.Executor.Run(ctx, h.plan, h.runOpts)
	})
}

// Resume resumes the run with the given id from the harness's journal.
func (h *Harness) Resume(runID string) *runbook.Result {
	h.tb.Helper()
	return h.do("resume", func(ctx context.Context) (*runbook.Result, error) {
		return h.Executor.Resume(ctx, h.plan, runID, h.runOpts)
	})
}

// Rollback rolls back the run with the given id from the harness's journal.
func (h *Harness) Rollback(runID string) *runbook.Result {
	h.tb.Helper()
	return h.do("rollback", func(ctx context.Context) (*runbook.Result, error) {
		return h.Executor.Rollback(ctx, h.plan, runID, h.runOpts)
	})
}

func (h *Harness) do(what string, fn func(ctx context.Context) (*runbook.Result, error)) *runbook.Result {
	h.tb.Helper()
	type out struct {
		res *runbook.Result
		err error
	}
	ch := make(chan out, 1)
	go func() {
		res, err := fn(h.ctx)
		ch <- out{res, err}
	}()
	timer := time.NewTimer(h.wall)
	defer timer.Stop()
	select {
	case o := <-ch:
		h.Result, h.Err = o.res, o.err
	case <-timer.C:
		h.tb.Fatalf("runbooktest: %s of %q did not end within %s of wall time (simulated time %s): is a step waiting on something other than env.Clock()?", what, h.plan.Name, h.wall, h.Elapsed())
		return nil
	}
	if h.Result == nil {
		h.tb.Fatalf("runbooktest: %s of %q could not start: %v", what, h.plan.Name, h.Err)
	}
	return h.Result
}

func (h *Harness) result() *runbook.Result {
	h.tb.Helper()
	if h.Result == nil {
		h.tb.Fatalf("runbooktest: no result yet: call Run first")
	}
	return h.Result
}

// Executed returns the nodes that started, in the order they first
// started; nodes that started at the same simulated instant (the branches of
// a parallel group) are listed in plan order, so that the list does not
// depend on how goroutines were scheduled.
func (h *Harness) Executed() []string {
	ex := h.Recorder.Executed()
	at := make(map[string]time.Time, len(ex))
	idx := make(map[string]int, len(ex))
	for _, n := range ex {
		at[n], _ = h.Recorder.StartedAt(n)
		if node, ok := h.plan.Node(n); ok {
			idx[n] = node.Index
		}
	}
	sort.SliceStable(ex, func(i, j int) bool {
		if !at[ex[i]].Equal(at[ex[j]]) {
			return at[ex[i]].Before(at[ex[j]])
		}
		return idx[ex[i]] < idx[ex[j]]
	})
	return ex
}

// Compensated returns the steps compensated, in order.
func (h *Harness) Compensated() []string { return h.Recorder.Compensated() }

// AssertStatus checks the final status of the last run and reports whether
// it matched.
func (h *Harness) AssertStatus(want runbook.Status) bool {
	h.tb.Helper()
	res := h.result()
	if res.Status != want {
		h.tb.Errorf("status = %s, want %s (error: %v)", res.Status, want, h.Err)
		return false
	}
	return true
}

// AssertExecuted checks the order in which nodes first started (see
// [Harness.Executed]).
func (h *Harness) AssertExecuted(want ...string) bool {
	h.tb.Helper()
	return h.assertList("executed", h.Executed(), want)
}

// AssertCompleted checks the order in which nodes completed.
func (h *Harness) AssertCompleted(want ...string) bool {
	h.tb.Helper()
	return h.assertList("completed", h.Recorder.Completed(), want)
}

// AssertCompensated checks the order in which steps were compensated.
func (h *Harness) AssertCompensated(want ...string) bool {
	h.tb.Helper()
	return h.assertList("compensated", h.Recorder.Compensated(), want)
}

// AssertPending checks what the last run left to undo.
func (h *Harness) AssertPending(want ...string) bool {
	h.tb.Helper()
	return h.assertList("pending", h.result().Pending, want)
}

// AssertErrorIs checks that the last run's error matches target.
func (h *Harness) AssertErrorIs(target error) bool {
	h.tb.Helper()
	if !errors.Is(h.Err, target) {
		h.tb.Errorf("error = %v, want one matching %v", h.Err, target)
		return false
	}
	return true
}

func (h *Harness) assertList(what string, got, want []string) bool {
	h.tb.Helper()
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	if !reflect.DeepEqual(got, want) {
		h.tb.Errorf("%s order:\n got %q\nwant %q", what, got, want)
		return false
	}
	return true
}

// injections holds the failures scripted for a harness.
type injections struct {
	mu       sync.Mutex
	actions  map[string][]func(h *Harness, attempt int, next runbook.Action) runbook.Action
	rollback map[string][]func(h *Harness, attempt int, next runbook.Rollback) runbook.Rollback
	breaches map[string]breach
	counts   map[string]int
}

type breach struct {
	check string
	after time.Duration
}

func (in *injections) addAction(node string, f func(h *Harness, attempt int, next runbook.Action) runbook.Action) {
	if in.actions == nil {
		in.actions = map[string][]func(*Harness, int, runbook.Action) runbook.Action{}
	}
	in.actions[node] = append(in.actions[node], f)
}

func (in *injections) next(key string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.counts == nil {
		in.counts = map[string]int{}
	}
	in.counts[key]++
	return in.counts[key]
}

func (in *injections) apply(p *runbook.Plan, h *Harness) *runbook.Plan {
	if len(in.actions) == 0 && len(in.rollback) == 0 && len(in.breaches) == 0 {
		return p
	}
	for _, name := range sortedKeys(in.actions, in.rollback, in.breaches) {
		n, ok := p.Node(name)
		if !ok {
			h.tb.Fatalf("runbooktest: failure injected into unknown node %q of plan %q", name, p.Name)
			return p
		}
		_, act := in.actions[name]
		_, rb := in.rollback[name]
		if (act || rb) && n.Step == nil {
			h.tb.Fatalf("runbooktest: %q is a gate: Fail, FailAttempt, FailAfterEffect, NoAnswer, Delay, Latency, Panic and FailRollback act on steps; use BreachAt for a check, soak or guard gate", name)
			return p
		}
		if _, br := in.breaches[name]; br && (n.Gate == nil || n.Gate.Kind == runbook.GateApproval) {
			h.tb.Fatalf("runbooktest: BreachAt(%q): not a check, soak or guard gate; use Fail for a step or a scripted Approver for an approval", name)
			return p
		}
	}
	return p.Intercept(runbook.Interceptor{
		Action: func(n *runbook.Node, a runbook.Action) runbook.Action {
			fs := in.actions[n.Name]
			if len(fs) == 0 {
				return a
			}
			return runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
				attempt := in.next("do:" + n.Name)
				var act runbook.Action = a
				for _, f := range fs {
					act = f(h, attempt, act)
				}
				return act.Do(ctx, env)
			})
		},
		Rollback: func(n *runbook.Node, fallback int, rb runbook.Rollback) runbook.Rollback {
			fs := in.rollback[n.Name]
			if len(fs) == 0 || fallback > 0 {
				return rb
			}
			return runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
				attempt := in.next("undo:" + n.Name)
				var r runbook.Rollback = rb
				for _, f := range fs {
					r = f(h, attempt, r)
				}
				return r.Compensate(ctx, env)
			})
		},
		Check: func(n *runbook.Node, k int, c runbook.Check) runbook.Check {
			b, ok := in.breaches[n.Name]
			if !ok || (b.check != "" && b.check != c.Name) {
				return c
			}
			breached := func() bool {
				at, ok := h.Recorder.StartedAt(n.Name)
				return ok && !h.Clock.Now().Before(at.Add(b.after))
			}
			success, failure := c.Success, c.Failure
			if success != nil {
				c.Success = runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) {
					if breached() {
						return false, nil
					}
					return success.Holds(env, v)
				})
			}
			if failure != nil {
				c.Failure = runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) {
					if breached() {
						return true, nil
					}
					return failure.Holds(env, v)
				})
			}
			return c
		},
	})
}

func sortedKeys[A, B, C any](a map[string]A, b map[string]B, c map[string]C) []string {
	seen := map[string]bool{}
	var out []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for k := range a {
		add(k)
	}
	for k := range b {
		add(k)
	}
	for k := range c {
		add(k)
	}
	return out
}

// FailAttempt makes attempt n (counted from 1 over the harness's life) of
// the step's action fail with err (a default error wrapping [ErrInjected]
// when err is nil), without running the action.
func FailAttempt(node string, n int, err error) Option {
	return func(h *Harness) {
		h.inj.addAction(node, func(_ *Harness, attempt int, next runbook.Action) runbook.Action {
			if attempt != n {
				return next
			}
			return failing(node, attempt, err)
		})
	}
}

// Fail makes every attempt of the step's action fail with err (a default
// error wrapping [ErrInjected] when err is nil).
func Fail(node string, err error) Option {
	return func(h *Harness) {
		h.inj.addAction(node, func(_ *Harness, attempt int, _ runbook.Action) runbook.Action {
			return failing(node, attempt, err)
		})
	}
}

func failing(node string, attempt int, err error) runbook.Action {
	if err == nil {
		err = fmt.Errorf("%w: %s attempt %d", ErrInjected, node, attempt)
	}
	return runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, err })
}

// Delay makes every attempt of the step wait d on the run's clock before
// its action runs (so a timeout or a guard can catch it).
func Delay(node string, d time.Duration) Option {
	return func(h *Harness) {
		h.inj.addAction(node, func(_ *Harness, _ int, next runbook.Action) runbook.Action {
			return runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
				if err := env.Clock().Sleep(ctx, d); err != nil {
					return nil, err
				}
				return next.Do(ctx, env)
			})
		})
	}
}

// Panic makes the step's action panic with v.
func Panic(node string, v any) Option {
	return func(h *Harness) {
		h.inj.addAction(node, func(_ *Harness, _ int, _ runbook.Action) runbook.Action {
			return runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { panic(v) })
		})
	}
}

// FailRollback makes the first `times` attempts of the step's first
// compensation fail (every attempt when times <= 0).
func FailRollback(node string, times int) Option {
	return func(h *Harness) {
		if h.inj.rollback == nil {
			h.inj.rollback = map[string][]func(*Harness, int, runbook.Rollback) runbook.Rollback{}
		}
		h.inj.rollback[node] = append(h.inj.rollback[node], func(_ *Harness, attempt int, next runbook.Rollback) runbook.Rollback {
			if times > 0 && attempt > times {
				return next
			}
			return runbook.RollbackFunc(func(context.Context, *runbook.Env) error {
				return fmt.Errorf("%w: rollback of %s attempt %d", ErrInjected, node, attempt)
			})
		})
	}
}

// BreachAt makes every check of the gate breach from `after` (simulated
// time since the gate started) on: its success condition stops holding and
// its failure condition holds.
func BreachAt(gate string, after time.Duration) Option {
	return BreachCheckAt(gate, "", after)
}

// BreachCheckAt is [BreachAt] for one named check of the gate.
func BreachCheckAt(gate, check string, after time.Duration) Option {
	return func(h *Harness) {
		if h.inj.breaches == nil {
			h.inj.breaches = map[string]breach{}
		}
		h.inj.breaches[gate] = breach{check: check, after: after}
	}
}

// FailAfterEffect makes every attempt of the step run its action (the
// effect happens) and then fail with err, as if the answer were lost (a
// connection reset after the server applied the change): the step gets
// no outputs. err defaults to an error wrapping [ErrInjected]; an error of
// the action itself is returned as it is. The step's retry policy applies.
// This is the failure a checkpoint (runbook.Env.Checkpoint) must survive.
func FailAfterEffect(node string, err error) Option {
	return FailAfterEffectAttempt(node, 0, err)
}

// FailAfterEffectAttempt is [FailAfterEffect] for attempt n only (counted
// from 1 over the harness's life; 0: every attempt): a retry after a lost
// answer.
func FailAfterEffectAttempt(node string, n int, err error) Option {
	return func(h *Harness) {
		h.inj.addAction(node, func(_ *Harness, attempt int, next runbook.Action) runbook.Action {
			if n > 0 && attempt != n {
				return next
			}
			return runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
				if _, aerr := next.Do(ctx, env); aerr != nil {
					return nil, aerr
				}
				if err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("%w: %s attempt %d: the effect happened, the answer was lost (connection reset)", ErrInjected, node, attempt)
			})
		})
	}
}

// NoAnswerAfter is how long a [NoAnswer] step waits, on the run's clock,
// when no step timeout ends the wait first.
const NoAnswerAfter = time.Hour

// NoAnswer makes every attempt of the step run its action (the effect
// happens) and then never answer: the attempt waits on the run's clock
// until the step's timeout cancels it, or fails after [NoAnswerAfter]
// with runbook.ErrTimeout when the step has no timeout. The step's retry
// policy applies.
func NoAnswer(node string) Option { return NoAnswerAttempt(node, 0) }

// NoAnswerAttempt is [NoAnswer] for attempt n only (counted from 1 over
// the harness's life; 0: every attempt).
func NoAnswerAttempt(node string, n int) Option {
	return func(h *Harness) {
		h.inj.addAction(node, func(_ *Harness, attempt int, next runbook.Action) runbook.Action {
			if n > 0 && attempt != n {
				return next
			}
			return runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
				if _, err := next.Do(ctx, env); err != nil {
					return nil, err
				}
				if err := env.Clock().Sleep(ctx, NoAnswerAfter); err != nil {
					return nil, fmt.Errorf("%w: %s attempt %d: no answer after the effect: %w", ErrInjected, node, attempt, err)
				}
				return nil, fmt.Errorf("%w: %s attempt %d: no answer %s after the effect: %w", ErrInjected, node, attempt, NoAnswerAfter, runbook.ErrTimeout)
			})
		})
	}
}

// Latency makes every attempt of the step take d of simulated time before
// its action runs, as a slow call would: the same as [Delay], named after
// the fault mode of test files (`fault { mode = "latency" }`).
func Latency(node string, d time.Duration) Option { return Delay(node, d) }
