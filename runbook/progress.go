package runbook

import (
	"context"
	"fmt"
)

// RecProgress records items of a step's progress ([Env.RecordProgress]):
// its Outputs hold the items, by name, with their new values.
const RecProgress RecordKind = "progress"

// RecordProgress durably records the progress of a step that works through
// several units (the hosts of a fan-out, say), one item per unit: when it
// returns, the items are in the journal. A later call replaces the value
// of the items it names; [Env.Progress] returns the latest value of each.
//
// Progress outlives the attempt that recorded it: a retry, a resumed run
// (after a crash, a halt, an abort or an interruption, and with an edited
// plan) and the step's rollbacks all see it, so a step can skip the units
// it already finished and a rollback can undo exactly the units that were
// changed. It is forgotten when the step succeeds: its outputs then say
// what it did. Unlike [Env.Checkpoint], progress is not merged into the
// step's outputs and does not by itself make the step's own rollback run
// when the step fails.
//
// Progress is kept across plan versions by node name: an action that
// skips work on the strength of it must check that the work it recorded is
// the work it would do now (ssh_exec records a fingerprint of its command
// with each host).
//
// RecordProgress may be called from several goroutines at once. Values
// must be JSON-compatible, as outputs are; secrets are redacted in the
// journal. By convention a value is a map with a "state" string and
// optionally an "error" string and an "attempt" number: reports show these
// per item.
func (e *Env) RecordProgress(ctx context.Context, items Outputs) error {
	if len(items) == 0 {
		return nil
	}
	if e.r != nil {
		return e.r.recordProgress(ctx, e.node, e.attempt, items)
	}
	if e.recordProgress != nil {
		if err := e.recordProgress(ctx, items); err != nil {
			return err
		}
	}
	e.progressMu.Lock()
	defer e.progressMu.Unlock()
	if e.progress == nil {
		e.progress = Outputs{}
	}
	for k, v := range items {
		e.progress[k] = v
	}
	return nil
}

// Progress returns a copy of what the step recorded with
// [Env.RecordProgress] in this run and has not been forgotten since (see
// there), with the latest value of each item; nil when there is none.
func (e *Env) Progress() Outputs {
	if e.r != nil {
		return e.r.progressOf(e.node)
	}
	e.progressMu.Lock()
	defer e.progressMu.Unlock()
	return copyOutputs(e.progress)
}

// RollsBackFailure reports whether the step's own rollback is what undoes
// a failure of the step: the step fails the run when it fails for good
// (policy rollback or abort), and its rollback runs for a failed step
// ([Step.RollbackOnFailure], or a checkpoint and idempotent rollbacks) —
// at once when the run rolls back, or in a later rollback from the
// journal. An action whose failure leaves part of its work done (a fan-out
// that succeeded on some hosts) can then leave that part in place for a
// retry or a resumed run to build on, instead of undoing it itself.
func (e *Env) RollsBackFailure() bool {
	if e.r != nil {
		return e.r.rollsBackFailure(e.node)
	}
	return e.rollsBackFailure
}

// recordProgress journals progress items of node.
func (r *run) recordProgress(ctx context.Context, node string, attempt int, items Outputs) error {
	r.mu.Lock()
	if r.progress == nil {
		r.progress = map[string]Outputs{}
	}
	p := r.progress[node]
	if p == nil {
		p = Outputs{}
		r.progress[node] = p
	}
	for k, v := range items {
		p[k] = v
	}
	r.mu.Unlock()
	if r.j == nil {
		return nil
	}
	if err := r.journal(ctx, Record{Kind: RecProgress, Node: node, Attempt: attempt, Outputs: r.red.RedactOutputs(items)}); err != nil {
		return fmt.Errorf("%s: progress: journal: %w", node, err)
	}
	return nil
}

// progressOf returns a copy of node's progress, or nil.
func (r *run) progressOf(node string) Outputs {
	r.mu.Lock()
	defer r.mu.Unlock()
	return copyOutputs(r.progress[node])
}

// forgetProgress drops node's progress once it succeeded.
func (r *run) forgetProgress(node string) {
	r.mu.Lock()
	delete(r.progress, node)
	r.mu.Unlock()
}

// rollsBackFailure implements Env.RollsBackFailure for node.
func (r *run) rollsBackFailure(node string) bool {
	i, ok := r.p.index[node]
	if !ok {
		return false
	}
	n := r.p.nodes[i]
	if n.Step == nil {
		return false
	}
	switch stepPolicy(n.Step) {
	case PolicyRollback, PolicyAbort:
	default:
		return false
	}
	r.mu.Lock()
	_, checkpointed := r.checkpoints[node]
	r.mu.Unlock()
	return n.compensatesOwnFailure(checkpointed)
}

// restoreProgress takes the progress a journal holds for a reopened run.
func (r *run) restoreProgress(st *RunState) {
	if len(st.Progress) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = make(map[string]Outputs, len(st.Progress))
	for node, p := range st.Progress {
		r.progress[node] = copyOutputs(p)
	}
}

// replayProgress folds a progress record into st.
func (st *RunState) replayProgress(rec Record) {
	if st.Progress == nil {
		st.Progress = map[string]Outputs{}
	}
	p := st.Progress[rec.Node]
	if p == nil {
		p = Outputs{}
		st.Progress[rec.Node] = p
	}
	for k, v := range rec.Outputs {
		p[k] = v
	}
}

func copyOutputs(o Outputs) Outputs {
	if o == nil {
		return nil
	}
	out := make(Outputs, len(o))
	for k, v := range o {
		out[k] = v
	}
	return out
}
