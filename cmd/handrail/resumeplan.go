package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// editFlags are the flags of a resume or rollback with an edited runbook.
type editFlags struct {
	from   string
	rerun  multiFlag
	reason string
}

func (f *editFlags) register(fs *flag.FlagSet, mode string) {
	if mode == "resume" {
		fs.StringVar(&f.from, "from", "", "run this node and every node after it again (completed ones only if idempotent, listed with -rerun, or confirmed)")
		fs.Var(&f.rerun, "rerun", "a completed, non-idempotent node that -from may run again without asking; repeatable")
	}
	fs.StringVar(&f.reason, "reason", "", "why (journaled with a changed runbook; needed with -force)")
}

// options returns the run options these flags ask for. A node may be
// written as in scenarios: step.NAME or gate.NAME.
func (f *editFlags) options(force bool) runbook.RunOptions {
	opts := runbook.RunOptions{Force: force, From: nodeArg(f.from), Reason: f.reason, By: currentUser()}
	for _, r := range f.rerun {
		for _, n := range strings.Split(r, ",") {
			if n = strings.TrimSpace(n); n != "" {
				opts.Rerun = append(opts.Rerun, nodeArg(n))
			}
		}
	}
	return opts
}

func nodeArg(s string) string {
	for _, p := range []string{"step.", "gate."} {
		if strings.HasPrefix(s, p) {
			return strings.TrimPrefix(s, p)
		}
	}
	return s
}

// checkEdit compares the run's recorded plan with the runbook given and
// prints the comparison when there is something to read, as `plan` prints
// a plan, before anything runs. It returns false (with the exit code) when
// the resume or rollback must not start: unsafe changes not forced with a
// reason, or completed steps to run again that nobody can confirm.
func (a *app) checkEdit(ctx context.Context, ex *runbook.Executor, plan *runbook.Plan, id, mode, path string, opts runbook.RunOptions, canAsk bool) (int, bool) {
	cmp, err := ex.Compare(ctx, plan, id, mode, opts)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid, false
	}
	unsafe := cmp.Unsafe()
	if !cmp.Differs && opts.From == "" && len(unsafe) == 0 {
		return 0, true
	}
	writeComparison(a.stderr, cmp, path)
	if len(unsafe) > 0 && (!opts.Force || strings.TrimSpace(opts.Reason) == "") {
		fmt.Fprintf(a.stderr, "\nRefused: %d unsafe change(s). Fix the runbook, or accept them with -force -reason TEXT (journaled with the run).\n", len(unsafe))
		return exitInvalid, false
	}
	var ask []string
	for _, c := range cmp.Nodes {
		if c.Ask {
			ask = append(ask, c.Node)
		}
	}
	if len(ask) > 0 && !canAsk {
		fmt.Fprintf(a.stderr, "\nRefused: %s completed and %s not idempotent; nobody can be asked here whether to run %s again. List %s with -rerun to run %s again, or resume from a later node.\n",
			strings.Join(ask, ", "), plural(len(ask), "is", "are"), plural(len(ask), "it", "them"), plural(len(ask), "it", "them"), plural(len(ask), "it", "them"))
		return exitInvalid, false
	}
	fmt.Fprintln(a.stderr)
	return 0, true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// writeComparison prints what going on with the runbook will do, node by
// node: what is kept (counted; listed when its definition changed), what
// runs again, what is new or removed, which rollback changed, and what is
// unsafe.
func writeComparison(w io.Writer, cmp *runbook.Comparison, path string) {
	verb := "Resume"
	if cmp.Mode == "rollback" {
		verb = "Rollback"
	}
	fmt.Fprintf(w, "%s of run %s with %s\n", verb, cmp.Run, path)
	switch {
	case cmp.Old != cmp.New:
		fmt.Fprintf(w, "  plan %.12s -> %.12s (the runbook changed since the run started)\n", cmp.Old, cmp.New)
	case cmp.Differs:
		fmt.Fprintf(w, "  plan %.12s, same shape; arguments or rollbacks changed\n", cmp.Old)
	default:
		fmt.Fprintf(w, "  plan %.12s, unchanged\n", cmp.Old)
	}
	if cmp.From != "" {
		fmt.Fprintf(w, "  from %s: it and every node after it run again\n", cmp.From)
	}
	kept := 0
	for _, c := range cmp.Nodes {
		if c.Change == runbook.ChangeKept && !c.Edited && !c.RollbackEdited {
			kept++
			continue
		}
		label := string(c.Change)
		if c.Ask {
			label = "re-run?"
		}
		line := fmt.Sprintf("  %-17s %s", label, c.Node)
		if c.Edited && c.Change != runbook.ChangeUnsafe {
			line += " (changed)"
		}
		if c.Why != "" {
			line += ": " + c.Why
		}
		fmt.Fprintln(w, line)
	}
	if kept > 0 {
		fmt.Fprintf(w, "  %-17s %d node(s), unchanged\n", "kept", kept)
	}
}

// writeVersions prints the plan versions of a run that was resumed or
// rolled back with an edited runbook (or from a node): one run across its
// plan versions, each with who, why and what changed.
func writeVersions(w io.Writer, versions []runbook.PlanVersion) {
	if len(versions) < 2 {
		return
	}
	fmt.Fprintln(w, "  Plan versions:")
	for i, v := range versions {
		line := fmt.Sprintf("    %d. plan %.12s, %s", i+1, v.Hash, v.Mode)
		if v.By != "" {
			line += " by " + v.By
		}
		line += " at " + v.Time.UTC().Format(time.RFC3339)
		if v.From != "" {
			line += ", from " + v.From
		}
		if v.Forced {
			line += ", FORCED"
		}
		if v.Reason != "" {
			line += ": " + strconv.Quote(v.Reason)
		}
		fmt.Fprintln(w, line)
		for _, c := range v.Changes {
			l := fmt.Sprintf("         %s %s", c.Node, c.Change)
			if c.Edited {
				l += " (changed)"
			}
			if c.Why != "" {
				l += ": " + c.Why
			}
			fmt.Fprintln(w, l)
		}
	}
}
