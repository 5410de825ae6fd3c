package gates

import (
	"context"
	"errors"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// AutoApprove approves every request, as By (for unattended runs: CI, the
// sandbox). The zero value approves as "auto-approve". Its answers are
// configuration ([runbook.Decision.Override]): they satisfy approvers and
// quorum at once.
type AutoApprove struct{ By string }

// Approve approves.
func (a AutoApprove) Approve(context.Context, runbook.ApprovalRequest) (runbook.Decision, error) {
	by := a.By
	if by == "" {
		by = "auto-approve"
	}
	return runbook.Decision{Approved: true, By: by, Override: true}, nil
}

// Deny denies every request, as By, with Reason as the comment.
type Deny struct{ By, Reason string }

// Approve denies.
func (d Deny) Approve(context.Context, runbook.ApprovalRequest) (runbook.Decision, error) {
	by := d.By
	if by == "" {
		by = "deny"
	}
	return runbook.Decision{Approved: false, By: by, Comment: d.Reason, Override: true}, nil
}

// Func adapts a Go callback to [runbook.Approver].
func Func(f func(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error)) runbook.Approver {
	return runbook.ApproverFunc(f)
}

var (
	_ runbook.Approver = AutoApprove{}
	_ runbook.Approver = Deny{}
)

// WithTimeout wraps an approver: when it has not answered within d on
// clock, the answer is approve (marked TimedOut, by "timeout"). The wrapped
// approver sees the deadline as the end of its context, and must wait on
// the run's clock to let simulated time pass. Use it for questions that have
// no timeout of their own (manual tasks, pauses); approval gates have
// [TimeoutDefault].
func WithTimeout(a runbook.Approver, clock runbook.Clock, d time.Duration, approve bool) runbook.Approver {
	return runbook.ApproverFunc(func(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
		tctx, cancel := runbook.ClockTimeout(ctx, clock, d)
		defer cancel()
		dec, err := a.Approve(tctx, req)
		if err != nil && ctx.Err() == nil && errors.Is(context.Cause(tctx), runbook.ErrTimeout) {
			return runbook.Decision{Approved: approve, By: "timeout", TimedOut: true, At: clock.Now()}, nil
		}
		return dec, err
	})
}
