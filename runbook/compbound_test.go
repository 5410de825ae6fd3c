package runbook_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
)

// compensationCtx is what a rollback saw of its context.
type compensationCtx struct {
	after      time.Time // the end of the compensation before
	start      time.Time
	deadline   time.Time
	hasDL      bool
	errAtStart error
	err        error
	cause      error
	ctx        context.Context
}

// TestCompensationTimeoutOnRealClock: on a real clock each compensation
// attempt is bounded by the rollback timeout — its context reports the
// deadline, is cancelled with cause ErrTimeout and Err DeadlineExceeded
// when it passes — and a later compensation (or retry) gets a live context
// of its own, also after a panic. The failure names the timeout.
func TestCompensationTimeoutOnRealClock(t *testing.T) {
	const timeout = 80 * time.Millisecond
	var mu sync.Mutex
	seen := map[string][]compensationCtx{}
	var lastEnd time.Time
	note := func(name string, ctx context.Context, start time.Time, errAtStart error) {
		dl, ok := ctx.Deadline()
		mu.Lock()
		defer mu.Unlock()
		seen[name] = append(seen[name], compensationCtx{after: lastEnd, start: start, deadline: dl, hasDL: ok, errAtStart: errAtStart,
			err: ctx.Err(), cause: context.Cause(ctx), ctx: ctx})
		lastEnd = time.Now()
	}
	ok := func(name string) runbook.Rollback {
		return runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
			start, e := time.Now(), ctx.Err()
			time.Sleep(timeout / 4)
			note(name, ctx, start, e)
			return nil
		})
	}
	do := runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil })
	boom := errors.New("boom")
	p := mustBuild("rbreal", func(b *runbook.Builder) {
		b.Step(runbook.Step{Name: "a", Action: do, Rollbacks: []runbook.Rollback{ok("a")}})
		b.Step(runbook.Step{Name: "b", Action: do, Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
			note("b", ctx, time.Now(), ctx.Err())
			panic("rollback b exploded")
		})}})
		b.Step(runbook.Step{Name: "c", Action: do, Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
			start, e := time.Now(), ctx.Err()
			<-ctx.Done()
			note("c", ctx, start, e)
			return ctx.Err()
		})}})
		b.Step(runbook.Step{Name: "d", Action: do, Rollbacks: []runbook.Rollback{ok("d")}})
		b.Step(runbook.Step{Name: "e", Irreversible: true, Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			return nil, boom
		})})
	})
	var failures []runbook.CompensationFailed
	ex := &runbook.Executor{RollbackTimeout: timeout, RollbackRetry: &runbook.Retry{Attempts: 2, Delay: time.Millisecond},
		Observer: runbook.ObserverFunc(func(ev runbook.Event) {
			if f, ok := ev.(runbook.CompensationFailed); ok {
				failures = append(failures, f)
			}
		})}
	start := time.Now()
	res, err := ex.Run(context.Background(), p, runbook.RunOptions{})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, runbook.StatusRollbackIncomplete, res.Status)
	assert.Equal(t, []string{"d", "a"}, res.Compensated)
	assert.GreaterOrEqual(t, time.Since(start), 2*timeout, "c's two attempts ran to their timeout")

	require.Len(t, seen["c"], 2, "c: one context per attempt")
	for i, c := range seen["c"] {
		assert.NoError(t, c.errAtStart, "c attempt %d starts with a live context", i+1)
		assert.True(t, c.hasDL, "c attempt %d has a deadline", i+1)
		assert.False(t, c.deadline.Before(c.after.Add(timeout)) || c.deadline.After(c.start.Add(timeout)),
			"c attempt %d: the deadline %s is one timeout after the attempt began (between %s and %s)", i+1, c.deadline, c.after.Add(timeout), c.start.Add(timeout))
		assert.ErrorIs(t, c.err, context.DeadlineExceeded, "c attempt %d", i+1)
		assert.ErrorIs(t, c.cause, runbook.ErrTimeout, "c attempt %d", i+1)
	}
	require.Len(t, seen["b"], 2)
	for _, name := range []string{"d", "b", "a"} {
		for i, c := range seen[name] {
			assert.NoError(t, c.errAtStart, "%s attempt %d starts with a live context", name, i+1)
			assert.True(t, c.hasDL && !c.deadline.Before(c.after.Add(timeout)) && !c.deadline.After(c.start.Add(timeout)),
				"%s attempt %d: the deadline %s is one timeout after the attempt began", name, i+1, c.deadline)
		}
	}
	// The rollback is over: no compensation's context is left live.
	for _, c := range seen["a"] {
		assert.Error(t, c.ctx.Err(), "a's context is done once the rollback ended")
	}
	var cFails []string
	for _, f := range failures {
		if f.Node == "c" {
			cFails = append(cFails, f.Error)
		}
	}
	require.Len(t, cFails, 2)
	for _, msg := range cFails {
		assert.Contains(t, msg, "runbook: timeout after 80ms")
	}
}

// TestCompensationBoundsAreTheirOwn: compensations that each take most of
// the timeout, one after another, all finish: each is bounded from its own
// start, not from the first one's.
func TestCompensationBoundsAreTheirOwn(t *testing.T) {
	const timeout, work = 600 * time.Millisecond, 350 * time.Millisecond
	do := runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil })
	slow := runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
		select {
		case <-time.After(work):
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	boom := errors.New("boom")
	p := mustBuild("rbslow", func(b *runbook.Builder) {
		for _, n := range []string{"a", "b", "c"} {
			b.Step(runbook.Step{Name: n, Action: do, Rollbacks: []runbook.Rollback{slow}})
		}
		b.Step(runbook.Step{Name: "fail", Irreversible: true, Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			return nil, boom
		})})
	})
	ex := &runbook.Executor{RollbackTimeout: timeout, RollbackRetry: &runbook.Retry{Attempts: 1}}
	res, err := ex.Run(context.Background(), p, runbook.RunOptions{})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, []string{"c", "b", "a"}, res.Compensated)
}
