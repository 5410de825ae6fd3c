package engine

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

// KindCheck is the kind of a gate that polls until each check holds: the
// first pass decides it. Soaks and guards ("soak", "guard") sample until
// their span ends.
const KindCheck = "check"
