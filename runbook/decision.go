package runbook

import (
	"time"

	"github.com/handrail-dev/handrail/runbook/engine"
)

// CheckDecision is how one check of a gate ended, with what it was based
// on.
type CheckDecision struct {
	Check string `json:"check"`
	// Probe is the probe's provider and action; Query what it asked,
	// resolved (variables substituted, secrets redacted).
	Probe     Description `json:"probe"`
	Query     string      `json:"query,omitempty"`
	Threshold string      `json:"threshold,omitempty"`
	NoData    string      `json:"no_data,omitempty"`
	// Every, InitialDelay and Count are the check's schedule.
	Every        time.Duration  `json:"every"`
	InitialDelay time.Duration  `json:"initial_delay,omitempty"`
	Count        int            `json:"count,omitempty"`
	Outcome      engine.Outcome `json:"outcome"`
	Rule         string         `json:"rule"`
	Explanation  string         `json:"explanation"`
	Tally        engine.Tally   `json:"tally"`
}

// GateDecision is a check, soak or guard gate's decision with everything it
// was based on: each check's resolved query, threshold, limits and counters
// at the moment of decision, and the rule that decided. The samples
// themselves are the gate's [SampleRecord]s. It is journaled (record kind
// gate_decided) and carried by [GatePassed] and [GateFailed].
type GateDecision struct {
	Gate     string         `json:"gate"`
	Kind     GateKind       `json:"kind"`
	Outcome  engine.Outcome `json:"outcome"`
	Duration time.Duration  `json:"duration,omitempty"`
	Count    int            `json:"count,omitempty"`
	Timeout  time.Duration  `json:"timeout,omitempty"`
	// Decider is the check whose outcome decided the gate ("" when every
	// check passed).
	Decider string          `json:"decider,omitempty"`
	Checks  []CheckDecision `json:"checks"`
	Time    time.Time       `json:"time"`
}
