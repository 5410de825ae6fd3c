package engine

import "fmt"

// Rules that decide a check, as recorded in a gate's decision.
const (
	// RuleSuccess: a check gate's sample met the success condition.
	RuleSuccess = "success"
	// RuleFailureLimit: breaches exceeded both failure_limit (in all) and
	// tolerate (in a row).
	RuleFailureLimit = "failure_limit"
	// RuleInconclusiveLimit: inconclusive samples exceeded inconclusive_limit.
	RuleInconclusiveLimit = "inconclusive_limit"
	// RuleErrorLimit: consecutive probe errors exceeded error_limit.
	RuleErrorLimit = "error_limit"
	// RuleTimeout: a check gate's check did not hold before the timeout.
	RuleTimeout = "timeout"
	// RuleEnd: the soak's duration or count ran out (or the guard's span
	// ended) within every limit.
	RuleEnd = "end"
	// RuleDryRun: the check runs dry and never decides.
	RuleDryRun = "dry_run"
	// RuleStopped: the check was stopped (cancelled, or another check
	// decided the gate).
	RuleStopped = "stopped"
)

// Tally counts one check's verdicts against its limits. It is the whole
// counting rule of check, soak and guard gates, with no clock and no I/O:
// the executor feeds it every sample, and `handrail gate eval` replays
// recorded verdicts through it under changed limits.
type Tally struct {
	// Kind is the gate's kind ("check", "soak" or "guard"): in a check gate
	// the first pass decides.
	Kind string `json:"kind"`
	// Limits copied from the check.
	FailureLimit      int  `json:"failure_limit"`
	Tolerate          int  `json:"tolerate"`
	InconclusiveLimit int  `json:"inconclusive_limit"`
	ErrorLimit        int  `json:"error_limit"`
	DryRun            bool `json:"dry_run,omitempty"`
	// Counters at the moment of the last sample.
	Samples           int `json:"samples"`
	Passes            int `json:"passes"`
	Breaches          int `json:"breaches"`
	Consecutive       int `json:"consecutive_breaches"`
	Inconclusive      int `json:"inconclusive"`
	Errors            int `json:"errors"`
	ConsecutiveErrors int `json:"consecutive_errors"`
	NoData            int `json:"no_data"`
	Pending           int `json:"pending"`
}

// Limits are a check's tolerances, as the runbook gives them.
type Limits struct {
	FailureLimit      int
	Tolerate          int
	InconclusiveLimit int
	ErrorLimit        int
	DryRun            bool
}

// NewTally returns an empty tally of a check with limits l in a gate of
// the given kind ("check", "soak" or "guard").
func NewTally(kind string, l Limits) Tally {
	return Tally{Kind: kind, FailureLimit: l.FailureLimit, Tolerate: l.Tolerate, InconclusiveLimit: l.InconclusiveLimit,
		ErrorLimit: l.ErrorLimit, DryRun: l.DryRun}
}

// Add counts one verdict. When it decides the check it returns true, the
// outcome and the rule (one of the Rule constants).
func (t *Tally) Add(v Verdict) (decided bool, outcome Outcome, rule string) {
	t.Samples++
	switch v {
	case VerdictPass:
		t.Passes++
		t.Consecutive, t.ConsecutiveErrors = 0, 0
	case VerdictFail:
		t.Breaches++
		t.Consecutive++
		t.ConsecutiveErrors = 0
	case VerdictInconclusive:
		t.Inconclusive++
		t.ConsecutiveErrors = 0
	case VerdictError:
		t.Errors++
		t.ConsecutiveErrors++
	case VerdictNoData:
		t.NoData++
	case VerdictPending:
		t.Pending++
	}
	if t.DryRun {
		if t.Kind == KindCheck {
			return true, OutcomePassed, RuleDryRun
		}
		return false, "", ""
	}
	switch {
	case v == VerdictPass && t.Kind == KindCheck:
		return true, OutcomePassed, RuleSuccess
	case v == VerdictFail && t.Breaches > t.FailureLimit && t.Consecutive > t.Tolerate:
		return true, OutcomeFailed, RuleFailureLimit
	case v == VerdictInconclusive && t.Inconclusive > t.InconclusiveLimit:
		return true, OutcomeInconclusive, RuleInconclusiveLimit
	case v == VerdictError && t.ConsecutiveErrors > t.ErrorLimit:
		return true, OutcomeError, RuleErrorLimit
	}
	return false, "", ""
}

// Explain says in one sentence why the rule decided, with the counters.
func (t Tally) Explain(rule string) string {
	switch rule {
	case RuleSuccess:
		return fmt.Sprintf("the success condition held at sample %d", t.Samples)
	case RuleFailureLimit:
		return fmt.Sprintf("%d breaches in all > failure_limit %d and %d in a row > tolerate %d", t.Breaches, t.FailureLimit, t.Consecutive, t.Tolerate)
	case RuleInconclusiveLimit:
		return fmt.Sprintf("%d inconclusive samples > inconclusive_limit %d", t.Inconclusive, t.InconclusiveLimit)
	case RuleErrorLimit:
		return fmt.Sprintf("%d probe errors in a row > error_limit %d", t.ConsecutiveErrors, t.ErrorLimit)
	case RuleTimeout:
		return fmt.Sprintf("did not hold in %d samples before the timeout", t.Samples)
	case RuleEnd:
		return fmt.Sprintf("%d samples within every limit (%d breaches, %d inconclusive, %d errors)", t.Samples, t.Breaches, t.Inconclusive, t.Errors)
	case RuleDryRun:
		return fmt.Sprintf("dry run: %d samples recorded, never deciding", t.Samples)
	case RuleStopped:
		return fmt.Sprintf("stopped after %d samples", t.Samples)
	}
	return rule
}
