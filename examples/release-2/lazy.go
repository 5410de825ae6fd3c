package release2

import (
	"context"

	"github.com/handrail-dev/handrail/runbook"
)

// lazy is a provider action whose arguments are known at run time only
// (they read an earlier step's outputs): it is built when the step runs, and
// again at rollback time for its natural rollback, from the same arguments
// and the step's outputs. This is what the HCL front end does for such a
// step, so the two plans describe it alike.
type lazy struct {
	desc     runbook.Description
	readOnly bool
	natural  bool
	build    func(env *runbook.Env) (runbook.Action, error)
}

func (b *build) lazy(inst, action string, readOnly, natural bool, build func(env *runbook.Env) (runbook.Action, error)) runbook.Action {
	return &lazy{desc: runbook.Description{Provider: inst, Action: action}, readOnly: readOnly, natural: natural, build: build}
}

func (l *lazy) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	a, err := l.build(env)
	if err != nil {
		return nil, err
	}
	return a.Do(ctx, env)
}

func (l *lazy) Describe() runbook.Description { return l.desc }

func (l *lazy) ReadOnly() bool { return l.readOnly }

func (l *lazy) NaturalRollback() runbook.Rollback {
	if !l.natural {
		return nil
	}
	return lazyNatural{l}
}

type lazyNatural struct{ l *lazy }

func (r lazyNatural) Compensate(ctx context.Context, env *runbook.Env) error {
	a, err := r.l.build(env)
	if err != nil {
		return err
	}
	nr, ok := a.(runbook.NaturalRollback)
	if !ok {
		return nil
	}
	rb := nr.NaturalRollback()
	if rb == nil {
		return nil
	}
	return rb.Compensate(ctx, env)
}

func (r lazyNatural) Describe() runbook.Description { return r.l.desc }

// described gives a natural rollback that has no description the action's
// own (an ssh_exec's rollback_script is described as ssh.lb ssh_exec), as
// the HCL front end does. Actions whose natural rollback describes itself,
// or that have none, are returned as they are.
func described(a runbook.Action) runbook.Action {
	nr, ok := a.(runbook.NaturalRollback)
	if !ok {
		return a
	}
	rb := nr.NaturalRollback()
	if rb == nil || runbook.Describe(rb) != (runbook.Description{}) {
		return a
	}
	return describedAction{Action: a, nr: nr}
}

type describedAction struct {
	runbook.Action
	nr runbook.NaturalRollback
}

func (d describedAction) Describe() runbook.Description { return runbook.Describe(d.Action) }

func (d describedAction) ReadOnly() bool {
	ro, ok := d.Action.(runbook.ReadOnly)
	return ok && ro.ReadOnly()
}

func (d describedAction) NaturalRollback() runbook.Rollback {
	rb := d.nr.NaturalRollback()
	if rb == nil {
		return nil
	}
	return describedRollback{Rollback: rb, desc: runbook.Describe(d.Action)}
}

type describedRollback struct {
	runbook.Rollback
	desc runbook.Description
}

func (d describedRollback) Describe() runbook.Description { return d.desc }
