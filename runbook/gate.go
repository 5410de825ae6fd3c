package runbook

import (
	"context"
	"time"
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

// Outcome is how a gate or a check ended.
type Outcome string

// Outcomes.
const (
	OutcomePassed       Outcome = "passed"
	OutcomeFailed       Outcome = "failed"
	OutcomeInconclusive Outcome = "inconclusive"
	OutcomeError        Outcome = "error"
	OutcomeNoData       Outcome = "no_data"
)

// Verdict is the classification of one sample.
type Verdict string

// Verdicts.
const (
	VerdictPass         Verdict = "pass"
	VerdictFail         Verdict = "fail"
	VerdictInconclusive Verdict = "inconclusive"
	VerdictError        Verdict = "error"
	VerdictNoData       Verdict = "no_data"
	// VerdictPending is a check gate's sample that does not hold yet.
	VerdictPending Verdict = "pending"
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

// Approval configures an approval gate.
type Approval struct {
	Message   string
	Approvers []string
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
	Gate      string    `json:"gate"`
	Check     string    `json:"check"`
	Seq       int       `json:"seq"`
	Time      time.Time `json:"time"`
	Value     any       `json:"value,omitempty"`
	Verdict   Verdict   `json:"verdict"`
	Error     string    `json:"error,omitempty"`
	DryRun    bool      `json:"dry_run,omitempty"`
	Threshold string    `json:"threshold,omitempty"`
}
