package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// SleepAction waits on the run's clock. Build it with [Sleep].
type SleepAction struct{ d time.Duration }

var (
	_ runbook.Action    = SleepAction{}
	_ runbook.ReadOnly  = SleepAction{}
	_ runbook.Describer = SleepAction{}
)

// Sleep returns an action that waits d on the run's clock ("let caches
// warm up for 2 minutes"). It changes nothing, so it is read-only.
func Sleep(d time.Duration) SleepAction { return SleepAction{d: d} }

// Do waits d, or until ctx ends.
func (s SleepAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	if s.d < 0 {
		return nil, runbook.Permanent(fmt.Errorf("sleep: negative duration %s", s.d))
	}
	if err := env.Clock().Sleep(ctx, s.d); err != nil {
		return nil, err
	}
	return runbook.Outputs{"slept": s.d.String()}, nil
}

// ReadOnly returns true.
func (SleepAction) ReadOnly() bool { return true }

// Describe says how long it waits.
func (s SleepAction) Describe() runbook.Description {
	return runbook.Description{Action: "sleep", Summary: s.d.String()}
}

// ErrNotConfirmed is wrapped by the error of a manual task that the person
// declined.
var ErrNotConfirmed = errors.New("steps: manual task not confirmed")

// ManualAction asks a person to confirm a checklist item through the run's
// approver ([runbook.Env.Ask] with kind "manual"). Build it with [Manual].
type ManualAction struct {
	message   string
	approvers []string
	readOnly  bool
}

var (
	_ runbook.Action    = (*ManualAction)(nil)
	_ runbook.ReadOnly  = (*ManualAction)(nil)
	_ runbook.Describer = (*ManualAction)(nil)
)

// ManualOption configures a [ManualAction].
type ManualOption func(*ManualAction)

// AskApprovers names who may confirm the task.
func AskApprovers(names ...string) ManualOption {
	return func(m *ManualAction) { m.approvers = append(m.approvers, names...) }
}

// ChangesWorld marks a manual task in which the person changes something
// (the step then needs a rollback or Irreversible). By default a manual
// task is a confirmation ("staging environment tested and verified") and
// read-only.
func ChangesWorld() ManualOption { return func(m *ManualAction) { m.readOnly = false } }

// Manual returns an action that asks a person to confirm message: approve
// and the step succeeds (outputs "confirmed_by" and "comment"); decline and
// it fails with [ErrNotConfirmed], without retries. A run without an
// approver cannot confirm anything: the step fails with
// [runbook.ErrNoApprover].
func Manual(message string, opts ...ManualOption) *ManualAction {
	m := &ManualAction{message: message, readOnly: true}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Do asks and waits for the answer.
func (m *ManualAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	d, err := env.Ask(ctx, runbook.ApprovalRequest{Kind: "manual", Message: m.message, Approvers: m.approvers})
	if err != nil {
		if errors.Is(err, runbook.ErrNoApprover) {
			return nil, runbook.Permanent(err)
		}
		return nil, err
	}
	if !d.Approved {
		who := d.By
		if who == "" {
			who = "the approver"
		}
		msg := fmt.Errorf("%w: %q declined by %s", ErrNotConfirmed, m.message, who)
		if d.Comment != "" {
			msg = fmt.Errorf("%w: %s", msg, d.Comment)
		}
		return nil, runbook.Permanent(msg)
	}
	return runbook.Outputs{"confirmed_by": d.By, "comment": d.Comment}, nil
}

// ReadOnly reports whether the task is a confirmation only.
func (m *ManualAction) ReadOnly() bool { return m.readOnly }

// Describe returns the checklist item.
func (m *ManualAction) Describe() runbook.Description {
	return runbook.Description{Action: "manual", Summary: m.message}
}

// Checklist returns one manual step per item, named prefix_1, prefix_2...
// in order: the seed's pre-deployment checklist as steps.
func Checklist(prefix string, items ...string) []runbook.Step {
	out := make([]runbook.Step, len(items))
	for i, it := range items {
		out[i] = runbook.Step{Name: fmt.Sprintf("%s_%d", prefix, i+1), Action: Manual(it), Description: it}
	}
	return out
}

// NotifyFunc sends a notification. It must honour ctx.
type NotifyFunc func(ctx context.Context, env *runbook.Env) error

// NotifyAction calls a Go hook (post to a channel, page someone). Build it
// with [Notify].
type NotifyAction struct {
	name string
	fn   NotifyFunc
}

var (
	_ runbook.Action    = (*NotifyAction)(nil)
	_ runbook.ReadOnly  = (*NotifyAction)(nil)
	_ runbook.Describer = (*NotifyAction)(nil)
)

// Notify returns an action calling fn. A notification does not change the
// system being released, so it is read-only; pair it with
// [runbook.PolicyContinue] (see [NotifyStep]) so that a failed notification
// is a warning, not a rollback.
func Notify(name string, fn NotifyFunc) *NotifyAction { return &NotifyAction{name: name, fn: fn} }

// NotifyStep returns a step named name that calls fn and only warns when it
// fails.
func NotifyStep(name string, fn NotifyFunc) runbook.Step {
	return runbook.Step{Name: name, Action: Notify(name, fn), OnFail: runbook.PolicyContinue}
}

// Do calls the hook.
func (n *NotifyAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	if n.fn == nil {
		return nil, runbook.Permanent(fmt.Errorf("notify %s: no function to call", n.name))
	}
	if err := n.fn(ctx, env); err != nil {
		return nil, fmt.Errorf("notify %s: %w", n.name, err)
	}
	return runbook.Outputs{"sent_at": env.Clock().Now().UTC().Format(time.RFC3339)}, nil
}

// ReadOnly returns true.
func (*NotifyAction) ReadOnly() bool { return true }

// Describe names the notification.
func (n *NotifyAction) Describe() runbook.Description {
	return runbook.Description{Action: "notify", Summary: n.name}
}
