package engine

import (
	"fmt"
	"time"
)

// Defaults of a gate's schedule, the same for every runner.
const (
	// DefaultEvery is how often a soak or guard samples each check when
	// neither the check nor the gate says.
	DefaultEvery = 30 * time.Second
	// DefaultCheckEvery is how often a check gate polls.
	DefaultCheckEvery = 10 * time.Second
	// DefaultCheckTimeout bounds a check gate without a timeout.
	DefaultCheckTimeout = 5 * time.Minute
)

// Policies a failed gate can take, as strings; package runbook's Policy
// values are these.
const (
	PolicyRollback = "rollback"
	PolicyPause    = "pause"
)

// GateTimeout is the timeout a gate of the given kind runs under: its own,
// or [DefaultCheckTimeout] for a check gate without one (a soak or guard
// without one has none: 0).
func GateTimeout(kind string, timeout time.Duration) time.Duration {
	if kind == KindCheck && timeout <= 0 {
		return DefaultCheckTimeout
	}
	return timeout
}

// FailurePolicy is what a gate that ended with outcome o (not passed) does
// to the run: its on_inconclusive (default pause) when inconclusive,
// otherwise its on_fail (default rollback).
func FailurePolicy(o Outcome, onFail, onInconclusive string) string {
	pol := onFail
	if o == OutcomeInconclusive {
		pol = onInconclusive
		if pol == "" {
			pol = PolicyPause
		}
	}
	if pol == "" {
		pol = PolicyRollback
	}
	return pol
}

// CheckSpec is one check of a check, soak or guard gate as its runbook
// gives it: zero durations and counts are unset, and the check's own
// schedule overrides the gate's.
type CheckSpec struct {
	// Kind is the gate's kind: "check", "soak" or "guard".
	Kind string
	// Index is the check's position in its gate (from 0); a check without
	// a Name is called "check<Index+1>".
	Index int
	Name  string
	// The check's own schedule, then the gate's.
	Every, InitialDelay         time.Duration
	Count                       int
	GateEvery, GateInitialDelay time.Duration
	GateCount                   int
	// Duration is how long a soak samples; Timeout bounds the gate.
	Duration, Timeout time.Duration
	Limits
	// Threshold and Message explain a breach to people.
	Threshold, Message string
}

// Stop says why a check was stopped before it decided.
type Stop int

// Why a check stops.
const (
	// StopCancelled: the run is stopping (the check errs).
	StopCancelled Stop = iota
	// StopTimeout: the gate's timeout expired (the check fails, or passes
	// if it runs dry).
	StopTimeout
	// StopDecided: another check of the gate decided it.
	StopDecided
	// StopSpanEnded: a guard's span ended (the check passes).
	StopSpanEnded
)

// Check is the state machine of one check of a gate: samples in, a wait
// or a decision out. It has no clock and does no I/O; the runner samples
// the probe, classifies the sample (package runbook's Check.Classify),
// sleeps as told on its own clock, and stops the check when the gate's
// timeout, another check or the run says so. Both runners drive it, so a
// check decides the same way under either.
//
//	c := engine.NewCheck(spec, now)
//	wait := c.InitialDelay()             // sleep it; if stopped: c.Stop(...)
//	for {
//		v := classify(sample())
//		done, wait := c.Observe(v, value, errText, now)
//		if done { break }                // c.Outcome(), c.Reason(), c.Rule()
//		// sleep wait; if stopped: c.Stop(...); break
//	}
type Check struct {
	spec  CheckSpec
	name  string
	every time.Duration
	delay time.Duration
	count int
	start time.Time
	tally Tally
	seq   int
	// Decision, once made.
	outcome Outcome
	rule    string
	reason  string
}

// NewCheck returns the machine of a check whose sampling starts at start
// (after the initial delay, which is counted in the soak's duration as
// runners have always done: the span starts at start).
func NewCheck(spec CheckSpec, start time.Time) *Check {
	c := &Check{spec: spec, start: start, outcome: OutcomePassed, name: spec.Name}
	if c.name == "" {
		c.name = fmt.Sprintf("check%d", spec.Index+1)
	}
	c.every = firstPositive(spec.Every, spec.GateEvery)
	if c.every <= 0 {
		c.every = DefaultEvery
		if spec.Kind == KindCheck {
			c.every = DefaultCheckEvery
		}
	}
	c.delay = firstPositive(spec.InitialDelay, spec.GateInitialDelay)
	c.count = spec.Count
	if c.count <= 0 {
		c.count = spec.GateCount
	}
	c.tally = NewTally(spec.Kind, spec.Limits)
	return c
}

func firstPositive(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}

// Name is the check's name ("checkN" when it has none).
func (c *Check) Name() string { return c.name }

// Every is the resolved sampling interval.
func (c *Check) Every() time.Duration { return c.every }

// InitialDelay is how long to wait before the first sample.
func (c *Check) InitialDelay() time.Duration { return c.delay }

// Count is the resolved number of samples of a soak (0: by duration).
func (c *Check) Count() int { return c.count }

// Seq is the number of the next sample (from 1).
func (c *Check) Seq() int { return c.seq + 1 }

// Tally is the counters at the last sample.
func (c *Check) Tally() Tally { return c.tally }

// Outcome is how the check ended (passed until it is decided otherwise).
func (c *Check) Outcome() Outcome { return c.outcome }

// Rule is the Rule constant that decided the check ("" while undecided).
func (c *Check) Rule() string { return c.rule }

// Reason says, for a check that did not pass, why, in one line; "" for a
// passing check.
func (c *Check) Reason() string { return c.reason }

// Explanation says in one sentence why the rule decided, with the
// counters.
func (c *Check) Explanation() string { return c.tally.Explain(c.rule) }

// Observe counts the verdict of the sample taken at now, whose value and
// error text (both already redacted by the runner) go into the reason of a
// decision. It returns done when the check is decided or its span is over;
// otherwise how long to wait before the next sample.
func (c *Check) Observe(v Verdict, value any, errText string, now time.Time) (done bool, wait time.Duration) {
	c.seq++
	if decided, outcome, rule := c.tally.Add(v); decided {
		c.outcome, c.rule = outcome, rule
		switch rule {
		case RuleFailureLimit:
			c.reason = fmt.Sprintf("check %s breached: value %s", c.name, DisplayValue(value))
			if c.spec.Threshold != "" {
				c.reason += ", want " + c.spec.Threshold
			}
			if c.spec.Message != "" {
				c.reason += ": " + c.spec.Message
			}
		case RuleInconclusiveLimit:
			c.reason = fmt.Sprintf("check %s inconclusive %d times (limit %d)", c.name, c.tally.Inconclusive, c.spec.InconclusiveLimit)
		case RuleErrorLimit:
			c.reason = fmt.Sprintf("check %s: probe failed %d times in a row: %s", c.name, c.tally.ConsecutiveErrors, errText)
		}
		return true, 0
	}
	if c.spec.Kind == KindCheck {
		return false, c.every
	}
	if c.count > 0 && c.seq >= c.count {
		c.rule = RuleEnd
		return true, 0
	}
	end := c.start.Add(c.spec.Duration)
	if c.spec.Duration > 0 && !now.Before(end) {
		c.rule = RuleEnd
		return true, 0
	}
	wait = c.every
	if rest := end.Sub(now); c.spec.Duration > 0 && c.count <= 0 && rest < wait {
		wait = rest
	}
	return false, wait
}

// Stop ends a check that was stopped before it decided; cause says why
// the run stopped (for StopCancelled).
func (c *Check) Stop(why Stop, cause string) {
	switch why {
	case StopSpanEnded:
		c.rule = RuleEnd
	case StopDecided:
		c.rule = RuleStopped
	case StopTimeout:
		if c.spec.DryRun {
			c.outcome, c.rule = OutcomePassed, RuleDryRun
			return
		}
		c.outcome, c.rule = OutcomeFailed, RuleTimeout
		c.reason = fmt.Sprintf("check %s did not hold within %s", c.name, GateTimeout(c.spec.Kind, c.spec.Timeout))
		if c.spec.Message != "" {
			c.reason += ": " + c.spec.Message
		}
	default:
		c.outcome, c.rule = OutcomeError, RuleStopped
		c.reason = fmt.Sprintf("check %s stopped: %s", c.name, cause)
	}
}

// DisplayValue shows a sample's value in a reason: "(none)" for no value.
func DisplayValue(v any) string {
	if v == nil {
		return "(none)"
	}
	return fmt.Sprint(v)
}

// GateEnd combines the ends of a gate's checks: the first check that does
// not pass decides the gate, and the others are stopped.
type GateEnd struct {
	// Outcome is the gate's: passed until a check ends otherwise.
	Outcome Outcome
	// Reason is the deciding check's.
	Reason string
	// Decider is the index of the deciding check, -1 if every check
	// passed.
	Decider int
}

// NewGateEnd returns the end of a gate none of whose checks has ended.
func NewGateEnd() GateEnd { return GateEnd{Outcome: OutcomePassed, Decider: -1} }

// Add takes the end of check k. It returns true when this check decides
// the gate: the runner then stops the others ([StopDecided]).
func (g *GateEnd) Add(k int, o Outcome, reason string) (decides bool) {
	if o == OutcomePassed || g.Decider >= 0 {
		return false
	}
	g.Outcome, g.Reason, g.Decider = o, reason, k
	return true
}
