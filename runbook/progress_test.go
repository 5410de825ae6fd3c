package runbook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
)

// unitsWorld is a step that works through units one by one, records each
// one's progress, and skips the units its progress says are done.
type unitsWorld struct {
	mu      sync.Mutex
	ops     []string
	failing map[string]int // unit -> failures left
	seen    []runbook.Outputs
}

func (w *unitsWorld) add(s string) {
	w.mu.Lock()
	w.ops = append(w.ops, s)
	w.mu.Unlock()
}

func (w *unitsWorld) action(units ...string) runbook.Action {
	return runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
		if err := env.Checkpoint(ctx, runbook.Outputs{"units": len(units)}); err != nil {
			return nil, err
		}
		done := env.Progress()
		w.mu.Lock()
		w.seen = append(w.seen, done)
		w.mu.Unlock()
		for _, u := range units {
			if v, _ := done[u].(map[string]any); v["state"] == "done" {
				continue
			}
			if err := env.RecordProgress(ctx, runbook.Outputs{u: map[string]any{"state": "running", "attempt": env.Attempt()}}); err != nil {
				return nil, err
			}
			w.mu.Lock()
			fail := w.failing[u] > 0
			if fail {
				w.failing[u]--
			}
			w.mu.Unlock()
			if fail {
				w.add("fail " + u)
				_ = env.RecordProgress(ctx, runbook.Outputs{u: map[string]any{"state": "failed", "error": "no"}})
				return nil, fmt.Errorf("%s failed", u)
			}
			w.add("do " + u)
			if err := env.RecordProgress(ctx, runbook.Outputs{u: map[string]any{"state": "done"}}); err != nil {
				return nil, err
			}
		}
		return runbook.Outputs{"units": len(units)}, nil
	})
}

func (w *unitsWorld) undo() runbook.Rollback {
	return runbook.RollbackFunc(func(_ context.Context, env *runbook.Env) error {
		p := env.Progress()
		for _, u := range sortedKeys(p) {
			if v, _ := p[u].(map[string]any); v["state"] == "done" || v["state"] == "running" {
				w.add("undo " + u)
			}
		}
		return nil
	})
}

func sortedKeys(o runbook.Outputs) []string {
	var ks []string
	for k := range o {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func TestProgressSurvivesRetryAndIsForgottenOnSuccess(t *testing.T) {
	w := &unitsWorld{failing: map[string]int{"c": 1}}
	b := runbook.NewBuilder("progress")
	b.Step(runbook.Step{Name: "fan", Action: w.action("a", "b", "c", "d"), Irreversible: true, Retry: runbook.Retry{Attempts: 2, Delay: time.Second}})
	p, err := b.Build()
	require.NoError(t, err)
	j := &runbook.MemJournal{}
	_, err = (&runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}).Run(context.Background(), p, runbook.RunOptions{RunID: "p1"})
	require.NoError(t, err)
	assert.Equal(t, []string{"do a", "do b", "fail c", "do c", "do d"}, w.ops, "the retry skips the units done by the first attempt")
	require.Len(t, w.seen, 2)
	assert.Nil(t, w.seen[0])
	assert.Equal(t, map[string]any{"state": "done"}, w.seen[1]["b"])
	assert.Equal(t, map[string]any{"state": "failed", "error": "no"}, w.seen[1]["c"])

	recs, err := j.Load(context.Background(), "p1")
	require.NoError(t, err)
	n := 0
	for _, r := range recs {
		if r.Kind == runbook.RecProgress {
			n++
			assert.Equal(t, "fan", r.Node)
			assert.Len(t, r.Outputs, 1)
		}
	}
	assert.Equal(t, 10, n, "one record per unit transition: 2 for a, b and d, 4 for c")
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	assert.Empty(t, st.Progress["fan"], "forgotten once the step succeeded")
}

// stopJournal stores records until stop returns true for one of them
// (which is stored), then refuses every later append: the journal of a
// process that died right after that record.
type stopJournal struct {
	runbook.Journal
	mu      sync.Mutex
	stop    func(runbook.Record) bool
	stopped bool
}

func (s *stopJournal) Append(ctx context.Context, recs ...runbook.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("the process is dead")
	}
	for i, r := range recs {
		if s.stop(r) {
			s.stopped = true
			return s.Journal.Append(ctx, recs[:i+1]...)
		}
	}
	return s.Journal.Append(ctx, recs...)
}

// crashAfterProgress runs p until the journal has stored a progress record
// for item with state, then "kills" it: nothing after is journaled.
func crashAfterProgress(t *testing.T, p *runbook.Plan, j runbook.Journal, run, item, state string) {
	t.Helper()
	sj := &stopJournal{Journal: j, stop: func(r runbook.Record) bool {
		v, _ := r.Outputs[item].(map[string]any)
		return r.Kind == runbook.RecProgress && v["state"] == state
	}}
	_, err := (&runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: sj}).Run(context.Background(), p, runbook.RunOptions{RunID: run})
	require.Error(t, err)
	require.True(t, sj.stopped, "the run never recorded %s %s", item, state)
}

func TestProgressAfterCrashResumeAndRollback(t *testing.T) {
	build := func(w *unitsWorld) *runbook.Plan {
		b := runbook.NewBuilder("progress")
		b.Step(runbook.Step{Name: "fan", Action: w.action("a", "b", "c", "d"), Idempotent: true, Rollbacks: []runbook.Rollback{w.undo()}, RollbackIdempotent: true, RollbackOnFailure: true})
		p, err := b.Build()
		require.NoError(t, err)
		return p
	}
	t.Run("resume", func(t *testing.T) {
		j := &runbook.MemJournal{}
		w := &unitsWorld{}
		p := build(w)
		crashAfterProgress(t, p, j, "p2", "b", "done")
		// The dead process stopped at c: its RecordProgress failed.
		w.ops = nil
		_, err := (&runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}).Resume(context.Background(), p, "p2", runbook.RunOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{"do c", "do d"}, w.ops, "the resumed attempt starts where the journal says the dead one was")
	})
	t.Run("rollback", func(t *testing.T) {
		j := &runbook.MemJournal{}
		w := &unitsWorld{}
		p := build(w)
		crashAfterProgress(t, p, j, "p3", "c", "running")
		w.ops = nil
		res, err := (&runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}).Rollback(context.Background(), p, "p3", runbook.RunOptions{})
		require.NoError(t, err)
		assert.Equal(t, runbook.StatusRolledBack, res.Status)
		assert.Equal(t, []string{"undo a", "undo b", "undo c"}, w.ops, "the rollback sees the progress of the in-doubt step (c was running)")
	})
}

func TestProgressRedactedInJournal(t *testing.T) {
	const secret = "tok-0123456789"
	b := runbook.NewBuilder("progress")
	b.Step(runbook.Step{Name: "s", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
		env.AddSecret(secret)
		if err := env.RecordProgress(ctx, runbook.Outputs{"x": map[string]any{"state": "failed", "error": "login " + secret + " refused"}}); err != nil {
			return nil, err
		}
		assert.Contains(t, fmt.Sprint(env.Progress()["x"]), secret, "in memory the action sees its own values")
		return nil, runbook.Permanent(errors.New("no"))
	})})
	p, err := b.Build()
	require.NoError(t, err)
	j := &runbook.MemJournal{}
	_, err = (&runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}).Run(context.Background(), p, runbook.RunOptions{RunID: "p4"})
	require.Error(t, err)
	recs, err := j.Load(context.Background(), "p4")
	require.NoError(t, err)
	raw, err := json.Marshal(recs)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), secret)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	assert.Equal(t, "login (sensitive) refused", st.Progress["s"]["x"].(map[string]any)["error"], "a failed step's progress stays in the journal")
}

func TestRollsBackFailure(t *testing.T) {
	rb := runbook.RollbackFunc(func(context.Context, *runbook.Env) error { return nil })
	nat := probeWithUndo{}
	tests := []struct {
		name       string
		step       runbook.Step
		checkpoint bool
		want       bool
	}{
		{"explicit rollback, no opt-in", runbook.Step{Rollbacks: []runbook.Rollback{rb}}, true, false},
		{"rollback_on_failure", runbook.Step{Rollbacks: []runbook.Rollback{rb}, RollbackOnFailure: true}, false, true},
		{"natural rollback and a checkpoint", runbook.Step{}, true, true},
		{"natural rollback without checkpoint", runbook.Step{}, false, false},
		{"idempotent explicit rollback and a checkpoint", runbook.Step{Rollbacks: []runbook.Rollback{rb}, RollbackIdempotent: true}, true, true},
		{"policy abort", runbook.Step{RollbackOnFailure: true, OnFail: runbook.PolicyAbort}, false, true},
		{"policy continue", runbook.Step{RollbackOnFailure: true, OnFail: runbook.PolicyContinue}, true, false},
		{"policy pause", runbook.Step{RollbackOnFailure: true, OnFail: runbook.PolicyPause}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got bool
			s := tc.step
			s.Name = "s"
			s.Action = nat.with(func(ctx context.Context, env *runbook.Env) {
				if tc.checkpoint {
					require.NoError(t, env.Checkpoint(ctx, runbook.Outputs{"k": 1}))
				}
				got = env.RollsBackFailure()
			})
			p, err := runbook.NewBuilder("rbf").Step(s).Build()
			require.NoError(t, err)
			_, err = (&runbook.Executor{Clock: runbook.NewSimClock(t0)}).Run(context.Background(), p, runbook.RunOptions{})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// probeWithUndo has a natural rollback.
type probeWithUndo struct {
	f func(context.Context, *runbook.Env)
}

func (a probeWithUndo) with(f func(context.Context, *runbook.Env)) probeWithUndo {
	return probeWithUndo{f: f}
}

func (a probeWithUndo) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	a.f(ctx, env)
	return nil, nil
}

func (a probeWithUndo) NaturalRollback() runbook.Rollback {
	return runbook.RollbackFunc(func(context.Context, *runbook.Env) error { return nil })
}

func TestProgressWithNewEnv(t *testing.T) {
	var stored []runbook.Outputs
	env := runbook.NewEnv(runbook.EnvConfig{Node: "s", Progress: runbook.Outputs{"a": "done"}, RollsBackFailure: true,
		RecordProgress: func(_ context.Context, items runbook.Outputs) error {
			stored = append(stored, items)
			return nil
		}})
	assert.True(t, env.RollsBackFailure())
	require.NoError(t, env.RecordProgress(context.Background(), runbook.Outputs{"b": "done"}))
	assert.Equal(t, runbook.Outputs{"a": "done", "b": "done"}, env.Progress())
	assert.Equal(t, []runbook.Outputs{{"b": "done"}}, stored)

	failing := runbook.NewEnv(runbook.EnvConfig{RecordProgress: func(context.Context, runbook.Outputs) error { return errors.New("disk full") }})
	require.Error(t, failing.RecordProgress(context.Background(), runbook.Outputs{"a": "done"}))
	assert.Nil(t, failing.Progress(), "what could not be recorded is not progress")
	assert.False(t, failing.RollsBackFailure())
}
