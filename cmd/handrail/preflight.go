package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/runbook"
)

// preflight checks, before a real run takes its lock or writes a record,
// what would otherwise stop it halfway: every question the run will ask
// must have someone to answer it. (Variables are complete once the runbook
// loaded: a missing one is a load error. What the providers need on this
// machine — SSH keys and known_hosts — is hcl.Runbook.Preflight's.) It
// returns the problems, one a line, each saying what to do.
func (a *app) preflight(_ context.Context, rb *hcl.Runbook, af *applyFlags) []string {
	var problems []string
	interactive := a.ttyIn()
	var approvals, manual []string
	for _, v := range rb.Describe() {
		switch {
		case v.Kind == "gate" && v.GateKind == string(runbook.GateApproval):
			approvals = append(approvals, v.Name)
		case v.Kind == "step" && v.Action != nil && isManualAction(v.Action.Action):
			manual = append(manual, v.Name)
		}
	}
	// The console (-ui) answers approvals too: people approve in the browser
	// or through signed links.
	if len(approvals) > 0 && !af.autoApprove && !interactive && af.ui.addr == "" {
		problems = append(problems, fmt.Sprintf("approval gates %s need an answer and there is no terminal to ask on: run in a terminal, answer them from the console (-ui 127.0.0.1:8080), or pass -auto-approve to approve them", strings.Join(approvals, ", ")))
	}
	if len(manual) > 0 && !af.confirmManual && !interactive {
		how := "run in a terminal so that a person confirms them"
		if af.autoApprove {
			how += " (-auto-approve answers gates, never a person's checklist)"
		}
		problems = append(problems, fmt.Sprintf("manual tasks %s must be confirmed by a person and there is no terminal to ask on: %s, or pass -confirm-manual to confirm them on the operator's behalf", strings.Join(manual, ", "), how))
	}
	return problems
}

// isManualAction reports the action types a person performs and confirms
// (manual_task, manual_checklist).
func isManualAction(action string) bool {
	return strings.HasPrefix(action, "manual_")
}

// applyAgain returns the apply command that answers what preflight found
// unanswerable, runnable from any directory: paths made absolute, the
// journal flags kept, -auto-approve added. (Manual tasks are a person's:
// no command is printed that would confirm them.)
// -var values are never echoed (they may be secrets): the command then
// says to add them.
func (a *app) applyAgain(file string, af *applyFlags) string {
	abs := func(p string) string {
		if q, err := filepath.Abs(p); err == nil {
			return q
		}
		return p
	}
	parts := []string{"handrail", "apply", shellQuote(abs(file))}
	for _, f := range af.vf.varFiles {
		parts = append(parts, "-var-file", shellQuote(abs(f)))
	}
	if af.state.stateDir != "" {
		parts = append(parts, "-state-dir", shellQuote(abs(af.state.stateDir)))
	}
	if af.state.journal != "" {
		parts = append(parts, "-journal", shellQuote(redactURL(af.state.journal)))
	}
	if af.parallelism != 10 {
		parts = append(parts, "-parallelism", fmt.Sprint(af.parallelism))
	}
	if af.asJSON {
		parts = append(parts, "-json")
	}
	parts = append(parts, "-auto-approve")
	if af.confirmManual {
		parts = append(parts, "-confirm-manual")
	}
	cmd := strings.Join(parts, " ")
	if len(af.vf.vars) > 0 {
		cmd += "   # and your -var flags again"
	}
	return cmd
}
