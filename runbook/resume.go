package runbook

import (
	"context"
	"fmt"
	"strings"
)

// Resume continues a run that stopped (crash, kill, lost machine, a halt or
// an abort) from its journal, with p: the plan it recorded or an edited
// one. The journal's plan and p are compared node by node (see
// [Executor.Compare]): completed nodes that did not change are kept,
// failed, in-doubt and not-yet-run nodes run (with their new definition),
// new nodes run, a completed step's changed rollback is what will run if
// the run rolls back. Unsafe changes (a completed step whose action or
// arguments changed, a removed step still owed a compensation, a completed
// node now placed after one that has not run) are refused with an
// [EditError] unless opts.Force and opts.Reason. A plan that differs is
// journaled as a new version of the run, with its lineage, opts.By and
// opts.Reason.
//
// opts.From re-runs a node and every node that depends on it; completed
// ones among them run again only if idempotent (or read-only, or gates),
// listed in opts.Rerun, or confirmed by the approver ("rerun" or "keep").
//
// Steps that succeeded are not run again; a step found in doubt (started,
// never finished) is run again if it is idempotent, and otherwise the
// approver is asked to choose "rerun", "compensate" or "done" — without an
// approver the run stops with [ErrInDoubt]. A halted or aborted run
// resumed with another plan or From, and a failed one likewise, goes
// forward from its failed node (with the same plan and no From, a halted
// or aborted run has nothing to resume). Any other run that was failing or rolling back continues
// its rollback; a compensation found in doubt (started, never recorded as
// finished) runs again if the step's rollbacks are idempotent, and
// otherwise the approver chooses "compensate" or "done" — without an
// approver the run stops with [ErrCompensationInDoubt].
func (e *Executor) Resume(ctx context.Context, p *Plan, runID string, opts RunOptions) (*Result, error) {
	st, r, cmp, unlock, err := e.reopen(ctx, p, runID, opts, "resume")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if cmp.Mode == "rollback" {
		return r.finishRollback(ctx, st, runID, opts)
	}
	done := completedNodes(st, p)
	if st.Failed != "" {
		// Going forward from the failed node: it runs again.
		r.failErr, r.failIdx = nil, -1
	}
	if code, ok := r.confirmReruns(ctx, cmp, opts); !ok {
		return r.stopped(ctx, code)
	}
	r.markReruns(cmp, done)
	for _, name := range st.InDoubt {
		if ended, res, err := r.settleInDoubt(ctx, name, done); ended {
			return res, err
		}
	}
	r.forward(ctx, done)
	return r.finish(ctx)
}

// finishRollback goes on with the rollback of a run that was failing or
// rolling back when it stopped: what a resume does when it cannot go
// forward. It does not run past a point of no return that was passed
// before any compensation began (the run halts).
func (r *run) finishRollback(ctx context.Context, st *RunState, runID string, opts RunOptions) (*Result, error) {
	if opts.From != "" {
		r.failErr = fmt.Errorf("run %s was rolling back when it stopped: it can only finish its rollback, not resume from %s", runID, opts.From)
		return r.stopped(ctx, StatusInterrupted)
	}
	if st.Failed != "" {
		r.failErr = fmt.Errorf("%s failed before the restart: %s", st.Failed, st.FailedErr)
		if i, ok := r.p.index[st.Failed]; ok {
			r.failIdx = i
			r.queueOwnFailure(st, i)
		}
	} else {
		r.failErr = fmt.Errorf("run was rolling back when it stopped")
	}
	if r.ponr && !st.RollingBack {
		return r.stopped(ctx, StatusHalted)
	}
	if err := r.settleCompensationsInDoubt(ctx, st); err != nil {
		r.failErr = err
		return r.stopped(ctx, StatusInterrupted)
	}
	status, pending := r.compensate(ctx, r.compensationOrder(), r.failErr.Error())
	return r.result(ctx, &Result{Run: r.info}, status, pending)
}

// stopped ends the run with status without compensating: what is left to
// undo is pending.
func (r *run) stopped(ctx context.Context, status Status) (*Result, error) {
	return r.result(ctx, &Result{Run: r.info}, status, r.pendingNames(r.compensationOrder()))
}

// queueOwnFailure queues the own rollback of step i, the run's failed
// step, with its partial outputs, when the step undoes its own failure
// and was not compensated yet.
func (r *run) queueOwnFailure(st *RunState, i int) {
	if n := r.p.nodes[i]; n.compensatesOwnFailure(hasCheckpoint(st, st.Failed)) && !contains(st.Compensated, st.Failed) {
		r.ownFail = append(r.ownFail, i)
		if o, ok := st.Outputs[st.Failed]; ok {
			r.outputs[st.Failed] = o
		}
	}
}

// completedNodes returns the nodes of p that the journal says completed
// (succeeded, skipped or compensated): a resume does not run them again.
func completedNodes(st *RunState, p *Plan) map[int]bool {
	done := map[int]bool{}
	for name, s := range st.Nodes {
		if i, ok := p.index[name]; ok && (s == StateSucceeded || s == StateSkipped || s == StateCompensated) {
			done[i] = true
		}
	}
	return done
}

// markReruns takes the completed nodes that run again (see confirmReruns)
// out of done.
func (r *run) markReruns(cmp *Comparison, done map[int]bool) {
	for _, c := range cmp.Nodes {
		if c.Change != ChangeRerun || !done[r.p.index[c.Node]] {
			continue
		}
		i := r.p.index[c.Node]
		if r.rerun[i] {
			done[i] = false
			r.res[i].Status = StatePending
		}
	}
}

// settleInDoubt decides what becomes of a step found in doubt (started,
// never finished) when the run goes forward: an idempotent one, a gate
// or a read-only step runs again; for any other the approver chooses
// "rerun", "done" (it counts as done) or "compensate" (it counts as done
// and the run rolls back). ended reports that the run ends here, with res
// and err: no answer, an unknown choice, or the rollback.
func (r *run) settleInDoubt(ctx context.Context, name string, done map[int]bool) (ended bool, res *Result, err error) {
	i, ok := r.p.index[name]
	if !ok {
		return false, nil, nil
	}
	n := r.p.nodes[i]
	if n.Gate != nil || n.Step.Idempotent || n.ro {
		r.emit(Note{Header: r.header(name), Message: "in doubt after restart: running it again (idempotent)"})
		return false, nil, nil
	}
	d, aerr := r.ask(ctx, ApprovalRequest{Node: name, Kind: "in-doubt", Choices: []string{"rerun", "compensate", "done"},
		Message: fmt.Sprintf("step %s was started but never finished before the run stopped, and it is not idempotent. Did it take effect? Choose rerun (run it again), compensate (treat it as done and roll the run back) or done (treat it as done and go on).", name)}, 0, false)
	if aerr != nil {
		r.failErr = &StepError{Node: name, Err: fmt.Errorf("%w: %w", ErrInDoubt, aerr)}
		res, err = r.stopped(ctx, StatusInterrupted)
		return true, res, err
	}
	switch d.Choice {
	case "rerun":
		return false, nil, nil
	case "done", "compensate":
		done[i] = true
		r.markDone(ctx, i, d.By)
		if d.Choice == "compensate" {
			r.failErr = &StepError{Node: name, Err: fmt.Errorf("%w: compensated by decision of %s", ErrInDoubt, d.By)}
			status, pending := r.compensate(ctx, r.compensationOrder(), r.failErr.Error())
			res, err = r.result(ctx, &Result{Run: r.info}, status, pending)
			return true, res, err
		}
		return false, nil, nil
	default:
		r.failErr = &StepError{Node: name, Err: fmt.Errorf("%w: unknown choice %q", ErrInDoubt, d.Choice)}
		res, err = r.stopped(ctx, StatusInterrupted)
		return true, res, err
	}
}

// markDone records step i, found in doubt, as succeeded by decision of
// by, with the outputs it checkpointed.
func (r *run) markDone(ctx context.Context, i int, by string) {
	n := r.p.nodes[i]
	outs := r.withCheckpoint(n.Name, Outputs{})
	r.mu.Lock()
	r.done = append(r.done, i)
	r.outputs[n.Name] = outs
	r.res[i].Status = StateSucceeded
	r.res[i].End = r.clock.Now()
	r.mu.Unlock()
	_ = r.journal(ctx, Record{Kind: RecNodeSucceeded, Node: n.Name, Error: "marked done by " + by, Compensable: len(n.rbs) > 0})
}

// Rollback compensates, from the journal alone, every step of a run that
// completed and was not compensated yet, in reverse completion order. It
// works on a stopped run, a halted one, and a run that succeeded (a rollback
// after the bake window). The point of no return does not stop it: asking
// for a rollback is the decision it waits for. Compensations found in doubt
// are settled as in [Executor.Resume].
func (e *Executor) Rollback(ctx context.Context, p *Plan, runID string, opts RunOptions) (*Result, error) {
	st, r, _, unlock, err := e.reopen(ctx, p, runID, opts, "rollback")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if st.Status == StatusRolledBack {
		return nil, fmt.Errorf("run %s is already rolled back: %w", runID, ErrNothingToUndo)
	}
	r.failErr = fmt.Errorf("rollback of run %s requested", runID)
	if st.Failed != "" {
		if i, ok := p.index[st.Failed]; ok {
			r.queueOwnFailure(st, i)
		}
	}
	// A step left in doubt (started, never finished) may have changed the
	// world before the process died. With RollbackOnFailure and a
	// checkpoint, its own rollback runs first, from the checkpoint. Any
	// other in-doubt step with a rollback is a question for a person:
	// compensate it or skip it — never a silent guess.
	for _, name := range st.InDoubt {
		i, ok := p.index[name]
		if !ok {
			continue
		}
		n := p.nodes[i]
		if n.Step == nil || len(n.rbs) == 0 || contains(st.Compensated, name) {
			continue
		}
		if cp, ok := st.Checkpoints[name]; ok && n.compensatesOwnFailure(true) {
			r.ownFail = append(r.ownFail, i)
			r.outputs[name] = cp
			continue
		}
		d, aerr := r.ask(ctx, ApprovalRequest{Node: name, Kind: "in-doubt", Choices: []string{"compensate", "skip"},
			Message: fmt.Sprintf("step %s was started but never finished before the run stopped. Did it take effect? Choose compensate (run its rollback) or skip (it changed nothing).", name)}, 0, false)
		if aerr != nil {
			r.failErr = &StepError{Node: name, Err: fmt.Errorf("%w: %w", ErrInDoubt, aerr)}
			return r.stopped(ctx, StatusInterrupted)
		}
		switch d.Choice {
		case "compensate":
			r.ownFail = append(r.ownFail, i)
			r.outputs[name] = r.withCheckpoint(name, Outputs{})
		case "skip":
		default:
			r.failErr = &StepError{Node: name, Err: fmt.Errorf("%w: unknown choice %q", ErrInDoubt, d.Choice)}
			return r.stopped(ctx, StatusInterrupted)
		}
	}
	if err := r.settleCompensationsInDoubt(ctx, st); err != nil {
		r.failErr = err
		return r.stopped(ctx, StatusInterrupted)
	}
	status, pending := r.compensate(ctx, r.compensationOrder(), r.failErr.Error())
	res, rerr := r.result(ctx, &Result{Run: r.info}, status, pending)
	if res.Status == StatusRolledBack {
		res.Err = nil
		return res, nil
	}
	return res, rerr
}

// reopen takes the run lock, then loads the run's journal, compares its
// plan with p, and rebuilds the state. The lock comes first: state loaded
// before it could be changed by the run that held it (a rollback finishing
// its compensations), and acting on it would compensate twice.
func (e *Executor) reopen(ctx context.Context, p *Plan, runID string, opts RunOptions, mode string) (*RunState, *run, *Comparison, func(), error) {
	fail := func(err error) (*RunState, *run, *Comparison, func(), error) { return nil, nil, nil, nil, err }
	if e.Journal == nil {
		return fail(fmt.Errorf("runbook: %s of run %s needs a journal", mode, runID))
	}
	if mode == "rollback" && (opts.From != "" || len(opts.Rerun) > 0) {
		return fail(fmt.Errorf("runbook: rollback of run %s: from and rerun are for a resume", runID))
	}
	lease, release, err := e.lock(ctx, p, opts)
	if err != nil {
		return fail(err)
	}
	st, cmp, err := e.load(ctx, p, runID, opts, mode)
	if err != nil {
		release()
		return fail(err)
	}
	r := e.newRun(p, opts, st.Run)
	if st.StartedBy != "" {
		r.starter = st.StartedBy // separation of duties follows the original starter
	}
	stop := r.hold(lease)
	unlock := func() {
		stop()
		release()
	}
	r.restore(st, runID)
	if err := r.startVersion(ctx, st, cmp, mode, opts); err != nil {
		unlock()
		return fail(fmt.Errorf("runbook: %s of run %s: journal: %w", mode, runID, err))
	}
	return st, r, cmp, unlock, nil
}

// load loads the run's journal (under the run lock), checks that the run
// can be resumed (mode "resume"), and compares its plan with p: unsafe
// changes are refused unless forced with a reason.
func (e *Executor) load(ctx context.Context, p *Plan, runID string, opts RunOptions, mode string) (*RunState, *Comparison, error) {
	recs, err := e.Journal.Load(ctx, runID)
	if err != nil {
		return nil, nil, fmt.Errorf("runbook: %s: %w", mode, err)
	}
	st, err := Replay(recs)
	if err != nil {
		return nil, nil, fmt.Errorf("runbook: %s of run %s: %w", mode, runID, err)
	}
	if mode == "resume" {
		if err := resumable(st, p, runID, opts); err != nil {
			return nil, nil, err
		}
	}
	cmp, err := CompareRun(st, p, mode, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("runbook: %s of run %s: %w", mode, runID, err)
	}
	if unsafe := cmp.Unsafe(); len(unsafe) > 0 {
		if !opts.Force {
			return nil, nil, &EditError{Comparison: cmp, Msg: "fix the runbook, or go on anyway with force and a reason (journaled)"}
		}
		if strings.TrimSpace(opts.Reason) == "" {
			return nil, nil, &EditError{Comparison: cmp, Msg: "forcing unsafe changes needs a reason, journaled with the new plan version"}
		}
	}
	return st, cmp, nil
}

// resumable refuses a resume of a run that ended: one that succeeded or
// was rolled back, and one that halted or aborted, resumed with the same
// plan and no From.
func resumable(st *RunState, p *Plan, runID string, opts RunOptions) error {
	switch st.Status {
	case "", StatusInterrupted:
	case StatusHalted, StatusAborted:
		if opts.From == "" && !planDiffers(st, p) {
			return fmt.Errorf("runbook: run %s ended %s: nothing to resume with the same plan; fix the runbook and resume with it, resume from a node (From), or roll it back (Rollback)", runID, st.Status)
		}
	default:
		return fmt.Errorf("runbook: run %s already ended %s: nothing to resume (roll it back with Rollback)", runID, st.Status)
	}
	return nil
}

// restore rebuilds the run's state from the journal: its id, checkpoints,
// progress, and the steps that succeeded (compensated or not), with their
// outputs and times; a point of no return among those not compensated is
// passed.
func (r *run) restore(st *RunState, runID string) {
	if len(st.Checkpoints) > 0 {
		r.checkpoints = map[string]Outputs{}
		for k, v := range st.Checkpoints {
			r.checkpoints[k] = v
		}
	}
	r.restoreProgress(st)
	r.info.ID = runID
	compensated := map[string]bool{}
	for _, c := range st.Compensated {
		compensated[c] = true
	}
	for _, name := range st.Succeeded {
		i, ok := r.p.index[name]
		if !ok {
			continue
		}
		r.outputs[name] = st.Outputs[name]
		r.res[i].Status = StateSucceeded
		r.res[i].Outputs = st.Outputs[name]
		r.res[i].Start, r.res[i].End = st.Started[name], st.Ended[name]
		if compensated[name] {
			r.res[i].Status = StateCompensated
			continue
		}
		r.done = append(r.done, i)
		if n := r.p.nodes[i]; n.Step != nil && n.Step.PointOfNoReturn {
			r.ponr = true
		}
	}
}

// startVersion journals that the run goes on (mode) and announces it: a
// plan that differs, or From, starts a new version of the run's plan, with
// its lineage; unsafe changes that were forced are announced one by one.
// A resume that goes forward from the failed node (Forward) says so.
func (r *run) startVersion(ctx context.Context, st *RunState, cmp *Comparison, mode string, opts RunOptions) error {
	p := r.p
	unsafe := cmp.Unsafe()
	start := Record{Kind: RecRunStarted, Runbook: p.Name, PlanHash: p.Hash(), Mode: mode, By: opts.By}
	if cmp.Differs || opts.From != "" {
		// A new version of the run's plan, with its lineage.
		start.PrevPlanHash, start.Reason, start.Forced, start.From = cmp.Old, r.red.Redact(opts.Reason), len(unsafe) > 0, opts.From
		start.Changes = cmp.Changed()
		start.Plan, start.NodeHashes = p.Dump(), p.NodeHashes()
	}
	start.Forward = mode == "resume" && cmp.Mode == "resume" && st.Failed != ""
	if err := r.journal(ctx, start); err != nil {
		return err
	}
	r.emit(RunStarted{Header: r.header(""), Runbook: p.Name, PlanHash: p.Hash(), Mode: mode, PrevPlanHash: start.PrevPlanHash, Reason: start.Reason})
	for _, n := range unsafe {
		r.emit(Note{Header: r.header(n.Node), Message: "unsafe change accepted (forced: " + start.Reason + "): " + n.Why})
	}
	return nil
}

// confirmReruns decides which completed nodes in From's span run again:
// idempotent and listed ones do; for the others the approver chooses
// "rerun" or "keep". Without an answer the run stops (interrupted).
func (r *run) confirmReruns(ctx context.Context, cmp *Comparison, opts RunOptions) (Status, bool) {
	for _, c := range cmp.Nodes {
		if c.Change != ChangeRerun || c.Was != StateSucceeded {
			continue
		}
		i := r.p.index[c.Node]
		if c.Ask {
			d, err := r.ask(ctx, ApprovalRequest{Node: c.Node, Kind: "rerun", Choices: []string{"rerun", "keep"},
				Message: fmt.Sprintf("step %s completed and is not idempotent; resuming from %s reaches it. Choose rerun (run it again) or keep (it stays done).", c.Node, opts.From)}, 0, false)
			if err != nil {
				r.failErr = &StepError{Node: c.Node, Err: fmt.Errorf("%w: completed and not idempotent: list it to run again (rerun), or resume from a later node: %w", ErrUnsafeEdit, err)}
				return StatusInterrupted, false
			}
			switch d.Choice {
			case "rerun":
			case "keep":
				continue
			default:
				r.failErr = &StepError{Node: c.Node, Err: fmt.Errorf("%w: unknown choice %q (rerun or keep)", ErrUnsafeEdit, d.Choice)}
				return StatusInterrupted, false
			}
		}
		if r.rerun == nil {
			r.rerun = map[int]bool{}
		}
		r.rerun[i] = true
	}
	return "", true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// hasCheckpoint reports whether the journal holds a checkpoint of node.
func hasCheckpoint(st *RunState, node string) bool {
	_, ok := st.Checkpoints[node]
	return ok
}
