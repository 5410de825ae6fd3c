package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/sandbox"
)

// applySandbox rehearses a runbook against the stateful fakes of every
// provider on a simulated clock that plays the whole window in seconds,
// printing the same progress as a real run. --fail NAME makes a step fail or
// a gate breach there. Approval gates are approved (the rehearsal has no
// one to ask) unless --fail names them.
func (a *app) applySandbox(ctx context.Context, path string, af *applyFlags) int {
	start := time.Now().UTC().Truncate(time.Second)
	w, err := sandbox.ForRunbook(path, start)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	reg, err := w.Registry()
	if err != nil {
		a.errorf("%v", err)
		return exitInternal
	}
	rb := a.load(ctx, path, &af.vf, reg)
	if rb == nil {
		return exitInvalid
	}
	defer rb.Close()
	plan, err := sandbox.Fail(rb.Plan(), af.fails)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	var j runbook.Journal = &runbook.MemJournal{}
	if af.state.stateDir != "" || af.state.journal != "" {
		st, closeStore, err := a.openStore(ctx, af.state, path)
		if err != nil {
			a.errorf("%v", err)
			return exitInvalid
		}
		defer closeStore()
		j = st
	}
	if !af.asJSON {
		fmt.Fprintf(a.stdout, "Sandbox: %s against fakes of every provider, on a simulated clock starting %s.\n", filepath.Base(path), start.Format(time.RFC3339))
		if len(af.fails) > 0 {
			fmt.Fprintf(a.stdout, "Injected failures: %v\n", []string(af.fails))
		}
	}
	ex := a.executor(plan, rb.Redactor(), j, af, w.Clock, w.Observer())
	ex.Approver = sandbox.FailApprovals(autoApprover{}, af.fails)
	abs, _ := filepath.Abs(path)
	inputs := append([]runbook.Input{{Name: inputFile, Value: abs}, {Name: inputSandbox, Value: "true"}}, rb.Inputs()...)
	wall := time.Now()
	code := a.execute(ctx, rb, func(ctx context.Context, stop <-chan struct{}) (*runbook.Result, error) {
		return ex.Run(ctx, plan, runbook.RunOptions{Inputs: inputs, StopRollback: stop})
	}, af)
	if !af.asJSON {
		fmt.Fprintf(a.stdout, "Simulated %s in %s of wall time.\n", w.Clock.Now().Sub(start).Round(time.Second), time.Since(wall).Round(time.Millisecond))
	}
	return code
}
