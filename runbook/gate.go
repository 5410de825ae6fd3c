package runbook

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/runbook/engine"
)

// GateKind says how a gate decides.
type GateKind string

// Gate kinds.
const (
	// GateCheck polls its checks until each holds, or fails at its timeout.
	GateCheck GateKind = "check"
	// GateSoak samples its checks for a duration (or a count of samples) and
	// fails as soon as a check breaches beyond its limits.
	GateSoak GateKind = "soak"
	// GateApproval asks the run's [Approver].
	GateApproval GateKind = "approval"
	// GateGuard samples its checks in the background from the completion of
	// [Gate.From] until the completion of [Gate.Until]; a breach cancels the
	// nodes in flight and fails the run at once.
	GateGuard GateKind = "guard"
)

// Policy says what a failed step or gate does to the run.
type Policy string

// Policies.
const (
	// PolicyRollback stops the run and compensates (the default).
	PolicyRollback Policy = "rollback"
	// PolicyAbort stops the run and compensates nothing.
	PolicyAbort Policy = "abort"
	// PolicyPause asks the approver: approve goes on, deny rolls back.
	PolicyPause Policy = "pause"
	// PolicyContinue warns and goes on.
	PolicyContinue Policy = "continue"
)

// NoDataPolicy says what a sample without data counts as.
type NoDataPolicy string

// No-data policies.
const (
	// NoDataInconclusive counts the sample as inconclusive (the default).
	NoDataInconclusive NoDataPolicy = "inconclusive"
	// NoDataFail counts the sample as a breach.
	NoDataFail NoDataPolicy = "fail"
	// NoDataPass counts the sample as a pass.
	NoDataPass NoDataPolicy = "pass"
	// NoDataWait ignores the sample: it neither passes nor fails.
	NoDataWait NoDataPolicy = "wait"
)

// Sample is one observation of a probe.
type Sample struct {
	// Value is the observed value (JSON-compatible: a number for metrics,
	// an object for an HTTP response).
	Value any
	// NoData reports that the probe answered, but with no data (an empty
	// query result).
	NoData bool
	// Outputs are extra values a probe returns (latency, status code);
	// conditions see them in [Env.Self] next to "value".
	Outputs Outputs
	// Query is what the probe asked, resolved (a PromQL expression, a URL),
	// for the gate's recorded decision; the run's redactor applies.
	Query string
}

// Probe observes the world for a check. It must honour ctx.
type Probe interface {
	Sample(ctx context.Context, env *Env) (Sample, error)
}

// ProbeFunc adapts a function to [Probe].
type ProbeFunc func(ctx context.Context, env *Env) (Sample, error)

// Sample calls f.
func (f ProbeFunc) Sample(ctx context.Context, env *Env) (Sample, error) { return f(ctx, env) }

// Condition decides about a sample's value. env gives access to earlier
// steps' outputs (a baseline) and, in Self, to the sample.
type Condition interface {
	Holds(env *Env, value any) (bool, error)
}

// ConditionFunc adapts a function to [Condition].
type ConditionFunc func(env *Env, value any) (bool, error)

// Holds calls f.
func (f ConditionFunc) Holds(env *Env, value any) (bool, error) { return f(env, value) }

// Check is one condition watched by a check, soak or guard gate. Give
// Success, Failure or both: with both, a sample meeting neither is
// inconclusive; with Success only, a sample not meeting it is a breach (in a
// soak) or not yet good (in a check gate); with Failure only, a sample not
// meeting it passes.
type Check struct {
	Name    string
	Probe   Probe
	Success Condition
	Failure Condition
	// Message explains a breach, like Terraform's error_message.
	Message string
	// Threshold describes the condition for people and reports
	// ("< 0.01").
	Threshold string

	// Every, InitialDelay and Count override the gate's schedule.
	Every        time.Duration
	InitialDelay time.Duration
	Count        int

	// FailureLimit is how many breaches are tolerated in all.
	FailureLimit int
	// Tolerate is how many consecutive breaches are tolerated. A breach
	// fails the check when both limits are exceeded; with both zero the first
	// breach fails it.
	Tolerate int
	// InconclusiveLimit is how many inconclusive samples are tolerated.
	InconclusiveLimit int
	// ErrorLimit is how many consecutive probe errors (the query itself
	// failed) are tolerated; they are counted apart from breaches.
	ErrorLimit int
	// NoData says what an empty sample counts as.
	NoData NoDataPolicy
	// DryRun checks are sampled, recorded and shown, but never decide.
	DryRun bool
}

// Limits returns the check's tolerances, for the gate's [engine.Tally].
func (c *Check) Limits() engine.Limits {
	return engine.Limits{FailureLimit: c.FailureLimit, Tolerate: c.Tolerate, InconclusiveLimit: c.InconclusiveLimit,
		ErrorLimit: c.ErrorLimit, DryRun: c.DryRun}
}

// Approval configures an approval gate.
type Approval struct {
	Message string
	// Approvers may answer: user names, or "group:NAME" for every member
	// of a group (the identity of a [Decision] carries its groups). Empty:
	// anyone the run's approver speaks for.
	Approvers []string
	// Quorum is how many distinct approvers must approve (default 1). A
	// single eligible denial ends the gate.
	Quorum int
	// SeparateFrom is "starter" to refuse an approval by the person who
	// started the run ([RunOptions.StartedBy]); empty allows it.
	SeparateFrom string
	// Timeout bounds the wait; on expiry the decision is OnTimeout. Zero
	// waits as long as the gate's context lives.
	Timeout time.Duration
	// OnTimeout is the answer when Timeout expires: true approves.
	OnTimeout bool
}

// Gate decides whether the run may go on.
type Gate struct {
	Name string
	Kind GateKind
	// Checks of a check, soak or guard gate.
	Checks []Check
	// Approval of an approval gate.
	Approval *Approval

	// Every is the sampling interval (default 30s for soak and guard, 10s for
	// check gates).
	Every time.Duration
	// InitialDelay passes before the first sample.
	InitialDelay time.Duration
	// Duration is how long a soak samples.
	Duration time.Duration
	// Count, if set, ends a soak after that many samples per check.
	Count int
	// Timeout bounds the whole gate. For a check gate it is the deadline
	// for every check to hold (default 5m).
	Timeout time.Duration

	// OnFail says what a failed (or errored) gate does (default rollback).
	OnFail Policy
	// OnInconclusive says what an inconclusive gate does (default pause).
	OnInconclusive Policy

	// From and Until bound a guard's span: it starts when From has
	// succeeded (at the start of the run when empty) and ends when Until has
	// completed (at the end of the run when empty).
	From, Until string

	// Budget is the planned duration, for the timeline.
	Budget time.Duration
	// DependsOn adds ordering edges; Uses names the steps whose outputs the
	// gate reads (baselines).
	DependsOn []string
	Uses      []string
	// Description is free text for people.
	Description string
}

// SeparateFromStarter is the only value of [Approval.SeparateFrom]: the
// person who started the run may not approve it.
const SeparateFromStarter = "starter"

// ApprovalRequest is what an [Approver] is asked.
type ApprovalRequest struct {
	Run       string   `json:"run"`
	Node      string   `json:"node"`
	Kind      string   `json:"kind"` // approval, manual, pause, inconclusive, in-doubt
	Message   string   `json:"message"`
	Approvers []string `json:"approvers,omitempty"`
	// Evidence is what is known so far (latest samples, failures), redacted.
	Evidence []string `json:"evidence,omitempty"`
	// Choices lists the answers an in-doubt decision accepts, for
	// [Decision.Choice]; empty for yes/no questions.
	Choices []string `json:"choices,omitempty"`

	// PlanHash is the hash of the plan the run executes: a decision is
	// for this plan and no other.
	PlanHash string `json:"plan_hash,omitempty"`
	// Quorum and SeparateFrom are the gate's ([Approval]); StartedBy is
	// the person who started the run.
	Quorum       int    `json:"quorum,omitempty"`
	SeparateFrom string `json:"separate_from,omitempty"`
	StartedBy    string `json:"started_by,omitempty"`
	// Deadline is when the timeout's default answer is taken (zero: none);
	// OnTimeout is that answer.
	Deadline  time.Time `json:"deadline,omitzero"`
	OnTimeout bool      `json:"on_timeout,omitempty"`
	// Samples are the latest samples of the gates done so far (up to five
	// per check), redacted: the evidence in numbers.
	Samples []SampleRecord `json:"samples,omitempty"`
	// Votes are the approvals counted so far towards the quorum.
	Votes []Decision `json:"votes,omitempty"`
}

// Decision is an approver's answer.
type Decision struct {
	Approved bool      `json:"approved"`
	Choice   string    `json:"choice,omitempty"`
	By       string    `json:"by,omitempty"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
	// TimedOut reports that nobody answered in time and the default was
	// taken.
	TimedOut bool `json:"timed_out,omitempty"`

	// Groups are the groups of By, for approvers given as "group:NAME".
	Groups []string `json:"groups,omitempty"`
	// PlanHash is the plan the person decided on. Empty means the
	// request's; another plan's hash is refused ([ErrPlanChanged]).
	PlanHash string `json:"plan_hash,omitempty"`
	// Via says where the answer came from: terminal, console, link, auto.
	Via string `json:"via,omitempty"`
	// From is where the person was: a remote address or a host name.
	From string `json:"from,omitempty"`
	// Seen is the evidence shown to the person when they decided.
	Seen []string `json:"seen,omitempty"`
	// Override marks an answer given by configuration, not a person
	// (-auto-approve, a scripted test approver): it satisfies the gate's
	// approvers and quorum at once. Separation from the starter still
	// applies to it through By.
	Override bool `json:"override,omitempty"`
	// Refused, in the journal, is why this answer did not count.
	Refused string `json:"refused,omitempty"`
}

// DecisionRefuser is implemented by approvers that can hear that an answer
// was refused (not an approver, the starter, already voted, another plan)
// and ask again: the terminal, the console. An approver without it that
// gives a refused answer fails the gate.
type DecisionRefuser interface {
	Refused(req ApprovalRequest, d Decision, err error)
}

// Admit reports whether d may count as an answer to req: it returns nil, or
// an error wrapping [ErrDecisionRefused] (and [ErrPlanChanged] for another
// plan's hash) that says why. Front ends call it to refuse at once; the
// executor calls it again for every answer.
func (req ApprovalRequest) Admit(d Decision) error {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrDecisionRefused, fmt.Sprintf(format, args...))
	}
	if d.PlanHash != "" && req.PlanHash != "" && d.PlanHash != req.PlanHash {
		return fmt.Errorf("%w: %w: the decision is for plan %s, the run executes plan %s", ErrDecisionRefused, ErrPlanChanged, short(d.PlanHash), short(req.PlanHash))
	}
	if d.TimedOut {
		return nil
	}
	if req.SeparateFrom == SeparateFromStarter && d.Approved && req.StartedBy != "" && d.By == req.StartedBy {
		return refuse("%s started this run and may not approve it (separate_from = \"starter\")", d.By)
	}
	if d.Override {
		return nil
	}
	if len(req.Approvers) > 0 {
		if d.By == "" {
			return refuse("an anonymous answer cannot count: %s is for %s", req.Node, strings.Join(req.Approvers, ", "))
		}
		if !eligible(req.Approvers, d.By, d.Groups) {
			return refuse("%s is not one of the approvers of %s (%s)", d.By, req.Node, strings.Join(req.Approvers, ", "))
		}
	}
	if d.Approved {
		for _, v := range req.Votes {
			if v.By == d.By {
				return refuse("%s has already approved %s; it needs %d different approvers", d.By, req.Node, req.Quorum)
			}
		}
		if d.By == "" && req.Quorum > 1 {
			return refuse("an anonymous approval cannot count towards a quorum of %d", req.Quorum)
		}
	}
	return nil
}

func eligible(approvers []string, by string, groups []string) bool {
	for _, a := range approvers {
		if g, ok := strings.CutPrefix(a, "group:"); ok {
			if slices.Contains(groups, g) {
				return true
			}
		} else if a == by {
			return true
		}
	}
	return false
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// Approver makes go / no-go decisions. Approve must honour ctx: it is
// cancelled when the approval times out or the run stops.
type Approver interface {
	Approve(ctx context.Context, req ApprovalRequest) (Decision, error)
}

// ApproverFunc adapts a function to [Approver].
type ApproverFunc func(ctx context.Context, req ApprovalRequest) (Decision, error)

// Approve calls f.
func (f ApproverFunc) Approve(ctx context.Context, req ApprovalRequest) (Decision, error) {
	return f(ctx, req)
}

// SampleRecord is one sample as recorded in events, the journal and the
// result.
type SampleRecord struct {
	Gate      string         `json:"gate"`
	Check     string         `json:"check"`
	Seq       int            `json:"seq"`
	Time      time.Time      `json:"time"`
	Value     any            `json:"value,omitempty"`
	Verdict   engine.Verdict `json:"verdict"`
	Error     string         `json:"error,omitempty"`
	DryRun    bool           `json:"dry_run,omitempty"`
	Threshold string         `json:"threshold,omitempty"`
}
