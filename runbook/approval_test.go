package runbook_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
)

// people answers an approval with a queue of people's answers, as the
// console does: a refused answer is heard and the next one is given.
type people struct {
	mu      sync.Mutex
	answers []runbook.Decision
	asked   []runbook.ApprovalRequest
	refused []string
}

func (p *people) Approve(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, req)
	if len(p.answers) == 0 {
		return runbook.Decision{}, errors.New("nobody left to answer")
	}
	d := p.answers[0]
	p.answers = p.answers[1:]
	return d, nil
}

func (p *people) Refused(_ runbook.ApprovalRequest, d runbook.Decision, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused = append(p.refused, d.By+": "+err.Error())
}

func approvalPlan(t *testing.T, a runbook.Approval) *runbook.Plan {
	t.Helper()
	b := runbook.NewBuilder("release")
	b.Step(runbook.Step{Name: "deploy", Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil }), Irreversible: true})
	b.Gate(runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval, Approval: &a})
	p, err := b.Build()
	require.NoError(t, err)
	return p
}

func runApproval(t *testing.T, p *runbook.Plan, appr runbook.Approver, starter string) (*runbook.Result, *runbook.RunState, []runbook.Event) {
	t.Helper()
	var mu sync.Mutex
	var events []runbook.Event
	j := &runbook.MemJournal{}
	ex := &runbook.Executor{Journal: j, Approver: appr, Clock: runbook.NewSimClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		Observer: runbook.ObserverFunc(func(e runbook.Event) { mu.Lock(); events = append(events, e); mu.Unlock() })}
	res, _ := ex.Run(context.Background(), p, runbook.RunOptions{RunID: "r1", StartedBy: starter})
	recs, err := j.Load(context.Background(), "r1")
	require.NoError(t, err)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	return res, st, events
}

func TestQuorumOfTwoNeedsTwoDifferentApprovers(t *testing.T) {
	p := approvalPlan(t, runbook.Approval{Message: "Go?", Approvers: []string{"alice", "bob", "carol"}, Quorum: 2})
	appr := &people{answers: []runbook.Decision{
		{Approved: true, By: "alice", Via: "console", From: "127.0.0.1"},
		{Approved: true, By: "alice", Via: "link"}, // the same person again
		{Approved: true, By: "mallory"},            // not an approver
		{Approved: true, By: "bob", Via: "terminal", Comment: "looks fine"},
	}}
	res, st, events := runApproval(t, p, appr, "carol")
	require.Equal(t, runbook.StatusSucceeded, res.Status)
	assert.Equal(t, "alice, bob", res.Nodes["go_no_go"].Outputs["by"])
	require.Len(t, appr.asked, 4)
	assert.Empty(t, appr.asked[0].Votes)
	require.Len(t, appr.asked[1].Votes, 1)
	assert.Equal(t, "alice", appr.asked[1].Votes[0].By)
	assert.Equal(t, 2, appr.asked[0].Quorum)
	assert.Equal(t, p.Hash(), appr.asked[0].PlanHash)
	assert.Equal(t, "carol", appr.asked[0].StartedBy)
	require.Len(t, appr.refused, 2)
	assert.Contains(t, appr.refused[0], "alice has already approved go_no_go")
	assert.Contains(t, appr.refused[1], "mallory is not one of the approvers of go_no_go")

	// Everything is journaled: the two votes and the two refusals, with the
	// plan hash, where they came from and what was shown.
	ds := st.Decisions["go_no_go"]
	require.Len(t, ds, 4)
	assert.Equal(t, []string{"alice", "alice", "mallory", "bob"}, []string{ds[0].By, ds[1].By, ds[2].By, ds[3].By})
	assert.Empty(t, ds[0].Refused)
	assert.NotEmpty(t, ds[1].Refused)
	assert.NotEmpty(t, ds[2].Refused)
	assert.Empty(t, ds[3].Refused)
	for _, d := range ds {
		assert.Equal(t, p.Hash(), d.PlanHash)
	}
	assert.Equal(t, "console", ds[0].Via)
	assert.Equal(t, "127.0.0.1", ds[0].From)
	assert.Equal(t, []string{"deploy succeeded"}, ds[0].Seen)
	assert.Equal(t, "looks fine", ds[3].Comment)
	assert.Equal(t, "carol", st.StartedBy)

	var kinds []string
	for _, e := range events {
		switch e.(type) {
		case runbook.ApprovalRequested, runbook.ApprovalVoted, runbook.ApprovalRefused, runbook.ApprovalDecided:
			kinds = append(kinds, e.Kind())
		}
	}
	assert.Equal(t, []string{"approval_requested", "approval_voted", "approval_refused", "approval_refused", "approval_decided"}, kinds)
}

func TestSeparateFromStarterRefusesTheStarter(t *testing.T) {
	p := approvalPlan(t, runbook.Approval{Message: "Go?", SeparateFrom: runbook.SeparateFromStarter})
	appr := &people{answers: []runbook.Decision{{Approved: true, By: "carol"}, {Approved: true, By: "dave"}}}
	res, st, _ := runApproval(t, p, appr, "carol")
	require.Equal(t, runbook.StatusSucceeded, res.Status)
	assert.Equal(t, "dave", res.Nodes["go_no_go"].Outputs["by"])
	require.Len(t, appr.refused, 1)
	assert.Contains(t, appr.refused[0], `carol started this run and may not approve it (separate_from = "starter")`)
	require.Len(t, st.Decisions["go_no_go"], 2)
	assert.Contains(t, st.Decisions["go_no_go"][0].Refused, "carol started this run")
}

func TestADecisionForAnotherPlanIsRefused(t *testing.T) {
	p := approvalPlan(t, runbook.Approval{Message: "Go?"})
	appr := &people{answers: []runbook.Decision{
		{Approved: true, By: "alice", PlanHash: "0123456789abcdef0123456789abcdef"},
		{Approved: false, By: "bob", Comment: "error budget spent"},
	}}
	res, st, _ := runApproval(t, p, appr, "")
	require.Equal(t, runbook.StatusRolledBack, res.Status)
	require.Len(t, st.Decisions["go_no_go"], 2)
	assert.Contains(t, st.Decisions["go_no_go"][0].Refused, "the decision is for plan 0123456789ab, the run executes plan "+p.Hash()[:12])
	assert.Contains(t, res.Err.Error(), "denied by bob: error budget spent")
	assert.ErrorIs(t, res.Err, runbook.ErrDenied)
}

func TestADenialByOneApproverEndsAQuorum(t *testing.T) {
	p := approvalPlan(t, runbook.Approval{Message: "Go?", Approvers: []string{"alice", "bob"}, Quorum: 2})
	appr := &people{answers: []runbook.Decision{{Approved: true, By: "alice"}, {Approved: false, By: "bob"}}}
	res, _, _ := runApproval(t, p, appr, "")
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.ErrorIs(t, res.Err, runbook.ErrDenied)
}

func TestGroupsAreApprovers(t *testing.T) {
	p := approvalPlan(t, runbook.Approval{Message: "Go?", Approvers: []string{"group:sre", "alice"}, Quorum: 2})
	appr := &people{answers: []runbook.Decision{
		{Approved: true, By: "erin", Groups: []string{"dev"}},
		{Approved: true, By: "erin", Groups: []string{"sre"}},
		{Approved: true, By: "alice"},
	}}
	res, _, _ := runApproval(t, p, appr, "")
	require.Equal(t, runbook.StatusSucceeded, res.Status)
	assert.Equal(t, "erin, alice", res.Nodes["go_no_go"].Outputs["by"])
	require.Len(t, appr.refused, 1)
	assert.Contains(t, appr.refused[0], "erin is not one of the approvers")
}

func TestARefusedAnswerFromAnApproverThatCannotHearItFailsTheGate(t *testing.T) {
	p := approvalPlan(t, runbook.Approval{Message: "Go?", Approvers: []string{"alice"}})
	appr := runbook.ApproverFunc(func(context.Context, runbook.ApprovalRequest) (runbook.Decision, error) {
		return runbook.Decision{Approved: true, By: "bob"}, nil
	})
	res, _, _ := runApproval(t, p, appr, "")
	require.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Contains(t, res.Err.Error(), "bob is not one of the approvers")
}

func TestAnOverrideSatisfiesTheQuorumButNotSeparation(t *testing.T) {
	p := approvalPlan(t, runbook.Approval{Message: "Go?", Approvers: []string{"alice", "bob"}, Quorum: 2})
	auto := runbook.ApproverFunc(func(context.Context, runbook.ApprovalRequest) (runbook.Decision, error) {
		return runbook.Decision{Approved: true, By: "auto-approve", Override: true}, nil
	})
	res, _, _ := runApproval(t, p, auto, "carol")
	assert.Equal(t, runbook.StatusSucceeded, res.Status)

	p = approvalPlan(t, runbook.Approval{Message: "Go?", SeparateFrom: runbook.SeparateFromStarter})
	self := runbook.ApproverFunc(func(context.Context, runbook.ApprovalRequest) (runbook.Decision, error) {
		return runbook.Decision{Approved: true, By: "carol", Override: true}, nil
	})
	res, _, _ = runApproval(t, p, self, "carol")
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
}

func TestTimeoutWithAPartialQuorumTakesTheDefault(t *testing.T) {
	p := approvalPlan(t, runbook.Approval{Message: "Go?", Approvers: []string{"alice", "bob"}, Quorum: 2, Timeout: 10 * time.Minute, OnTimeout: false})
	clock := runbook.NewSimClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	n := 0
	appr := runbook.ApproverFunc(func(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
		n++
		if n == 1 {
			return runbook.Decision{Approved: true, By: "alice"}, nil
		}
		_ = clock.Sleep(ctx, time.Hour)
		return runbook.Decision{}, ctx.Err()
	})
	j := &runbook.MemJournal{}
	ex := &runbook.Executor{Journal: j, Approver: appr, Clock: clock}
	start := clock.Now()
	res, _ := ex.Run(context.Background(), p, runbook.RunOptions{RunID: "r1"})
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, 10*time.Minute, clock.Now().Sub(start))
	assert.Contains(t, res.Err.Error(), "no answer within 10m0s")
}

func TestApprovalPlanValidation(t *testing.T) {
	b := runbook.NewBuilder("bad")
	b.Gate(runbook.Gate{Name: "a", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "m", Approvers: []string{"alice"}, Quorum: 2}})
	b.Gate(runbook.Gate{Name: "b", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "m", SeparateFrom: "owner"}})
	_, err := b.Build()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "quorum 2 cannot be reached by 1 approvers (alice)")
	assert.Contains(t, err.Error(), `separate_from is "starter" or empty, not "owner"`)

	// A quorum changes the plan's hash (an approval is bound to it); a gate
	// without one keeps the hash it always had.
	p1 := approvalPlan(t, runbook.Approval{Message: "Go?", Approvers: []string{"alice", "bob"}})
	p2 := approvalPlan(t, runbook.Approval{Message: "Go?", Approvers: []string{"alice", "bob"}, Quorum: 2})
	assert.NotEqual(t, p1.Hash(), p2.Hash())
	assert.NotContains(t, p1.Dump(), "quorum")
	assert.Contains(t, p2.Dump(), "quorum=2")
}
