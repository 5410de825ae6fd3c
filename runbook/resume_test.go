package runbook_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
)

// crashed writes the journal of a run that stopped while b was running:
// a succeeded, b started and never finished.
func crashed(t *testing.T, p *runbook.Plan, extra ...runbook.Record) *runbook.MemJournal {
	t.Helper()
	j := &runbook.MemJournal{}
	recs := []runbook.Record{
		{Run: "r1", Kind: runbook.RecRunStarted, Runbook: p.Name, PlanHash: p.Hash(), Time: t0},
		{Run: "r1", Kind: runbook.RecNodeStarted, Node: "a", Attempt: 1, Time: t0},
		{Run: "r1", Kind: runbook.RecNodeSucceeded, Node: "a", Attempt: 1, Outputs: runbook.Outputs{"name": "a (from the journal)"}, Compensable: true, Time: t0},
		{Run: "r1", Kind: runbook.RecNodeStarted, Node: "b", Attempt: 1, Time: t0},
	}
	for i := range extra {
		extra[i].Run = "r1"
	}
	require.NoError(t, j.Append(context.Background(), append(recs, extra...)...))
	return j
}

func TestResumeInDoubt(t *testing.T) {
	tests := []struct {
		name       string
		idempotent bool
		approver   runbook.Approver
		status     runbook.Status
		errIs      error
		ops        []string
		asked      bool
	}{
		{"idempotent step is run again", true, nil, runbook.StatusSucceeded, nil, []string{"do b", "do c"}, false},
		{"not idempotent: the approver says rerun", false, runbooktest.NewApprover().Choose("b", "rerun"), runbook.StatusSucceeded, nil, []string{"do b", "do c"}, true},
		{"not idempotent: the approver says it is done", false, runbooktest.NewApprover().Choose("b", "done"), runbook.StatusSucceeded, nil, []string{"do c"}, true},
		{"not idempotent: the approver says compensate", false, runbooktest.NewApprover().Choose("b", "compensate"), runbook.StatusRolledBack, runbook.ErrInDoubt, []string{"undo ", "undo a (from the journal)"}, true},
		{"not idempotent and no approver: stop with ErrInDoubt", false, nil, runbook.StatusInterrupted, runbook.ErrInDoubt, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{}
			p := mustBuild("resume", func(b *runbook.Builder) {
				b.Step(w.step("a")).Step(w.step("b", with(func(s *runbook.Step) { s.Idempotent = tc.idempotent }))).Step(w.step("c"))
			})
			j := crashed(t, p)
			ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}
			if tc.approver != nil {
				ex.Approver = tc.approver
			}
			res, err := ex.Resume(context.Background(), p, "r1", runbook.RunOptions{})
			require.NotNil(t, res)
			assert.Equal(t, tc.status, res.Status)
			if tc.errIs != nil {
				assert.ErrorIs(t, err, tc.errIs)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tc.ops, nilIfEmpty(w.log()))
			if a, ok := tc.approver.(*runbooktest.Approver); ok {
				assert.Equal(t, tc.asked, len(a.Asked()) == 1)
				if tc.asked {
					assert.Equal(t, "in-doubt", a.Asked()[0].Kind)
					assert.Equal(t, []string{"rerun", "compensate", "done"}, a.Asked()[0].Choices)
				}
			}
			if tc.status == runbook.StatusInterrupted {
				assert.Equal(t, []string{"a"}, res.Pending)
			}
		})
	}
}

func TestResumeRefusesAnotherPlan(t *testing.T) {
	w := &world{}
	idem := with(func(s *runbook.Step) { s.Idempotent = true })
	p := mustBuild("resume", func(b *runbook.Builder) { b.Step(w.step("a")).Step(w.step("b", idem)) })
	j := crashed(t, p)
	changed := mustBuild("resume", func(b *runbook.Builder) { b.Step(w.step("a")).Step(w.step("b", idem)).Step(w.step("c")) })
	ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}
	_, err := ex.Resume(context.Background(), changed, "r1", runbook.RunOptions{})
	assert.ErrorIs(t, err, runbook.ErrPlanChanged)
	_, err = ex.Resume(context.Background(), p, "nope", runbook.RunOptions{})
	assert.ErrorIs(t, err, runbook.ErrRunNotFound)
	_, err = (&runbook.Executor{}).Resume(context.Background(), p, "r1", runbook.RunOptions{})
	assert.ErrorContains(t, err, "needs a journal")
	// A journal without node hashes: every node counts as edited, and
	// forcing needs a reason.
	_, err = ex.Resume(context.Background(), changed, "r1", runbook.RunOptions{Force: true})
	assert.ErrorIs(t, err, runbook.ErrUnsafeEdit)
	res, err := ex.Resume(context.Background(), changed, "r1", runbook.RunOptions{Force: true, Reason: "journal written before node hashes"})
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusSucceeded, res.Status)
}

func TestResumeContinuesAnInterruptedRollback(t *testing.T) {
	w := &world{}
	p := mustBuild("resume", func(b *runbook.Builder) {
		b.Step(w.step("a")).Step(w.step("b")).Step(w.step("c"))
	})
	j := crashed(t, p,
		runbook.Record{Kind: runbook.RecNodeSucceeded, Node: "b", Outputs: runbook.Outputs{"name": "b"}},
		runbook.Record{Kind: runbook.RecNodeStarted, Node: "c"},
		runbook.Record{Kind: runbook.RecNodeFailed, Node: "c", Final: true, Error: "c: boom"},
		runbook.Record{Kind: runbook.RecCompensating, Node: "b"},
		runbook.Record{Kind: runbook.RecCompensated, Node: "b"},
	)
	ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}
	res, err := ex.Resume(context.Background(), p, "r1", runbook.RunOptions{})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, []string{"undo a (from the journal)"}, w.log(), "b was compensated before the crash; only a is left")
	assert.Equal(t, []string{"a"}, res.Compensated)
}

func TestRollbackLater(t *testing.T) {
	t.Run("a run that succeeded", func(t *testing.T) {
		w := &world{}
		p := mustBuild("bake", func(b *runbook.Builder) {
			b.Step(w.step("a")).Step(w.step("b"))
			b.Gate(runbook.Gate{Name: "ok", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "go?"}})
			s := w.step("email")
			s.Rollbacks, s.Irreversible = nil, true
			b.Step(s).Step(w.step("c"))
		})
		j := &runbook.MemJournal{}
		h := runbooktest.New(t, p, runbooktest.WithJournal(j))
		res := h.Run()
		h.AssertStatus(runbook.StatusSucceeded)
		runID := res.Run.ID

		// Later, in another process: only the journal is left.
		w2 := &world{}
		p2 := mustBuild("bake", func(b *runbook.Builder) {
			b.Step(w2.step("a")).Step(w2.step("b"))
			b.Gate(runbook.Gate{Name: "ok", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "go?"}})
			s := w2.step("email")
			s.Rollbacks, s.Irreversible = nil, true
			b.Step(s).Step(w2.step("c"))
		})
		h2 := runbooktest.New(t, p2, runbooktest.WithJournal(j))
		res2 := h2.Rollback(runID)
		require.NoError(t, h2.Err)
		assert.Equal(t, runbook.StatusRolledBack, res2.Status)
		h2.AssertCompensated("c", "b", "a")
		assert.Equal(t, []string{"undo c", "undo b", "undo a"}, w2.log(), "rollbacks see the outputs recorded in the journal")
		assert.Len(t, w.log(), 4, "the first process did nothing more")

		recs, err := j.Load(context.Background(), runID)
		require.NoError(t, err)
		st, err := runbook.Replay(recs)
		require.NoError(t, err)
		assert.Equal(t, runbook.StatusRolledBack, st.Status)
		assert.Equal(t, []string{"c", "b", "a"}, st.Compensated)
		assert.Empty(t, st.Pending(), "nothing left to undo")

		_, err = (&runbook.Executor{Journal: j}).Rollback(context.Background(), p2, runID, runbook.RunOptions{})
		assert.ErrorContains(t, err, "already rolled back")
	})
	t.Run("a run halted at the point of no return", func(t *testing.T) {
		w := &world{}
		p := mustBuild("halt", func(b *runbook.Builder) {
			b.Step(w.step("a"))
			b.Step(w.step("cutover", with(func(s *runbook.Step) { s.PointOfNoReturn = true })))
			b.Step(w.step("monitor", fails(errBoom)))
		})
		j := &runbook.MemJournal{}
		h := runbooktest.New(t, p, runbooktest.WithJournal(j))
		res := h.Run()
		h.AssertStatus(runbook.StatusHalted)
		h.AssertPending("cutover", "a")
		recs, err := j.Load(context.Background(), res.Run.ID)
		require.NoError(t, err)
		st, err := runbook.Replay(recs)
		require.NoError(t, err)
		assert.Equal(t, []string{"cutover", "a"}, st.Pending())
		assert.Equal(t, runbook.StatusHalted, st.Status)

		res2 := h.Rollback(res.Run.ID)
		require.NoError(t, h.Err)
		assert.Equal(t, runbook.StatusRolledBack, res2.Status)
		assert.Equal(t, []string{"do a", "do cutover", "fail monitor", "undo cutover", "undo a"}, w.log())
	})
	t.Run("a run whose rollback was incomplete", func(t *testing.T) {
		w := &world{}
		p := mustBuild("incomplete", func(b *runbook.Builder) {
			b.Step(w.step("a")).Step(w.step("b", rollbackFails(3))).Step(w.step("c", fails(errBoom)))
		})
		j := &runbook.MemJournal{}
		h := runbooktest.New(t, p, runbooktest.WithJournal(j))
		res := h.Run()
		h.AssertStatus(runbook.StatusRollbackIncomplete)
		h.AssertPending("b")
		res2 := h.Rollback(res.Run.ID)
		require.NoError(t, h.Err)
		assert.Equal(t, runbook.StatusRolledBack, res2.Status)
		assert.Equal(t, []string{"b"}, res2.Compensated, "a was compensated by the first process")
	})
}

func TestResumeAfterTheLastStep(t *testing.T) {
	w := &world{}
	p := mustBuild("resume", func(b *runbook.Builder) {
		b.Step(w.step("a"))
		b.Gate(runbook.Gate{Name: "ok", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "go?"}})
		b.Step(w.step("b"))
	})
	j := crashed(t, p,
		runbook.Record{Kind: runbook.RecNodeStarted, Node: "ok"},
		runbook.Record{Kind: runbook.RecNodeSucceeded, Node: "ok"},
		runbook.Record{Kind: runbook.RecNodeSucceeded, Node: "b", Compensable: true, Outputs: runbook.Outputs{"name": "b"}},
	)
	recs, err := j.Load(context.Background(), "r1")
	require.NoError(t, err)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	assert.Empty(t, st.InDoubt)
	assert.Equal(t, runbook.Status(""), st.Status)
	assert.Equal(t, []string{"b", "a"}, st.Pending(), "the gate has nothing to undo")
	ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}
	res, err := ex.Resume(context.Background(), p, "r1", runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusSucceeded, res.Status)
	assert.Empty(t, w.log(), "nothing runs twice")
	_, err = ex.Resume(context.Background(), p, "r1", runbook.RunOptions{})
	assert.ErrorContains(t, err, "already ended succeeded")
}

func TestResumeAfterAFailureTheRunWentOnFrom(t *testing.T) {
	policies := []struct {
		name     string
		step     func(s *runbook.Step)
		approver runbook.Approver
	}{
		{"on_fail continue", func(s *runbook.Step) { s.OnFail = runbook.PolicyContinue }, nil},
		{"on_fail pause, approved", func(s *runbook.Step) { s.OnFail = runbook.PolicyPause }, runbooktest.NewApprover().GrantBy("notify", "alice")},
	}
	for _, pc := range policies {
		t.Run(pc.name, func(t *testing.T) {
			w := &world{}
			p := mustBuild("warned", func(b *runbook.Builder) {
				b.Step(w.step("a"))
				b.Step(w.step("notify", fails(errBoom), with(pc.step)))
				b.Step(w.step("c"))
			})
			// A full run, to get the records a real run writes.
			j := &runbook.MemJournal{}
			ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j, Approver: pc.approver}
			res, err := ex.Run(context.Background(), p, runbook.RunOptions{RunID: "full"})
			require.NoError(t, err)
			require.Equal(t, runbook.StatusSucceeded, res.Status)
			recs, err := j.Load(context.Background(), "full")
			require.NoError(t, err)
			st, err := runbook.Replay(recs)
			require.NoError(t, err)
			assert.Empty(t, st.Failed, "a failure the run went on from is not the run's failure")

			// The same run, crashed while c was running.
			var cut []runbook.Record
			for _, r := range recs {
				if r.Node == "c" && r.Kind == runbook.RecNodeStarted {
					r.Run = "crashed"
					cut = append(cut, r)
					break
				}
				r.Run = "crashed"
				cut = append(cut, r)
			}
			j2 := &runbook.MemJournal{}
			require.NoError(t, j2.Append(context.Background(), cut...))
			w.ops = nil
			res, err = (&runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j2}).Resume(context.Background(), p, "crashed", runbook.RunOptions{})
			require.Error(t, err, "c is not idempotent and there is no approver: in doubt")
			assert.ErrorIs(t, err, runbook.ErrInDoubt)
			assert.Equal(t, runbook.StatusInterrupted, res.Status, "not rolled back")
			assert.Empty(t, w.log())
		})
	}
}

// TestResumeFinishesTheRollback covers a resume that cannot go forward: it
// finishes the run's rollback, runs the failed step's own rollback first,
// halts before compensating past a point of no return, and refuses From.
func TestResumeFinishesTheRollback(t *testing.T) {
	failedB := []runbook.Record{
		{Kind: runbook.RecNodeFailed, Node: "b", Final: true, Error: "b: boom", Outputs: runbook.Outputs{"name": "b (partial)"}},
	}
	tests := []struct {
		name   string
		a, b   func(s *runbook.Step)
		extra  []runbook.Record
		opts   runbook.RunOptions
		status runbook.Status
		err    string
		ops    []string
	}{
		{name: "the failed step's own rollback runs first", b: func(s *runbook.Step) { s.RollbackOnFailure = true }, extra: failedB,
			status: runbook.StatusRolledBack, err: "run rolled_back: b failed before the restart: b: boom", ops: []string{"undo b (partial)", "undo a (from the journal)"}},
		{name: "without RollbackOnFailure only a is undone", extra: failedB,
			status: runbook.StatusRolledBack, err: "run rolled_back: b failed before the restart: b: boom", ops: []string{"undo a (from the journal)"}},
		{name: "past a point of no return: halted", a: func(s *runbook.Step) { s.PointOfNoReturn = true }, extra: failedB,
			status: runbook.StatusHalted, err: "run halted: b failed before the restart: b: boom; left to undo: a"},
		{name: "rolling back: goes on past a point of no return", a: func(s *runbook.Step) { s.PointOfNoReturn = true },
			extra:  append(append([]runbook.Record(nil), failedB...), runbook.Record{Kind: runbook.RecCompensating}),
			status: runbook.StatusRolledBack, err: "run rolled_back: b failed before the restart: b: boom", ops: []string{"undo a (from the journal)"}},
		{name: "rolling back, no failure recorded", extra: []runbook.Record{{Kind: runbook.RecCompensating}},
			status: runbook.StatusRolledBack, err: "run rolled_back: run was rolling back when it stopped", ops: []string{"undo a (from the journal)"}},
		{name: "rolling back, resumed from a node: refused", extra: []runbook.Record{{Kind: runbook.RecCompensating}}, opts: runbook.RunOptions{From: "a"},
			status: runbook.StatusInterrupted, err: "run interrupted: run r1 was rolling back when it stopped: it can only finish its rollback, not resume from a; left to undo: a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{}
			opt := func(f func(s *runbook.Step)) stepOpt {
				if f == nil {
					f = func(*runbook.Step) {}
				}
				return with(f)
			}
			p := mustBuild("resume", func(b *runbook.Builder) {
				b.Step(w.step("a", opt(tc.a))).Step(w.step("b", opt(tc.b))).Step(w.step("c"))
			})
			j := crashed(t, p, tc.extra...)
			ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}
			res, err := ex.Resume(context.Background(), p, "r1", tc.opts)
			require.NotNil(t, res)
			assert.Equal(t, tc.status, res.Status)
			assert.EqualError(t, err, tc.err)
			assert.Equal(t, tc.ops, nilIfEmpty(w.log()))
			// The failure still stands: a later resume finishes the
			// rollback too (the resume did not journal Forward).
			st, err := runbook.Replay(mustLoad(t, j))
			require.NoError(t, err)
			if len(tc.extra) > 0 && tc.extra[0].Kind == runbook.RecNodeFailed {
				assert.Equal(t, "b", st.Failed)
			}
		})
	}
}

// TestResumeInDoubtEdges: an unknown answer stops the run; a step in doubt
// that the new plan removed (forced) is not asked about.
func TestResumeInDoubtEdges(t *testing.T) {
	t.Run("unknown choice", func(t *testing.T) {
		w := &world{}
		p := mustBuild("resume", func(b *runbook.Builder) { b.Step(w.step("a")).Step(w.step("b")).Step(w.step("c")) })
		ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: crashed(t, p), Approver: runbooktest.NewApprover().Choose("b", "maybe")}
		res, err := ex.Resume(context.Background(), p, "r1", runbook.RunOptions{})
		require.NotNil(t, res)
		assert.Equal(t, runbook.StatusInterrupted, res.Status)
		assert.ErrorIs(t, err, runbook.ErrInDoubt)
		assert.Empty(t, w.log())
	})
	t.Run("removed from the plan", func(t *testing.T) {
		w := &world{}
		p := mustBuild("resume", func(b *runbook.Builder) { b.Step(w.step("a")).Step(w.step("b")).Step(w.step("c")) })
		edited := mustBuild("resume", func(b *runbook.Builder) { b.Step(w.step("a")).Step(w.step("c")) })
		ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: crashed(t, p)}
		res, err := ex.Resume(context.Background(), edited, "r1", runbook.RunOptions{Force: true, Reason: "b is gone"})
		require.NoError(t, err)
		assert.Equal(t, runbook.StatusSucceeded, res.Status)
		assert.Equal(t, []string{"do c"}, w.log())
	})
}
