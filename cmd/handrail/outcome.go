package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/sandbox"
)

// execute runs fn with Ctrl-C handling: the first interrupt stops the run
// and rolls back; the second stops the rollback after the compensation in
// progress and leaves the journal ready for `handrail rollback RUN`. mode
// is "run", "resume" or "rollback".
func (a *app) execute(ctx context.Context, rb *hcl.Runbook, mode string, fn func(ctx context.Context, stop <-chan struct{}) (*runbook.Result, error)) int {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case <-a.signals:
				n++
				if n == 1 {
					fmt.Fprintln(a.stderr, "\nInterrupted: stopping the run and rolling back what it did. Press Ctrl-C again to stop the rollback after the current compensation.")
					cancel()
				} else if n == 2 {
					fmt.Fprintln(a.stderr, "\nStopping the rollback after the current compensation; the run's summary says how to finish it.")
					close(stop)
				}
			}
		}
	}()
	res, err := fn(runCtx, stop)
	if res == nil && errors.Is(err, sandbox.ErrCrashed) {
		return exitPerson
	}
	if res == nil && errors.Is(err, runbook.ErrNothingToUndo) {
		fmt.Fprintf(a.stderr, "Nothing to undo: %v\n", err)
		return exitOK
	}
	if res == nil {
		a.errorf("%v", err)
		if a.lockAdvice(err) {
			return exitPerson
		}
		if errors.Is(err, runbook.ErrPlanChanged) || errors.Is(err, runbook.ErrRunNotFound) {
			return exitInvalid
		}
		return exitPerson
	}
	if res.Status == runbook.StatusInterrupted && errors.Is(res.Err, runbook.ErrLockLost) {
		fmt.Fprintf(a.stderr, "Run %s STOPPED: %s\n", res.Run.ID, rb.Redactor().Redact(errText(res.Err)))
		if len(res.Pending) > 0 {
			fmt.Fprintf(a.stderr, "Completed steps not compensated: %s\n", strings.Join(res.Pending, ", "))
		}
		a.lockAdvice(res.Err)
		return exitPerson
	}
	return a.summarize(rb, res, mode)
}

// hint is a command the operator can paste from any directory: the
// command, the run id and the flags selecting the run's journal.
func (a *app) hint(cmd, run string) string {
	return "handrail " + cmd + " " + run + a.where.flags()
}

// undoOrder lists the completed steps of a succeeded run that have a
// rollback, in the order `handrail rollback` would compensate them.
func undoOrder(plan *runbook.Plan, res *runbook.Result) []string {
	var out []string
	for i := len(res.Completed) - 1; i >= 0; i-- {
		name := res.Completed[i]
		if n, ok := plan.Node(name); ok && n.Step != nil && len(plan.Rollbacks(name)) > 0 {
			out = append(out, name)
		}
	}
	return out
}

// summarize prints the run's outputs (stdout) and what to do next
// (stderr), and maps the status to an exit code.
func (a *app) summarize(rb *hcl.Runbook, res *runbook.Result, mode string) int {
	red := rb.Redactor()
	id := res.Run.ID
	if res.Status == runbook.StatusSucceeded {
		if outs, diags := rb.Outputs(res.Run, func(n string) (runbook.Outputs, bool) {
			nr, ok := res.Nodes[n]
			if !ok || nr.Outputs == nil {
				return nil, false
			}
			return nr.Outputs, true
		}); !diags.HasErrors() && len(outs) > 0 && a.jsonEvents {
			doc := map[string]any{}
			for _, o := range outs {
				v := o.Value
				if o.Sensitive {
					v = "(sensitive)"
				}
				doc[o.Name] = v
			}
			b, err := json.Marshal(doc)
			if err == nil {
				fmt.Fprintf(a.stdout, "{\"format_version\":%q,\"type\":\"outputs\",\"outputs\":%s}\n", formatVersion, red.Redact(string(b)))
			}
		} else if !diags.HasErrors() && len(outs) > 0 {
			fmt.Fprintln(a.stdout, "Outputs:")
			for _, o := range outs {
				v := o.Value
				if o.Sensitive {
					v = "(sensitive)"
				}
				fmt.Fprintf(a.stdout, "  %s = %s\n", o.Name, red.Redact(fmt.Sprint(v)))
			}
		}
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(a.stderr, "Warning: %s\n", red.Redact(w.Error()))
	}
	report := "The incident report: " + a.hint("report", id) + " -o " + id + ".html\n"
	switch res.Status {
	case runbook.StatusSucceeded:
		if undo := undoOrder(rb.Plan(), res); len(undo) > 0 {
			fmt.Fprintf(a.stderr, "Run %s succeeded. It can still be rolled back later (compensations in this order: %s):\n  %s\n", id, strings.Join(undo, ", "), a.hint("rollback", id))
		} else {
			fmt.Fprintf(a.stderr, "Run %s succeeded.\n", id)
		}
		return exitOK
	case runbook.StatusRolledBack:
		switch {
		case mode == "rollback":
			comp := "nothing needed compensating"
			if len(res.Compensated) > 0 {
				comp = "compensated in this order: " + strings.Join(res.Compensated, ", ")
			}
			fmt.Fprintf(a.stderr, "Run %s was rolled back as requested (handrail rollback): %s.\n", id, comp)
		case errors.Is(res.Err, runbook.ErrCancelled) || errors.Is(res.Err, context.Canceled):
			fmt.Fprintf(a.stderr, "Run %s was interrupted and rolled back.\n%s", id, report)
		default:
			fmt.Fprintf(a.stderr, "Run %s failed and was rolled back: %s\n%s", id, red.Redact(errText(res.Err)), report)
		}
		return exitRolled
	case runbook.StatusAborted:
		if len(res.Pending) == 0 {
			fmt.Fprintf(a.stderr, "Run %s aborted: %s (nothing to undo)\n%s", id, red.Redact(errText(res.Err)), report)
			return exitRolled
		}
		fmt.Fprintf(a.stderr, "Run %s aborted: %s\nNothing was compensated. To undo, in order: %s\n  %s\n%s", id, red.Redact(errText(res.Err)), strings.Join(res.Pending, ", "), a.hint("rollback", id), report)
		return exitPerson
	case runbook.StatusHalted:
		fmt.Fprintf(a.stderr, "Run %s HALTED after its point of no return: %s\nNothing was compensated automatically. If you decide to roll back, these compensations run in this order: %s\n  %s\n%s", id, red.Redact(errText(res.Err)), strings.Join(res.Pending, ", "), a.hint("rollback", id), report)
		return exitPerson
	case runbook.StatusRollbackIncomplete:
		fmt.Fprintf(a.stderr, "Run %s failed and its ROLLBACK IS INCOMPLETE: %s\nStill to undo, in order: %s\nFix the cause, then: %s\n%s", id, red.Redact(errText(res.Err)), strings.Join(res.Pending, ", "), a.hint("rollback", id), report)
		return exitPerson
	default:
		if len(res.Compensated) > 0 || strings.Contains(errText(res.Err), "rollback stopped") {
			fmt.Fprintf(a.stderr, "Run %s: the rollback was stopped before it finished: %s\nStill to undo, in order: %s\nFinish the rollback with: %s\n%s", id, red.Redact(errText(res.Err)), strings.Join(res.Pending, ", "), a.hint("rollback", id), report)
			return exitPerson
		}
		fmt.Fprintf(a.stderr, "Run %s stopped (%s): %s\nContinue with: %s\nor undo with: %s\n%s", id, res.Status, red.Redact(errText(res.Err)), a.hint("resume", id), a.hint("rollback", id), report)
		return exitPerson
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// nothingToResume reports (done=true) a run that has nothing to resume: it
// ended. It says so, with what can still be done, and exits 0.
func (a *app) nothingToResume(ctx context.Context, recs []runbook.Record, id string, edited bool) (code int, done bool) {
	st, err := runbook.Replay(recs)
	if err != nil {
		return 0, false
	}
	switch st.Status {
	case "", runbook.StatusInterrupted:
		return 0, false
	case runbook.StatusHalted, runbook.StatusAborted:
		if edited {
			return 0, false // a fixed runbook, or -from: it goes on from there
		}
	}
	fmt.Fprintf(a.stdout, "Nothing to resume: run %s already ended %s.\n", id, st.Status)
	if st.Status == runbook.StatusHalted || st.Status == runbook.StatusAborted {
		fmt.Fprintf(a.stdout, "To go on from where it stopped, fix the runbook and resume with it (-runbook FILE), or resume from a node (-from NODE).\n")
	}
	if pending := leftToUndo(st, a.planForRun(ctx, recs)); len(pending) > 0 && st.Status != runbook.StatusRolledBack {
		fmt.Fprintf(a.stdout, "It can still be rolled back (%s):\n  %s\n", strings.Join(pending, ", "), a.hint("rollback", id))
	}
	return exitOK, true
}
