package temporal_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
	"github.com/handrail-dev/handrail/temporal"
)

var t0 = time.Date(2026, time.January, 1, 2, 0, 0, 0, time.UTC)

var errBoom = errors.New("boom")

// world records what steps and rollbacks did to it, in order.
type world struct {
	mu  sync.Mutex
	ops []string
}

func (w *world) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops = append(w.ops, s)
}

func (w *world) log() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string{}, w.ops...)
}

type stepCfg struct {
	err   error
	failN int
	sleep time.Duration
	rbErr int
}

type stepOpt func(*runbook.Step, *stepCfg)

func fails(err error) stepOpt { return func(_ *runbook.Step, c *stepCfg) { c.err = err } }
func failsFirst(n int) stepOpt {
	return func(_ *runbook.Step, c *stepCfg) { c.failN = n; c.err = errors.New("transient") }
}
func takes(d time.Duration) stepOpt        { return func(_ *runbook.Step, c *stepCfg) { c.sleep = d } }
func rollbackFails(n int) stepOpt          { return func(_ *runbook.Step, c *stepCfg) { c.rbErr = n } }
func with(f func(s *runbook.Step)) stepOpt { return func(s *runbook.Step, _ *stepCfg) { f(s) } }

// step returns a step that logs "do NAME" (after waiting its duration on
// the run's clock) and whose rollback logs "undo NAME" (NAME read from its
// own outputs, as a natural rollback would).
func (w *world) step(name string, opts ...stepOpt) runbook.Step {
	cfg := &stepCfg{}
	s := runbook.Step{Name: name}
	for _, o := range opts {
		o(&s, cfg)
	}
	var mu sync.Mutex
	n, rbn := 0, 0
	s.Action = runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
		mu.Lock()
		n++
		attempt := n
		mu.Unlock()
		if cfg.sleep > 0 {
			if err := env.Clock().Sleep(ctx, cfg.sleep); err != nil {
				w.add("cancelled " + name)
				return nil, err
			}
		}
		if cfg.err != nil && (cfg.failN == 0 || attempt <= cfg.failN) {
			w.add("fail " + name)
			return nil, cfg.err
		}
		w.add("do " + name)
		return runbook.Outputs{"name": name}, nil
	})
	s.Rollbacks = []runbook.Rollback{runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
		if ctx.Err() != nil {
			return fmt.Errorf("rollback of %s ran under a cancelled context", name)
		}
		mu.Lock()
		rbn++
		k := rbn
		mu.Unlock()
		if cfg.rbErr < 0 || k <= cfg.rbErr {
			w.add("undo-fail " + name)
			return errors.New("rollback broke")
		}
		who, _ := env.Self()["name"].(string)
		w.add("undo " + who)
		return nil
	})}
	return s
}

// timedProbe returns healthy until the run's clock reaches t0+at, then bad.
func timedProbe(at time.Duration, healthy, bad float64) runbook.Probe {
	return runbook.ProbeFunc(func(_ context.Context, env *runbook.Env) (runbook.Sample, error) {
		if env.Clock().Now().Before(t0.Add(at)) {
			return runbook.Sample{Value: healthy}, nil
		}
		return runbook.Sample{Value: bad}, nil
	})
}

func below(limit float64) runbook.Condition {
	return runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) {
		f, ok := v.(float64)
		if !ok {
			return false, fmt.Errorf("not a number: %v", v)
		}
		return f < limit, nil
	})
}

func mustBuild(t *testing.T, name string, fn func(b *runbook.Builder)) *runbook.Plan {
	t.Helper()
	b := runbook.NewBuilder(name)
	fn(b)
	p, err := b.Build()
	require.NoError(t, err)
	return p
}

// fastClock sleeps 1/3000 of the asked time on the wall clock
// (one simulated minute is 20ms), so that the order in which steps of a
// parallel group finish is the order their durations say, without waiting
// for them.
type fastClock struct{}

func (fastClock) Now() time.Time { return time.Now() }

func (fastClock) Sleep(ctx context.Context, d time.Duration) error {
	return runbook.RealClock{}.Sleep(ctx, d/3000)
}

// temporalRun is a run of a plan in Temporal's test environment.
type temporalRun struct {
	env    *testsuite.TestWorkflowEnvironment
	rec    *runbooktest.Recorder
	result *temporal.Result
	err    error
}

type tOpt func(env *testsuite.TestWorkflowEnvironment, in *temporal.Input)

// runOnTemporal runs p (served by a worker holding served, p by default)
// in a fresh test environment starting at t0.
func runOnTemporal(t *testing.T, p *runbook.Plan, served *runbook.Plan, opts ...tOpt) *temporalRun {
	t.Helper()
	if served == nil {
		served = p
	}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	env.SetTestTimeout(30 * time.Second)
	// The suite runs with -race on 2 busy cores: a workflow task may take
	// longer than the SDK's default 1s deadlock detection.
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
	rec := &runbooktest.Recorder{}
	r, err := temporal.NewRunner(temporal.Plans(served), temporal.Options{Observer: rec, Clock: fastClock{}})
	require.NoError(t, err)
	r.Register(env)
	in, err := temporal.NewInput(p)
	require.NoError(t, err)
	in.RunID = "run-1"
	for _, o := range opts {
		o(env, &in)
	}
	env.ExecuteWorkflow(temporal.WorkflowName, in)
	require.True(t, env.IsWorkflowCompleted())
	tr := &temporalRun{env: env, rec: rec}
	if tr.err = env.GetWorkflowError(); tr.err == nil {
		var res temporal.Result
		require.NoError(t, env.GetWorkflowResult(&res))
		tr.result = &res
	}
	return tr
}

// signalAt sends a decision after d of workflow time.
func signalAt(d time.Duration, s temporal.ApprovalSignal) tOpt {
	return func(env *testsuite.TestWorkflowEnvironment, _ *temporal.Input) {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(temporal.SignalDecision, s) }, d)
	}
}

func rollbackRetry(r runbook.Retry) tOpt {
	return func(_ *testsuite.TestWorkflowEnvironment, in *temporal.Input) { in.RollbackRetry = &r }
}

func quietLogger() tlog.Logger { return tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }
