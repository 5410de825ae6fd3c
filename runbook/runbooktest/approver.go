package runbooktest

import (
	"context"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// Approver is a scripted [runbook.Approver]: answers are set per node
// (approval gate, paused node, manual task, in-doubt step) and everything
// it was asked is recorded. Nodes without a script get the default answer,
// which approves unless [Approver.DenyByDefault] was called. The zero value
// approves everything.
type Approver struct {
	// Clock is where a silenced node waits (the harness sets it to its
	// simulated clock), so that approval timeouts fire in simulated time.
	Clock runbook.Clock

	mu      sync.Mutex
	answers map[string]answer
	def     *answer
	asked   []runbook.ApprovalRequest
}

type answer struct {
	approve bool
	silent  bool
	choice  string
	by      string
	comment string
}

var _ runbook.Approver = (*Approver)(nil)

// NewApprover returns an approver that approves everything not scripted.
func NewApprover() *Approver { return &Approver{} }

func (a *Approver) set(node string, ans answer) *Approver {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.answers == nil {
		a.answers = map[string]answer{}
	}
	if ans.by == "" {
		ans.by = "runbooktest"
	}
	a.answers[node] = ans
	return a
}

// Grant makes the approver say yes to node.
func (a *Approver) Grant(node string) *Approver { return a.set(node, answer{approve: true}) }

// GrantBy makes the approver say yes to node, as the named person.
func (a *Approver) GrantBy(node, by string) *Approver {
	return a.set(node, answer{approve: true, by: by})
}

// Deny makes the approver say no to node, as the named person, with a
// comment.
func (a *Approver) Deny(node, by, comment string) *Approver {
	return a.set(node, answer{by: by, comment: comment})
}

// Silence makes the approver never answer for node: it waits on its Clock
// until the request's context ends (an approval timeout or the end of the
// run).
func (a *Approver) Silence(node string) *Approver { return a.set(node, answer{silent: true}) }

// Choose answers an in-doubt question about node with a choice ("rerun",
// "compensate" or "done").
func (a *Approver) Choose(node, choice string) *Approver {
	return a.set(node, answer{approve: true, choice: choice})
}

// DenyByDefault makes the approver say no to every node not scripted.
func (a *Approver) DenyByDefault() *Approver {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.def = &answer{by: "runbooktest"}
	return a
}

// Asked returns every request the approver received, in order.
func (a *Approver) Asked() []runbook.ApprovalRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]runbook.ApprovalRequest(nil), a.asked...)
}

// AskedNodes returns the node of every request, in order.
func (a *Approver) AskedNodes() []string {
	var out []string
	for _, r := range a.Asked() {
		out = append(out, r.Node)
	}
	return out
}

// Approve implements [runbook.Approver].
func (a *Approver) Approve(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
	a.mu.Lock()
	a.asked = append(a.asked, req)
	ans, ok := a.answers[req.Node]
	if !ok {
		ans = answer{approve: true, by: "runbooktest"}
		if a.def != nil {
			ans = *a.def
		}
	}
	a.mu.Unlock()
	if ans.silent {
		if a.Clock != nil {
			_ = a.Clock.Sleep(ctx, 100*365*24*time.Hour)
		}
		<-ctx.Done()
		return runbook.Decision{}, ctx.Err()
	}
	// Unscripted and anonymous answers stand for configuration, not a
	// person: they satisfy a gate's approvers and quorum at once. Answers
	// scripted with a name are one person's vote.
	return runbook.Decision{Approved: ans.approve, Choice: ans.choice, By: ans.by, Comment: ans.comment, Override: !ok || ans.by == ""}, nil
}
