package runbook_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
)

// leaseJournal is a MemJournal with a run lock whose lease the test loses
// at will, and a log of the calls in order.
type leaseJournal struct {
	runbook.MemJournal
	mu    sync.Mutex
	calls []string
	lease *testLease
}

type testLease struct {
	lost     chan struct{}
	once     sync.Once
	err      error
	released bool
}

func (l *testLease) Lost() <-chan struct{} { return l.lost }
func (l *testLease) Err() error {
	select {
	case <-l.lost:
		return l.err
	default:
		return nil
	}
}
func (l *testLease) Release() error { l.released = true; return l.Err() }
func (l *testLease) lose(who string) {
	l.once.Do(func() {
		l.err = fmt.Errorf("test lock lost; now held by %s: %w", who, runbook.ErrLockLost)
		close(l.lost)
	})
}

func (j *leaseJournal) log(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, s)
}

func (j *leaseJournal) Lock(context.Context, string) (runbook.Lease, error) {
	j.log("lock")
	j.lease = &testLease{lost: make(chan struct{})}
	return j.lease, nil
}

func (j *leaseJournal) Load(ctx context.Context, run string) ([]runbook.Record, error) {
	j.log("load")
	return j.MemJournal.Load(ctx, run)
}

// AppendFenced refuses once the lease is lost, as a journal does once
// another holder took the lock.
func (j *leaseJournal) AppendFenced(ctx context.Context, l runbook.Lease, recs ...runbook.Record) error {
	if err := l.Err(); err != nil {
		return err
	}
	return j.MemJournal.Append(ctx, recs...)
}

// TestResumeAndRollbackLockBeforeLoad: the run lock is taken before the
// journal is read, so that the state acted on cannot be changed by the
// lock's previous holder after it was read.
func TestResumeAndRollbackLockBeforeLoad(t *testing.T) {
	w := &world{}
	p := mustBuild("resume", func(b *runbook.Builder) {
		b.Step(w.step("a")).Step(w.step("b", with(func(s *runbook.Step) { s.Idempotent = true }))).Step(w.step("c"))
	})
	for _, mode := range []string{"resume", "rollback"} {
		t.Run(mode, func(t *testing.T) {
			j := &leaseJournal{}
			j.MemJournal = *crashed(t, p)
			ex := &runbook.Executor{Journal: j, Clock: runbook.NewSimClock(t0)}
			var res *runbook.Result
			if mode == "resume" {
				res, _ = ex.Resume(context.Background(), p, "r1", runbook.RunOptions{})
			} else {
				res, _ = ex.Rollback(context.Background(), p, "r1", runbook.RunOptions{})
			}
			require.NotNil(t, res)
			require.NotEmpty(t, j.calls)
			assert.Equal(t, []string{"lock", "load"}, j.calls[:2])
			assert.True(t, j.lease.released)
		})
	}
}

// TestLeaseLostStopsTheRun: when the lease is lost while a step runs, the
// step is cancelled, nothing new starts, nothing is compensated, and the
// run ends interrupted with an error naming the new holder.
func TestLeaseLostStopsTheRun(t *testing.T) {
	w := &world{}
	j := &leaseJournal{}
	inside := make(chan struct{})
	b := runbook.NewBuilder("lease")
	b.Step(runbook.Step{Name: "a", Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
		w.add("do a")
		return nil, nil
	}), Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(context.Context, *runbook.Env) error { w.add("undo a"); return nil })}})
	b.Step(runbook.Step{Name: "b", Action: runbook.ActionFunc(func(ctx context.Context, _ *runbook.Env) (runbook.Outputs, error) {
		close(inside)
		<-ctx.Done()
		w.add("b cancelled")
		return nil, context.Cause(ctx)
	}), Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(context.Context, *runbook.Env) error { w.add("undo b"); return nil })}})
	b.Step(runbook.Step{Name: "c", Irreversible: true, Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
		w.add("do c")
		return nil, nil
	})})
	p, err := b.Build()
	require.NoError(t, err)
	ex := &runbook.Executor{Journal: j}
	go func() {
		<-inside
		j.lease.lose("pid 4242 on host build-08")
	}()
	done := make(chan struct{})
	var res *runbook.Result
	go func() {
		defer close(done)
		res, err = ex.Run(context.Background(), p, runbook.RunOptions{RunID: "r1"})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not stop when its lease was lost")
	}
	require.Error(t, err)
	assert.True(t, errors.Is(err, runbook.ErrLockLost), "got %v", err)
	assert.ErrorContains(t, err, "now held by pid 4242 on host build-08")
	assert.Equal(t, runbook.StatusInterrupted, res.Status)
	assert.True(t, res.Status.NeedsPerson())
	assert.Equal(t, []string{"a"}, res.Pending, "what is left to undo")
	assert.Equal(t, []string{"do a", "b cancelled"}, w.log(), "nothing new started, nothing compensated")
	recs, lerr := j.MemJournal.Load(context.Background(), "r1")
	require.NoError(t, lerr)
	for _, r := range recs {
		assert.NotEqual(t, runbook.RecCompensating, r.Kind)
	}
}

// TestLeaseLostStopsTheRollback: a rollback whose lease is lost stops after
// the compensation in progress.
func TestLeaseLostStopsTheRollback(t *testing.T) {
	w := &world{}
	j := &leaseJournal{}
	var undone []string
	rb := func(name string) runbook.Rollback {
		return runbook.RollbackFunc(func(context.Context, *runbook.Env) error {
			undone = append(undone, name)
			if name == "c" {
				j.lease.lose("pid 4242 on host build-08")
			}
			return nil
		})
	}
	b := runbook.NewBuilder("lease")
	for _, n := range []string{"a", "b", "c"} {
		b.Step(runbook.Step{Name: n, Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			w.add("do " + n)
			return nil, nil
		}), Rollbacks: []runbook.Rollback{rb(n)}})
	}
	p, err := b.Build()
	require.NoError(t, err)
	ex := &runbook.Executor{Journal: j, Clock: runbook.NewSimClock(t0)}
	_, err = ex.Run(context.Background(), p, runbook.RunOptions{RunID: "r1"})
	require.NoError(t, err)
	res, err := ex.Rollback(context.Background(), p, "r1", runbook.RunOptions{})
	require.Error(t, err)
	assert.True(t, errors.Is(err, runbook.ErrLockLost), "got %v", err)
	assert.Equal(t, runbook.StatusInterrupted, res.Status)
	assert.Equal(t, []string{"c"}, undone, "the rollback stopped after the compensation in progress")
	assert.Equal(t, []string{"b", "a"}, res.Pending)
}
