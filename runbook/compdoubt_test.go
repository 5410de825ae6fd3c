package runbook_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
)

// diedCompensating writes the journal of a run in which a and b succeeded,
// c failed, and the process died while compensating b (compensating
// recorded, never compensated).
func diedCompensating(t *testing.T, p *runbook.Plan) *runbook.MemJournal {
	t.Helper()
	j := crashed(t, p,
		runbook.Record{Kind: runbook.RecNodeSucceeded, Node: "b", Outputs: runbook.Outputs{"name": "b (from the journal)"}, Compensable: true},
		runbook.Record{Kind: runbook.RecNodeStarted, Node: "c"},
		runbook.Record{Kind: runbook.RecNodeFailed, Node: "c", Final: true, Error: "c: boom"},
		runbook.Record{Kind: runbook.RecCompensating, Node: "b"},
	)
	return j
}

func TestCompensationInDoubt(t *testing.T) {
	tests := []struct {
		name   string
		idem   bool
		choice string
		status runbook.Status
		errIs  error
		ops    []string
		asked  bool
	}{
		{"idempotent rollback is run again", true, "", runbook.StatusRolledBack, nil,
			[]string{"undo b (from the journal)", "undo a (from the journal)"}, false},
		{"not idempotent: the approver says compensate", false, "compensate",
			runbook.StatusRolledBack, nil, []string{"undo b (from the journal)", "undo a (from the journal)"}, true},
		{"not idempotent: the approver says done", false, "done",
			runbook.StatusRolledBack, nil, []string{"undo a (from the journal)"}, true},
		{"not idempotent and no approver: stop, run nothing", false, "", runbook.StatusInterrupted,
			runbook.ErrCompensationInDoubt, nil, false},
	}
	for _, mode := range []string{"resume", "rollback"} {
		for _, tc := range tests {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				w := &world{}
				p := mustBuild("comp-doubt", func(b *runbook.Builder) {
					b.Step(w.step("a")).Step(w.step("b", with(func(s *runbook.Step) { s.RollbackIdempotent = tc.idem }))).Step(w.step("c"))
				})
				j := diedCompensating(t, p)
				st, err := runbook.Replay(mustLoad(t, j))
				require.NoError(t, err)
				assert.Equal(t, []string{"b"}, st.CompensationsInDoubt)
				ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}
				var approver *runbooktest.Approver
				if tc.choice != "" {
					approver = runbooktest.NewApprover().Choose("b", tc.choice)
					ex.Approver = approver
				}
				var res *runbook.Result
				if mode == "resume" {
					res, err = ex.Resume(context.Background(), p, "r1", runbook.RunOptions{})
				} else {
					res, err = ex.Rollback(context.Background(), p, "r1", runbook.RunOptions{})
				}
				require.NotNil(t, res)
				assert.Equal(t, tc.status, res.Status)
				if tc.errIs != nil {
					assert.ErrorIs(t, err, tc.errIs)
					assert.ErrorIs(t, err, runbook.ErrInDoubt)
				}
				assert.Equal(t, tc.ops, nilIfEmpty(w.log()))
				assert.Equal(t, tc.asked, approver != nil)
				if approver != nil {
					require.Len(t, approver.Asked(), 1)
					assert.Equal(t, "compensation-in-doubt", approver.Asked()[0].Kind)
					assert.Equal(t, []string{"compensate", "done"}, approver.Asked()[0].Choices)
				}
				st, err = runbook.Replay(mustLoad(t, j))
				require.NoError(t, err)
				if tc.status == runbook.StatusRolledBack {
					assert.Empty(t, st.CompensationsInDoubt)
					assert.Empty(t, st.Pending())
					if approver != nil {
						assert.NotEmpty(t, st.Decisions["b"], "the decision is journaled")
					}
				} else {
					assert.Equal(t, []string{"b", "a"}, res.Pending)
				}
			})
		}
	}
}

// A natural rollback is idempotent by contract: in doubt, it runs again
// without asking.
func TestCompensationInDoubtNaturalRollback(t *testing.T) {
	w := &world{}
	undo := 0
	p := mustBuild("comp-doubt", func(b *runbook.Builder) {
		b.Step(w.step("a"))
		nb := w.step("b")
		nb.Rollbacks = nil
		nb.Action = selfUndoing{do: nb.Action, undo: func() { undo++ }}
		b.Step(nb).Step(w.step("c"))
	})
	j := diedCompensating(t, p)
	ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}
	res, _ := ex.Rollback(context.Background(), p, "r1", runbook.RunOptions{})
	require.NotNil(t, res)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, 1, undo)
}

type selfUndoing struct {
	do   runbook.Action
	undo func()
}

func (a selfUndoing) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	return a.do.Do(ctx, env)
}

func (a selfUndoing) NaturalRollback() runbook.Rollback {
	return runbook.RollbackFunc(func(context.Context, *runbook.Env) error { a.undo(); return nil })
}

func mustLoad(t *testing.T, j *runbook.MemJournal) []runbook.Record {
	t.Helper()
	recs, err := j.Load(context.Background(), "r1")
	require.NoError(t, err)
	return recs
}

// failingJournal refuses appends of one record kind (for one node) while
// broken is set.
type failingJournal struct {
	runbook.MemJournal
	kind   runbook.RecordKind
	node   string
	broken bool
}

func (f *failingJournal) Append(ctx context.Context, recs ...runbook.Record) error {
	for _, r := range recs {
		if f.broken && r.Kind == f.kind && (f.node == "" || r.Node == f.node) {
			return errors.New("disk full")
		}
	}
	return f.MemJournal.Append(ctx, recs...)
}

// A journal append failing during compensation never ends rolled_back; the
// error names what was not recorded; a later rollback does not blindly run
// the compensations again.
func TestJournalFailureDuringCompensation(t *testing.T) {
	for _, tc := range []struct {
		kind runbook.RecordKind
		// what the first run did; what the later rollback runs
		first, later []string
		pending      []string
	}{
		// The end of b's compensation is lost: b ran; a later rollback
		// finds it in doubt and (not idempotent, no approver) stops.
		{runbook.RecCompensated, []string{"do a", "do b", "fail c", "undo b", "undo a"}, nil, []string{"b"}},
		// The start of b's compensation is lost: b's rollback is not run;
		// a later rollback runs it.
		{runbook.RecCompensating, []string{"do a", "do b", "fail c", "undo a"}, []string{"undo b"}, nil},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			w := &world{}
			p := mustBuild("jfail", func(b *runbook.Builder) {
				b.Step(w.step("a")).Step(w.step("b")).Step(w.step("c", fails(errors.New("boom"))))
			})
			j := &failingJournal{kind: tc.kind, node: "b", broken: true}
			ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}
			res, err := ex.Run(context.Background(), p, runbook.RunOptions{})
			require.NotNil(t, res)
			assert.Equal(t, runbook.StatusRollbackIncomplete, res.Status, "never rolled_back when the journal lost a record")
			assert.ErrorIs(t, err, runbook.ErrNotRecorded)
			assert.ErrorContains(t, err, "b: ")
			assert.ErrorContains(t, err, "disk full")
			assert.Equal(t, tc.first, w.log())
			// The journal healed; a later rollback from it alone.
			j.broken = false
			w2 := &world{}
			p2 := mustBuild("jfail", func(b *runbook.Builder) {
				b.Step(w2.step("a")).Step(w2.step("b")).Step(w2.step("c", fails(errors.New("boom"))))
			})
			ex2 := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}
			res2, err2 := ex2.Rollback(context.Background(), p2, res.Run.ID, runbook.RunOptions{})
			require.NotNil(t, res2)
			assert.Equal(t, tc.later, nilIfEmpty(w2.log()), "completed compensations are not run again blindly")
			if tc.kind == runbook.RecCompensated {
				assert.ErrorIs(t, err2, runbook.ErrCompensationInDoubt)
				assert.Equal(t, tc.pending, res2.Pending)
			} else {
				require.NoError(t, err2)
				assert.Equal(t, runbook.StatusRolledBack, res2.Status)
			}
		})
	}
}

// A step that checkpointed before its effect and then failed (the answer
// was lost after the change) is rolled back from its checkpoint when its
// rollback is idempotent — without rollback_on_failure.
func TestFailedAfterEffectRollsBackFromCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name    string
		natural bool
		want    string
	}{
		{"natural rollback: restored", true, "100/0"},
		{"explicit, not idempotent: left alone", false, "90/10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &weightsWorld{weights: "100/0"}
			fails := 1
			var seen []string
			act := setWeights(w, "90/10", &fails)
			step := runbook.Step{Name: "shift"}
			if tc.natural {
				step.Action = selfRestoring{Action: act, rb: restore(w, &seen)}
			} else {
				step.Action, step.Rollbacks = act, []runbook.Rollback{restore(w, &seen)}
			}
			b := runbook.NewBuilder("after-effect")
			b.Step(step)
			p, err := b.Build()
			require.NoError(t, err)
			res, _ := (&runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: &runbook.MemJournal{}}).Run(context.Background(), p, runbook.RunOptions{})
			require.NotNil(t, res)
			assert.Equal(t, tc.want, w.weights)
			if tc.natural {
				assert.Equal(t, runbook.StatusRolledBack, res.Status)
				assert.Equal(t, []string{"shift"}, res.Compensated)
			}
		})
	}
}

type selfRestoring struct {
	runbook.Action
	rb runbook.Rollback
}

func (s selfRestoring) NaturalRollback() runbook.Rollback { return s.rb }
