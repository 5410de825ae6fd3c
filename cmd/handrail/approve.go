package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
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
					return runbook.Decision{Approved: c != "compensate", Choice: c, By: t.who}, nil
				}
			}
			fmt.Fprintf(t.out, "   please type one of: %s\n", strings.Join(req.Choices, ", "))
			continue
		}
		switch ans {
		case "y", "yes":
			return runbook.Decision{Approved: true, By: t.who}, nil
		case "", "n", "no":
			return runbook.Decision{Approved: false, By: t.who}, nil
		}
		fmt.Fprintln(t.out, "   please answer y or n")
	}
}

// autoApprover approves every gate (-auto-approve). In-doubt questions are
// not approvals: it refuses them, so a person decides.
type autoApprover struct{}

func (autoApprover) Approve(_ context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
	if len(req.Choices) > 0 {
		return runbook.Decision{}, fmt.Errorf("%s needs a person's choice (%s); -auto-approve does not answer it: resume in a terminal", req.Node, strings.Join(req.Choices, ", "))
	}
	return runbook.Decision{Approved: true, By: "auto-approve"}, nil
}

// noApprover fails every approval: no terminal and no -auto-approve.
type noApprover struct{}

func (noApprover) Approve(_ context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
	return runbook.Decision{}, fmt.Errorf("no terminal to ask on: answer approvals with -auto-approve, or run in a terminal")
}
