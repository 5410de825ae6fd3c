// Package gates builds runbook gates with functional options: [Check]
// (polled until it holds), [Soak] (sampled for a duration, failing at the
// first breach beyond its limits), [Guard] (sampled in the background over a
// span of the plan) and [Approval] (a person or a callback says go or
// no-go); thresholds ([Below], [Above], [Between], [RelativeTo]) that
// describe themselves; and approvers ([AutoApprove], [Deny], [Func],
// [WithTimeout]).
//
//	gates.Soak("soak_50", 15*time.Minute, gates.Every(30*time.Second),
//		gates.Watch("error_rate", errorRate, gates.Below(0.01)),
//		gates.Watch("p95", p95, gates.RelativeTo("baseline", "p95", 1.5)))
package gates

import (
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// Option configures a gate.
type Option func(*runbook.Gate)

// Check returns a check gate: its checks are polled until each holds, or
// the gate fails at its timeout (default 5m).
func Check(name string, opts ...Option) runbook.Gate {
	return build(runbook.Gate{Name: name, Kind: runbook.GateCheck}, opts)
}

// Soak returns a soak gate that samples its checks for d, failing as soon
// as one breaches beyond its limits.
func Soak(name string, d time.Duration, opts ...Option) runbook.Gate {
	return build(runbook.Gate{Name: name, Kind: runbook.GateSoak, Duration: d}, opts)
}

// Guard returns a guard: its checks are sampled in the background from the
// completion of from (the start of the run when empty) until the completion
// of until (the end of the run when empty); a breach cancels the steps in
// flight and rolls back at once.
func Guard(name, from, until string, opts ...Option) runbook.Gate {
	return build(runbook.Gate{Name: name, Kind: runbook.GateGuard, From: from, Until: until}, opts)
}

// Approval returns an approval gate asking the run's approver message.
func Approval(name, message string, opts ...Option) runbook.Gate {
	return build(runbook.Gate{Name: name, Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: message}}, opts)
}

func build(g runbook.Gate, opts []Option) runbook.Gate {
	for _, o := range opts {
		o(&g)
	}
	return g
}

// Every sets the sampling interval.
func Every(d time.Duration) Option { return func(g *runbook.Gate) { g.Every = d } }

// InitialDelay waits d before the first sample.
func InitialDelay(d time.Duration) Option { return func(g *runbook.Gate) { g.InitialDelay = d } }

// Count ends a soak after n samples per check.
func Count(n int) Option { return func(g *runbook.Gate) { g.Count = n } }

// Timeout bounds the gate: a check gate's deadline, or an approval's wait
// (see [TimeoutDefault] for the answer on expiry).
func Timeout(d time.Duration) Option {
	return func(g *runbook.Gate) {
		if g.Approval != nil {
			g.Approval.Timeout = d
			return
		}
		g.Timeout = d
	}
}

// TimeoutDefault makes an approval gate answer approve when nobody has
// answered within d.
func TimeoutDefault(d time.Duration, approve bool) Option {
	return func(g *runbook.Gate) {
		if g.Approval == nil {
			g.Approval = &runbook.Approval{}
		}
		g.Approval.Timeout, g.Approval.OnTimeout = d, approve
	}
}

// Approvers names who may answer an approval gate.
func Approvers(names ...string) Option {
	return func(g *runbook.Gate) {
		if g.Approval == nil {
			g.Approval = &runbook.Approval{}
		}
		g.Approval.Approvers = append(g.Approval.Approvers, names...)
	}
}

// OnFail says what a failed gate does (default rollback).
func OnFail(p runbook.Policy) Option { return func(g *runbook.Gate) { g.OnFail = p } }

// OnInconclusive says what an inconclusive gate does (default pause).
func OnInconclusive(p runbook.Policy) Option { return func(g *runbook.Gate) { g.OnInconclusive = p } }

// Budget sets the planned duration, for the timeline.
func Budget(d time.Duration) Option { return func(g *runbook.Gate) { g.Budget = d } }

// DependsOn adds ordering edges.
func DependsOn(nodes ...string) Option {
	return func(g *runbook.Gate) { g.DependsOn = appendNew(g.DependsOn, nodes...) }
}

// Uses names steps whose outputs the gate reads. [Watch] adds the baseline
// steps of [RelativeTo] thresholds by itself.
func Uses(steps ...string) Option {
	return func(g *runbook.Gate) { g.Uses = appendNew(g.Uses, steps...) }
}

// Describe sets the gate's description.
func Describe(s string) Option { return func(g *runbook.Gate) { g.Description = s } }

// Watch adds a check to a check, soak or guard gate: probe is sampled and
// success decides each sample. When success is a [Threshold], it also
// describes the check and declares the steps it reads.
func Watch(name string, probe runbook.Probe, success runbook.Condition, opts ...CheckOption) Option {
	return WatchCheck(NewCheck(name, probe, success, opts...))
}

// WatchCheck adds a check built by hand (or by [NewCheck]).
func WatchCheck(c runbook.Check) Option {
	return func(g *runbook.Gate) {
		g.Checks = append(g.Checks, c)
		for _, cond := range []runbook.Condition{c.Success, c.Failure} {
			if t, ok := cond.(Threshold); ok {
				g.Uses = appendNew(g.Uses, t.uses...)
			}
		}
	}
}

func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		found := false
		for _, l := range list {
			if l == a {
				found = true
				break
			}
		}
		if !found {
			list = append(list, a)
		}
	}
	return list
}

// CheckOption configures a check.
type CheckOption func(*runbook.Check)

// NewCheck returns a check of probe decided by success (nil for a check
// decided by [FailWhen] only).
func NewCheck(name string, probe runbook.Probe, success runbook.Condition, opts ...CheckOption) runbook.Check {
	c := runbook.Check{Name: name, Probe: probe, Success: success}
	if t, ok := success.(Threshold); ok {
		c.Threshold = t.String()
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// FailWhen sets the check's failure condition: a sample meeting it is a
// breach; with a success condition too, a sample meeting neither is
// inconclusive.
func FailWhen(c runbook.Condition) CheckOption {
	return func(k *runbook.Check) {
		k.Failure = c
		if t, ok := c.(Threshold); ok {
			if k.Threshold != "" {
				k.Threshold += "; fail when " + t.String()
			} else {
				k.Threshold = "fail when " + t.String()
			}
		}
	}
}

// FailureLimit tolerates n breaches in all.
func FailureLimit(n int) CheckOption { return func(c *runbook.Check) { c.FailureLimit = n } }

// Tolerate tolerates n consecutive breaches.
func Tolerate(n int) CheckOption { return func(c *runbook.Check) { c.Tolerate = n } }

// InconclusiveLimit tolerates n inconclusive samples.
func InconclusiveLimit(n int) CheckOption { return func(c *runbook.Check) { c.InconclusiveLimit = n } }

// ErrorLimit tolerates n consecutive probe errors.
func ErrorLimit(n int) CheckOption { return func(c *runbook.Check) { c.ErrorLimit = n } }

// NoData says what a sample without data counts as.
func NoData(p runbook.NoDataPolicy) CheckOption { return func(c *runbook.Check) { c.NoData = p } }

// DryRun records the check's samples without letting them decide.
func DryRun() CheckOption { return func(c *runbook.Check) { c.DryRun = true } }

// Message explains a breach to people.
func Message(s string) CheckOption { return func(c *runbook.Check) { c.Message = s } }

// CheckEvery overrides the gate's interval for this check.
func CheckEvery(d time.Duration) CheckOption { return func(c *runbook.Check) { c.Every = d } }

// CheckCount overrides the gate's sample count for this check.
func CheckCount(n int) CheckOption { return func(c *runbook.Check) { c.Count = n } }

// CheckInitialDelay overrides the gate's initial delay for this check.
func CheckInitialDelay(d time.Duration) CheckOption {
	return func(c *runbook.Check) { c.InitialDelay = d }
}
