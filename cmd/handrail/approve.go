package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"sync"

	"github.com/handrail-dev/handrail/runbook"
)

// terminalApprover asks approvals on the terminal: the gate's message, the
// evidence so far, and y/N (or a choice for in-doubt steps).
type terminalApprover struct {
	mu    sync.Mutex
	lines chan string
	out   io.Writer
	who   string
}

func newTerminalApprover(in io.Reader, out io.Writer) *terminalApprover {
	t := &terminalApprover{lines: make(chan string), out: out, who: currentUser()}
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			t.lines <- sc.Text()
		}
		close(t.lines)
	}()
	return t
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "terminal"
}

// Approve implements runbook.Approver.
func (t *terminalApprover) Approve(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.out, "\n\x1b[K── %s: %s\n", req.Node, req.Message)
	if len(req.Approvers) > 0 {
		fmt.Fprintf(t.out, "   approvers: %s\n", strings.Join(req.Approvers, ", "))
	}
	if req.Quorum > 1 {
		var by []string
		for _, v := range req.Votes {
			by = append(by, v.By)
		}
		fmt.Fprintf(t.out, "   quorum: %d of %d approvals (%s)\n", len(req.Votes), req.Quorum, strings.Join(by, ", "))
	}
	if req.SeparateFrom == runbook.SeparateFromStarter && req.StartedBy != "" {
		fmt.Fprintf(t.out, "   not to be approved by %s, who started the run\n", req.StartedBy)
	}
	if req.PlanHash != "" && req.Kind == "approval" {
		fmt.Fprintf(t.out, "   plan %.12s\n", req.PlanHash)
	}
	for _, ev := range req.Evidence {
		fmt.Fprintf(t.out, "   • %s\n", ev)
	}
	for {
		if len(req.Choices) > 0 {
			fmt.Fprintf(t.out, "   Choose %s: ", strings.Join(req.Choices, " / "))
		} else {
			fmt.Fprint(t.out, "   Approve? [y/N]: ")
		}
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			fmt.Fprintln(t.out, "(no answer)")
			return runbook.Decision{}, ctx.Err()
		case line, ok = <-t.lines:
		}
		if !ok {
			return runbook.Decision{}, fmt.Errorf("no answer: the terminal closed (use -auto-approve to approve without asking)")
		}
		ans := strings.ToLower(strings.TrimSpace(line))
		if len(req.Choices) > 0 {
			for _, c := range req.Choices {
				if ans == c {
					return t.decision(req, c != "compensate", c), nil
				}
			}
			fmt.Fprintf(t.out, "   please type one of: %s\n", strings.Join(req.Choices, ", "))
			continue
		}
		switch ans {
		case "y", "yes":
			return t.decision(req, true, ""), nil
		case "", "n", "no":
			return t.decision(req, false, ""), nil
		}
		fmt.Fprintln(t.out, "   please answer y or n")
	}
}

// decision is the terminal's answer, bound to the plan and the evidence it
// printed.
func (t *terminalApprover) decision(req runbook.ApprovalRequest, approved bool, choice string) runbook.Decision {
	host, _ := os.Hostname()
	return runbook.Decision{Approved: approved, Choice: choice, By: t.who, Via: "terminal", From: host, PlanHash: req.PlanHash, Seen: req.Evidence}
}

// Refused implements runbook.DecisionRefuser: the terminal says why and
// asks again.
func (t *terminalApprover) Refused(_ runbook.ApprovalRequest, _ runbook.Decision, err error) {
	fmt.Fprintf(t.out, "   refused: %v\n", err)
}

// autoApprover answers without asking: approval gates with -auto-approve
// (gates), manual tasks with -confirm-manual (manual); anything else goes
// to next (the terminal, or no one). In-doubt questions are not approvals:
// it refuses them, so a person decides.
type autoApprover struct {
	gates, manual bool
	next          runbook.Approver
}

func (a autoApprover) Approve(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
	if len(req.Choices) > 0 {
		return runbook.Decision{}, fmt.Errorf("%s needs a person's choice (%s); -auto-approve does not answer it: resume in a terminal", req.Node, strings.Join(req.Choices, ", "))
	}
	switch {
	case req.Kind == "manual" && a.manual:
		return runbook.Decision{Approved: true, By: "confirm-manual", Via: "auto", Override: true}, nil
	case req.Kind != "manual" && a.gates:
		if req.SeparateFrom == runbook.SeparateFromStarter {
			return runbook.Decision{}, fmt.Errorf("%s may not be approved by the person who started the run (separate_from = \"starter\"), and -auto-approve is their answer: approve it from the console (-ui) or a signed link", req.Node)
		}
		return runbook.Decision{Approved: true, By: "auto-approve", Via: "auto", Override: true}, nil
	case a.next != nil:
		return a.next.Approve(ctx, req)
	case req.Kind == "manual":
		return runbook.Decision{}, fmt.Errorf("%s is a manual task: a person confirms it (in a terminal), or -confirm-manual", req.Node)
	}
	return runbook.Decision{}, fmt.Errorf("no one to answer %s: use -auto-approve, or run in a terminal", req.Node)
}

// noApprover fails every approval: no terminal and no -auto-approve.
type noApprover struct{}

func (noApprover) Approve(_ context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
	if req.Kind == "manual" {
		return runbook.Decision{}, fmt.Errorf("no terminal to ask on: manual task %s needs a person in a terminal, or -confirm-manual", req.Node)
	}
	return runbook.Decision{}, fmt.Errorf("no terminal to ask on: answer approvals with -auto-approve, or run in a terminal")
}
