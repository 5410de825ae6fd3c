package runbook

import (
	"context"
	"fmt"
)

// Resume continues a run that stopped (crash, kill, lost machine) from its
// journal. It refuses a journal written by another plan unless opts.Force.
// Steps that succeeded are not run again; a step found in doubt (started,
// never finished) is run again if it is idempotent, and otherwise the
// approver is asked to choose "rerun", "compensate" or "done" — without an
// approver the run stops with [ErrInDoubt]. A run that was already failing
// or rolling back continues its rollback.
func (e *Executor) Resume(ctx context.Context, p *Plan, runID string, opts RunOptions) (*Result, error) {
	st, r, unlock, err := e.reopen(ctx, p, runID, opts, "resume")
	if err != nil {
		return nil, err
	}
	defer unlock()
	switch st.Status {
	case "", StatusInterrupted:
	default:
		return nil, fmt.Errorf("runbook: run %s already ended %s: nothing to resume (roll it back with Rollback)", runID, st.Status)
	}
	if st.Failed != "" || st.RollingBack {
		if st.Failed != "" {
			r.failErr = fmt.Errorf("%s failed before the restart: %s", st.Failed, st.FailedErr)
			if i, ok := p.index[st.Failed]; ok {
				r.failIdx = i
				if n := p.nodes[i]; n.Step != nil && n.Step.RollbackOnFailure && !contains(st.Compensated, st.Failed) {
					r.ownFail = append(r.ownFail, i)
					if o, ok := st.Outputs[st.Failed]; ok {
						r.outputs[st.Failed] = o
					}
				}
			}
		} else {
			r.failErr = fmt.Errorf("run was rolling back when it stopped")
		}
		if r.ponr && !st.RollingBack {
			return r.result(ctx, &Result{Run: r.info}, StatusHalted, r.pendingNames(r.compensationOrder()))
		}
		status, pending := r.compensate(ctx, r.compensationOrder(), r.failErr.Error())
		return r.result(ctx, &Result{Run: r.info}, status, pending)
	}
	done := map[int]bool{}
	for name, s := range st.Nodes {
		if i, ok := p.index[name]; ok && (s == StateSucceeded || s == StateSkipped || s == StateCompensated) {
			done[i] = true
		}
	}
	for _, name := range st.InDoubt {
		i, ok := p.index[name]
		if !ok {
			continue
		}
		n := p.nodes[i]
		if n.Gate != nil || n.Step.Idempotent || n.ro {
			r.emit(Note{Header: r.header(name), Message: "in doubt after restart: running it again (idempotent)"})
			continue
		}
		d, aerr := r.ask(ctx, ApprovalRequest{Node: name, Kind: "in-doubt", Choices: []string{"rerun", "compensate", "done"},
			Message: fmt.Sprintf("step %s was started but never finished before the run stopped, and it is not idempotent. Did it take effect? Choose rerun (run it again), compensate (treat it as done and roll the run back) or done (treat it as done and go on).", name)}, 0, false)
		if aerr != nil {
			r.failErr = &StepError{Node: name, Err: fmt.Errorf("%w: %w", ErrInDoubt, aerr)}
			return r.result(ctx, &Result{Run: r.info}, StatusInterrupted, r.pendingNames(r.compensationOrder()))
		}
		switch d.Choice {
		case "rerun":
		case "done", "compensate":
			done[i] = true
			outs := r.withCheckpoint(name, Outputs{})
			r.mu.Lock()
			r.done = append(r.done, i)
			r.outputs[name] = outs
			r.res[i].Status = StateSucceeded
			r.res[i].End = r.clock.Now()
			r.mu.Unlock()
			_ = r.journal(ctx, Record{Kind: RecNodeSucceeded, Node: name, Error: "marked done by " + d.By, Compensable: len(n.rbs) > 0})
			if d.Choice == "compensate" {
				r.failErr = &StepError{Node: name, Err: fmt.Errorf("%w: compensated by decision of %s", ErrInDoubt, d.By)}
				status, pending := r.compensate(ctx, r.compensationOrder(), r.failErr.Error())
				return r.result(ctx, &Result{Run: r.info}, status, pending)
			}
		default:
			r.failErr = &StepError{Node: name, Err: fmt.Errorf("%w: unknown choice %q", ErrInDoubt, d.Choice)}
			return r.result(ctx, &Result{Run: r.info}, StatusInterrupted, r.pendingNames(r.compensationOrder()))
		}
	}
	r.forward(ctx, done)
	return r.finish(ctx)
}

// Rollback compensates, from the journal alone, every step of a run that
// completed and was not compensated yet, in reverse completion order. It
// works on a stopped run, a halted one, and a run that succeeded (a rollback
// after the bake window). The point of no return does not stop it: asking
// for a rollback is the decision it waits for.
func (e *Executor) Rollback(ctx context.Context, p *Plan, runID string, opts RunOptions) (*Result, error) {
	st, r, unlock, err := e.reopen(ctx, p, runID, opts, "rollback")
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
			if n := p.nodes[i]; n.Step != nil && n.Step.RollbackOnFailure && !contains(st.Compensated, st.Failed) {
				r.ownFail = append(r.ownFail, i)
				if o, ok := st.Outputs[st.Failed]; ok {
					r.outputs[st.Failed] = o
				}
			}
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
		if cp, ok := st.Checkpoints[name]; ok && n.Step.RollbackOnFailure {
			r.ownFail = append(r.ownFail, i)
			r.outputs[name] = cp
			continue
		}
		d, aerr := r.ask(ctx, ApprovalRequest{Node: name, Kind: "in-doubt", Choices: []string{"compensate", "skip"},
			Message: fmt.Sprintf("step %s was started but never finished before the run stopped. Did it take effect? Choose compensate (run its rollback) or skip (it changed nothing).", name)}, 0, false)
		if aerr != nil {
			r.failErr = &StepError{Node: name, Err: fmt.Errorf("%w: %w", ErrInDoubt, aerr)}
			return r.result(ctx, &Result{Run: r.info}, StatusInterrupted, r.pendingNames(r.compensationOrder()))
		}
		switch d.Choice {
		case "compensate":
			r.ownFail = append(r.ownFail, i)
			r.outputs[name] = r.withCheckpoint(name, Outputs{})
		case "skip":
		default:
			r.failErr = &StepError{Node: name, Err: fmt.Errorf("%w: unknown choice %q", ErrInDoubt, d.Choice)}
			return r.result(ctx, &Result{Run: r.info}, StatusInterrupted, r.pendingNames(r.compensationOrder()))
		}
	}
	status, pending := r.compensate(ctx, r.compensationOrder(), r.failErr.Error())
	res, rerr := r.result(ctx, &Result{Run: r.info}, status, pending)
	if status == StatusRolledBack {
		res.Err = nil
		return res, nil
	}
	return res, rerr
}

// reopen loads a run's journal, checks the plan and rebuilds the state.
func (e *Executor) reopen(ctx context.Context, p *Plan, runID string, opts RunOptions, mode string) (*RunState, *run, func(), error) {
	if e.Journal == nil {
		return nil, nil, nil, fmt.Errorf("runbook: %s of run %s needs a journal", mode, runID)
	}
	recs, err := e.Journal.Load(ctx, runID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("runbook: %s: %w", mode, err)
	}
	st, err := Replay(recs)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("runbook: %s of run %s: %w", mode, runID, err)
	}
	if st.PlanHash != p.Hash() && !opts.Force {
		return nil, nil, nil, fmt.Errorf("%w: run %s was started from plan %.12s, this plan is %.12s; run with force to %s anyway", ErrPlanChanged, runID, st.PlanHash, p.Hash(), mode)
	}
	unlock, err := e.lock(ctx, p, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	r := e.newRun(p, opts, st.Run)
	if len(st.Checkpoints) > 0 {
		r.checkpoints = map[string]Outputs{}
		for k, v := range st.Checkpoints {
			r.checkpoints[k] = v
		}
	}
	r.info.ID = runID
	compensated := map[string]bool{}
	for _, c := range st.Compensated {
		compensated[c] = true
	}
	for _, name := range st.Succeeded {
		i, ok := p.index[name]
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
		if n := p.nodes[i]; n.Step != nil && n.Step.PointOfNoReturn {
			r.ponr = true
		}
	}
	if err := r.journal(ctx, Record{Kind: RecRunStarted, Runbook: p.Name, PlanHash: p.Hash(), Mode: mode}); err != nil {
		unlock()
		return nil, nil, nil, fmt.Errorf("runbook: %s of run %s: journal: %w", mode, runID, err)
	}
	r.emit(RunStarted{Header: r.header(""), Runbook: p.Name, PlanHash: p.Hash(), Mode: mode})
	return st, r, unlock, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
