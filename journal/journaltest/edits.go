package journaltest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
)

// editWorld records what the steps and rollbacks of an edited runbook did.
type editWorld struct {
	mu  sync.Mutex
	ops []string
}

func (w *editWorld) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops = append(w.ops, s)
}

func (w *editWorld) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.ops
	w.ops = nil
	return out
}

// argAction is a step whose arguments are a string: it describes and
// fingerprints itself as a provider's action would, and fails when its
// arguments contain "typo".
type argAction struct {
	w    *editWorld
	name string
	args string
}

func (a *argAction) Do(context.Context, *runbook.Env) (runbook.Outputs, error) {
	a.w.add(fmt.Sprintf("do %s(%s)", a.name, a.args))
	if strings.Contains(a.args, "typo") {
		return nil, runbook.Permanent(fmt.Errorf("%s: syntax error at %q", a.name, a.args))
	}
	return runbook.Outputs{"args": a.args}, nil
}

func (a *argAction) Describe() runbook.Description {
	return runbook.Description{Provider: "fake", Action: "apply"}
}

func (a *argAction) Fingerprint() string { return a.args }

type argRollback struct {
	w    *editWorld
	name string
	args string
}

func (r *argRollback) Compensate(_ context.Context, env *runbook.Env) error {
	r.w.add(fmt.Sprintf("undo %s(%s) of %v", r.name, r.args, env.Self()["args"]))
	if strings.Contains(r.args, "broken") {
		return runbook.Permanent(fmt.Errorf("%s: rollback broken", r.name))
	}
	return nil
}

func (r *argRollback) Describe() runbook.Description {
	return runbook.Description{Provider: "fake", Action: "revert"}
}

func (r *argRollback) Fingerprint() string { return r.args }

// spec is one node of an edited plan: name=args, optionally ";rb=ARGS"
// (its rollback's arguments), ";abort", ";idem", ";after=X", ";gate<N"
// (a check gate whose probe reads 5 and passes when 5 < N).
type spec string

func (w *editWorld) plan(t *testing.T, specs ...spec) *runbook.Plan {
	t.Helper()
	b := runbook.NewBuilder("edits")
	for _, sp := range specs {
		parts := strings.Split(string(sp), ";")
		name, args, _ := strings.Cut(parts[0], "=")
		if strings.HasPrefix(args, "gate<") {
			var limit float64
			_, err := fmt.Sscanf(args, "gate<%g", &limit)
			require.NoError(t, err)
			b.Gate(runbook.Gate{Name: name, Kind: runbook.GateCheck, OnFail: runbook.PolicyAbort, Checks: []runbook.Check{{
				Name: "five", Threshold: fmt.Sprintf("< %g", limit),
				Probe: runbook.ProbeFunc(func(context.Context, *runbook.Env) (runbook.Sample, error) {
					w.add("check " + name)
					return runbook.Sample{Value: 5.0}, nil
				}),
				Success: runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) { return v.(float64) < limit, nil }),
			}}})
			continue
		}
		s := runbook.Step{Name: name, Action: &argAction{w: w, name: name, args: args}}
		rb := "v1"
		for _, o := range parts[1:] {
			switch {
			case o == "abort":
				s.OnFail = runbook.PolicyAbort
			case o == "idem":
				s.Idempotent = true
			case strings.HasPrefix(o, "rb="):
				rb = strings.TrimPrefix(o, "rb=")
			case strings.HasPrefix(o, "after="):
				s.DependsOn = append(s.DependsOn, strings.TrimPrefix(o, "after="))
			default:
				t.Fatalf("spec %q: unknown option %q", sp, o)
			}
		}
		s.Rollbacks = []runbook.Rollback{&argRollback{w: w, name: name, args: rb}}
		b.Step(s)
	}
	p, err := b.Build()
	require.NoError(t, err)
	return p
}

func testEdits(t *testing.T, _ Suite, new Factory) {
	type tcase struct {
		name string
		v1   []spec
		// status of the first run
		first runbook.Status
		v2    []spec
		opts  runbook.RunOptions
		// rollback: the second call is a Rollback, not a Resume.
		rollback bool
		// What the second call did, its status, and the lineage.
		refused  bool
		ops      []string
		status   runbook.Status
		changes  map[string]runbook.Change
		forced   bool
		thenUndo []string // a Rollback with v2 afterwards does this
	}
	cases := []tcase{
		{
			name:   "typo_fixed_in_failed_step",
			v1:     []spec{"a=1", "b=typo;abort", "c=1"},
			first:  runbook.StatusAborted,
			v2:     []spec{"a=1", "b=fixed;abort", "c=1"},
			ops:    []string{"do b(fixed)", "do c(1)"},
			status: runbook.StatusSucceeded, changes: map[string]runbook.Change{"b": runbook.ChangeRerun},
			thenUndo: []string{"undo c(v1) of 1", "undo b(v1) of fixed", "undo a(v1) of 1"},
		},
		{
			name:   "threshold_changed_on_failed_gate",
			v1:     []spec{"a=1", "g=gate<3", "c=1"},
			first:  runbook.StatusAborted,
			v2:     []spec{"a=1", "g=gate<10", "c=1"},
			ops:    []string{"check g", "do c(1)"},
			status: runbook.StatusSucceeded, changes: map[string]runbook.Change{"g": runbook.ChangeRerun},
		},
		{
			name:   "step_inserted_after_failure",
			v1:     []spec{"a=1", "b=typo;abort", "c=1"},
			first:  runbook.StatusAborted,
			v2:     []spec{"a=1", "b=fixed;abort", "x=new", "c=1"},
			ops:    []string{"do b(fixed)", "do x(new)", "do c(1)"},
			status: runbook.StatusSucceeded, changes: map[string]runbook.Change{"b": runbook.ChangeRerun, "x": runbook.ChangeNew},
		},
		{
			name:    "completed_step_argument_changed_refused",
			v1:      []spec{"a=1", "b=typo;abort", "c=1"},
			first:   runbook.StatusAborted,
			v2:      []spec{"a=2", "b=fixed;abort", "c=1"},
			refused: true,
		},
		{
			name:   "completed_step_argument_changed_forced_with_reason",
			v1:     []spec{"a=1", "b=typo;abort", "c=1"},
			first:  runbook.StatusAborted,
			v2:     []spec{"a=2", "b=fixed;abort", "c=1"},
			opts:   runbook.RunOptions{Force: true, Reason: "a's new argument is cosmetic", By: "alice"},
			ops:    []string{"do b(fixed)", "do c(1)"},
			status: runbook.StatusSucceeded, forced: true,
			changes: map[string]runbook.Change{"a": runbook.ChangeUnsafe, "b": runbook.ChangeRerun},
		},
		{
			name:    "forced_without_reason_refused",
			v1:      []spec{"a=1", "b=typo;abort", "c=1"},
			first:   runbook.StatusAborted,
			v2:      []spec{"a=2", "b=fixed;abort", "c=1"},
			opts:    runbook.RunOptions{Force: true},
			refused: true,
		},
		{
			name:     "rollback_of_completed_step_fixed",
			v1:       []spec{"a=1;rb=broken", "b=typo;abort", "c=1"},
			first:    runbook.StatusAborted,
			v2:       []spec{"a=1;rb=fixed", "b=fixed;abort", "c=1"},
			ops:      []string{"do b(fixed)", "do c(1)"},
			status:   runbook.StatusSucceeded,
			changes:  map[string]runbook.Change{"a": runbook.ChangeRollback, "b": runbook.ChangeRerun},
			thenUndo: []string{"undo c(v1) of 1", "undo b(v1) of fixed", "undo a(fixed) of 1"},
		},
		{
			name:     "stuck_rollback_finished_with_fixed_rollback",
			v1:       []spec{"a=1;rb=broken", "b=1", "c=typo"},
			first:    runbook.StatusRollbackIncomplete,
			v2:       []spec{"a=1;rb=fixed", "b=1", "c=typo"},
			rollback: true,
			ops:      []string{"undo a(fixed) of 1"},
			status:   runbook.StatusRolledBack,
			changes:  map[string]runbook.Change{"a": runbook.ChangeRollback},
		},
		{
			name:    "completed_step_removed_while_owed_refused",
			v1:      []spec{"a=1", "b=typo;abort", "c=1"},
			first:   runbook.StatusAborted,
			v2:      []spec{"b=fixed;abort", "c=1"},
			refused: true,
		},
		{
			name:   "completed_step_removed_forced",
			v1:     []spec{"a=1", "b=typo;abort", "c=1"},
			first:  runbook.StatusAborted,
			v2:     []spec{"b=fixed;abort", "c=1"},
			opts:   runbook.RunOptions{Force: true, Reason: "a was undone by hand"},
			ops:    []string{"do b(fixed)", "do c(1)"},
			status: runbook.StatusSucceeded, forced: true,
			changes: map[string]runbook.Change{"a": runbook.ChangeUnsafe},
			// a is no longer compensated: the operator said so.
			thenUndo: []string{"undo c(v1) of 1", "undo b(v1) of fixed"},
		},
		{
			name:    "new_step_before_completed_one_refused",
			v1:      []spec{"a=1", "b=typo;abort", "c=1"},
			first:   runbook.StatusAborted,
			v2:      []spec{"x=new", "a=1", "b=fixed;abort", "c=1"},
			refused: true,
		},
		{
			name:   "from_idempotent_step",
			v1:     []spec{"a=1", "b=1;idem", "c=typo;abort"},
			first:  runbook.StatusAborted,
			v2:     []spec{"a=1", "b=1;idem", "c=fixed;abort"},
			opts:   runbook.RunOptions{From: "b"},
			ops:    []string{"do b(1)", "do c(fixed)"},
			status: runbook.StatusSucceeded, changes: map[string]runbook.Change{"b": runbook.ChangeRerun, "c": runbook.ChangeRerun},
			// b ran twice and is compensated once.
			thenUndo: []string{"undo c(v1) of fixed", "undo b(v1) of 1", "undo a(v1) of 1"},
		},
		{
			name:   "from_step_then_failure_compensates_once",
			v1:     []spec{"a=1", "b=1;idem", "c=typo;abort"},
			first:  runbook.StatusAborted,
			v2:     []spec{"a=1", "b=1;idem", "c=typo again"},
			opts:   runbook.RunOptions{From: "b"},
			ops:    []string{"do b(1)", "do c(typo again)", "undo b(v1) of 1", "undo a(v1) of 1"},
			status: runbook.StatusRolledBack, changes: map[string]runbook.Change{"b": runbook.ChangeRerun, "c": runbook.ChangeRerun},
		},
		{
			name:   "from_completed_step_listed",
			v1:     []spec{"a=1", "b=1", "c=typo;abort"},
			first:  runbook.StatusAborted,
			v2:     []spec{"a=1", "b=1", "c=typo;abort"},
			opts:   runbook.RunOptions{From: "b", Rerun: []string{"b"}},
			ops:    []string{"do b(1)", "do c(typo)"},
			status: runbook.StatusAborted, changes: map[string]runbook.Change{"b": runbook.ChangeRerun, "c": runbook.ChangeRerun},
		},
		{
			name:   "from_completed_step_not_confirmed",
			v1:     []spec{"a=1", "b=1", "c=typo;abort"},
			first:  runbook.StatusAborted,
			v2:     []spec{"a=1", "b=1", "c=fixed;abort"},
			opts:   runbook.RunOptions{From: "b"},
			ops:    nil,
			status: runbook.StatusInterrupted, changes: map[string]runbook.Change{"b": runbook.ChangeRerun, "c": runbook.ChangeRerun},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := new(t)
			w := &editWorld{}
			p1 := w.plan(t, tc.v1...)
			ex := &runbook.Executor{Journal: j, Clock: runbook.NewSimClock(t0), RollbackRetry: &runbook.Retry{Attempts: 1}}
			res, err := ex.Run(ctx(t), p1, runbook.RunOptions{RunID: "edited", StartedBy: "bob"})
			require.Error(t, err)
			require.Equal(t, tc.first, res.Status)
			w.take()
			before, err := j.Load(ctx(t), "edited")
			require.NoError(t, err)

			p2 := w.plan(t, tc.v2...)
			later := &runbook.Executor{Journal: j, Clock: runbook.NewSimClock(t0.Add(time.Hour)), RollbackRetry: &runbook.Retry{Attempts: 1}}
			cmp, err := later.Compare(ctx(t), p2, "edited", map[bool]string{false: "resume", true: "rollback"}[tc.rollback], tc.opts)
			require.NoError(t, err)
			for node, want := range tc.changes {
				got := runbook.Change("")
				for _, c := range cmp.Nodes {
					if c.Node == node {
						got = c.Change
					}
				}
				assert.Equal(t, want, got, "comparison of %s", node)
			}
			if tc.refused {
				assert.NotEmpty(t, cmp.Unsafe())
			}
			if tc.rollback {
				res, err = later.Rollback(ctx(t), p2, "edited", tc.opts)
			} else {
				res, err = later.Resume(ctx(t), p2, "edited", tc.opts)
			}
			recs, lerr := j.Load(ctx(t), "edited")
			require.NoError(t, lerr)
			if tc.refused {
				var ee *runbook.EditError
				require.ErrorAs(t, err, &ee)
				assert.ErrorIs(t, err, runbook.ErrPlanChanged)
				assert.Nil(t, res)
				assert.Empty(t, w.take(), "nothing ran")
				assert.Len(t, recs, len(before), "nothing journaled")
				return
			}
			require.NotNil(t, res, "%v", err)
			assert.Equal(t, tc.status, res.Status, "%v", err)
			assert.Equal(t, tc.ops, w.take())
			st, err := runbook.Replay(recs)
			require.NoError(t, err)
			assert.Equal(t, p2.Hash(), st.PlanHash, "the run goes on with the new plan")
			if p1.Hash() != p2.Hash() || tc.opts.From != "" {
				require.Len(t, st.Versions, 2)
				v := st.Versions[1]
				assert.Equal(t, p1.Hash(), v.Prev)
				assert.Equal(t, p2.Hash(), v.Hash)
				assert.Equal(t, tc.forced, v.Forced)
				assert.Equal(t, tc.opts.Reason, v.Reason)
				assert.Equal(t, tc.opts.By, v.By)
				assert.Equal(t, tc.opts.From, v.From)
				assert.Equal(t, "bob", st.Versions[0].By)
				for node, want := range tc.changes {
					found := false
					for _, c := range v.Changes {
						if c.Node == node {
							found = true
							assert.Equal(t, want, c.Change, "journaled change of %s", node)
						}
					}
					assert.True(t, found, "change of %s journaled", node)
				}
			}
			if tc.thenUndo != nil {
				undo := &runbook.Executor{Journal: j, Clock: runbook.NewSimClock(t0.Add(2 * time.Hour))}
				res, err := undo.Rollback(ctx(t), p2, "edited", runbook.RunOptions{Force: tc.forced, Reason: tc.opts.Reason})
				require.NoError(t, err)
				assert.Equal(t, runbook.StatusRolledBack, res.Status)
				assert.Equal(t, tc.thenUndo, w.take())
			}
		})
	}
	t.Run("crash_during_edited_resume_then_resume_again", func(t *testing.T) {
		testCrashDuringEditedResume(t, new)
	})
}

// testCrashDuringEditedResume: a resume with an edited plan dies after its
// first node; resuming again with the same plan runs every node exactly
// once, and the lineage holds one new version.
func testCrashDuringEditedResume(t *testing.T, new Factory) {
	j := new(t)
	w := &editWorld{}
	p1 := w.plan(t, "a=1", "b=typo;abort", "c=1", "d=1")
	ex := &runbook.Executor{Journal: j, Clock: runbook.NewSimClock(t0)}
	_, err := ex.Run(ctx(t), p1, runbook.RunOptions{RunID: "crashy"})
	require.Error(t, err)
	w.take()
	p2 := w.plan(t, "a=1", "b=fixed;abort", "c=1", "d=1")
	// The process dies once c has succeeded: every later append fails
	// and nothing more reaches the world.
	dying := &dieAfter{Journal: j, node: "c"}
	ex2 := &runbook.Executor{Journal: dying, Clock: runbook.NewSimClock(t0.Add(time.Hour))}
	_, _ = ex2.Resume(ctx(t), p2, "crashy", runbook.RunOptions{By: "alice", Reason: "typo fixed"})
	assert.Equal(t, []string{"do b(fixed)", "do c(1)"}, w.take())
	ex3 := &runbook.Executor{Journal: j, Clock: runbook.NewSimClock(t0.Add(2 * time.Hour))}
	res, err := ex3.Resume(ctx(t), p2, "crashy", runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusSucceeded, res.Status)
	assert.Equal(t, []string{"do d(1)"}, w.take(), "b and c are not run again")
	recs, err := j.Load(ctx(t), "crashy")
	require.NoError(t, err)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	require.Len(t, st.Versions, 2, "the second resume uses the version the first recorded")
	assert.Equal(t, "alice", st.Versions[1].By)
	assert.Equal(t, []string{"a", "b", "c", "d"}, st.Succeeded)
}

// dieAfter is a journal whose process dies once node has succeeded: that
// record is stored, and every later append fails.
type dieAfter struct {
	runbook.Journal
	node string
	mu   sync.Mutex
	dead bool
}

var errDead = errors.New("the process died")

func (d *dieAfter) Append(ctx context.Context, recs ...runbook.Record) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return errDead
	}
	for i, r := range recs {
		if r.Kind == runbook.RecNodeSucceeded && r.Node == d.node {
			d.dead = true
			return d.Journal.Append(ctx, recs[:i+1]...)
		}
	}
	return d.Journal.Append(ctx, recs...)
}
