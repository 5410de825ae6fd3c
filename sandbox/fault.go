package sandbox

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// FaultMode says how an injected fault hits a node. Every mode wraps the
// node's real action, whatever its provider: the fakes see the calls a real
// failure would leave behind.
type FaultMode string

// The fault modes.
const (
	// FaultBeforeEffect: the step fails before calling its action (nothing
	// changed; not retried). On a check, soak or guard gate: it breaches at
	// its first sample.
	FaultBeforeEffect FaultMode = "before_effect"
	// FaultAfterEffect: the action runs (its effect happens), then the
	// answer is lost: the step returns an error and no outputs. The error
	// is not permanent, so the step's retry policy applies, and every
	// attempt behaves the same.
	FaultAfterEffect FaultMode = "after_effect"
	// FaultTimeout: the action runs, then the answer never comes: the step
	// waits on the simulated clock until its timeout fires (an hour when it
	// has none) and fails with [runbook.ErrTimeout].
	FaultTimeout FaultMode = "timeout"
	// FaultLatency: each call of the action first takes Fault.Latency of
	// simulated time.
	FaultLatency FaultMode = "latency"
	// FaultCrashAfter: the action runs, then the process dies before the
	// step's success is recorded: the step is in doubt for whoever picks
	// the run up from the journal.
	FaultCrashAfter FaultMode = "crash_after"
)

// FaultModes returns the modes, in the order documentation shows them.
func FaultModes() []FaultMode {
	return []FaultMode{FaultBeforeEffect, FaultAfterEffect, FaultTimeout, FaultLatency, FaultCrashAfter}
}

// noTimeoutHang is how long a timeout fault waits on a step without a
// timeout of its own.
const noTimeoutHang = time.Hour

// Fault is one fault to inject at one node.
type Fault struct {
	// Node names a step (or, with FaultBeforeEffect, a gate) as in Fail:
	// bare, or as step.NAME / gate.NAME.
	Node string
	Mode FaultMode
	// Latency is the simulated time per call of FaultLatency.
	Latency time.Duration
}

// String is how the fault reads in reports: "after_effect at traffic[10]".
func (f Fault) String() string {
	if f.Mode == FaultLatency {
		return fmt.Sprintf("latency %s at %s", f.Latency, f.Node)
	}
	return fmt.Sprintf("%s at %s", f.Mode, f.Node)
}

// ParseFaultMode checks a mode's name.
func ParseFaultMode(s string) (FaultMode, error) {
	for _, m := range FaultModes() {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, len(FaultModes()))
	for i, m := range FaultModes() {
		names[i] = string(m)
	}
	return "", fmt.Errorf("unknown fault mode %q (want one of %s)", s, strings.Join(names, ", "))
}

// Crash is what a FaultCrashAfter fault does once the effect happened: it
// is called once, and the step's goroutine then never returns (a dead
// process acts no more). The caller stops trusting the run: typically it
// makes the journal refuse every later record and starts a new executor.
type Crash func()

// InjectFaults returns a copy of plan in which the named nodes fail as the
// faults say. crash is called by a FaultCrashAfter fault (it may be nil when
// there is none). The copy has the plan's hash: it can resume or roll back
// runs of plan.
func InjectFaults(plan *runbook.Plan, faults []Fault, crash Crash) (*runbook.Plan, error) {
	byNode := map[string][]Fault{}
	var breach []string
	for _, f := range faults {
		name := resolveNode(plan, f.Node)
		n, ok := plan.Node(name)
		if !ok {
			return nil, fmt.Errorf("fault %s: no step or gate of that name in %s%s", f, plan.Name, suggestNode(plan, name))
		}
		if _, err := ParseFaultMode(string(f.Mode)); err != nil {
			return nil, fmt.Errorf("fault at %s: %w", name, err)
		}
		if n.Gate != nil {
			if f.Mode != FaultBeforeEffect {
				return nil, fmt.Errorf("fault %s: %s is a gate; a gate takes only %s (it breaches, or an approval is denied)", f, name, FaultBeforeEffect)
			}
			breach = append(breach, name)
			continue
		}
		if f.Mode == FaultCrashAfter && crash == nil {
			return nil, fmt.Errorf("fault %s: crash_after needs a process to crash (run it as a test file scenario or through the matrix)", f)
		}
		if f.Mode == FaultLatency && f.Latency <= 0 {
			return nil, fmt.Errorf("fault %s: latency needs a positive duration", f)
		}
		f.Node = name
		byNode[name] = append(byNode[name], f)
	}
	if len(breach) > 0 {
		var err error
		if plan, err = Fail(plan, breach); err != nil {
			return nil, err
		}
	}
	if len(byNode) == 0 {
		return plan, nil
	}
	var once sync.Once
	die := func() {
		if crash != nil {
			once.Do(crash)
		}
	}
	return plan.Intercept(runbook.Interceptor{
		Action: func(n *runbook.Node, a runbook.Action) runbook.Action {
			fs := byNode[n.Name]
			if len(fs) == 0 {
				return a
			}
			sort.SliceStable(fs, func(i, j int) bool { return fs[i].Mode == FaultLatency && fs[j].Mode != FaultLatency })
			return faulty{a: a, node: n.Name, faults: fs, timeout: n.Step.Timeout, crash: die}
		},
	}), nil
}

// faulty wraps a step's action with its faults (latency first).
type faulty struct {
	a       runbook.Action
	node    string
	faults  []Fault
	timeout time.Duration
	crash   func()
}

func (f faulty) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	for _, ft := range f.faults {
		switch ft.Mode {
		case FaultLatency:
			if err := env.Clock().Sleep(ctx, ft.Latency); err != nil {
				return nil, err
			}
		case FaultBeforeEffect:
			return nil, runbook.Permanent(fmt.Errorf("%w at %s (before its effect)", ErrInjected, f.node))
		case FaultAfterEffect:
			if _, err := f.a.Do(ctx, env); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w at %s: the effect happened, the answer was lost (connection reset)", ErrInjected, f.node)
		case FaultTimeout:
			if _, err := f.a.Do(ctx, env); err != nil {
				return nil, err
			}
			wait := noTimeoutHang
			if f.timeout > 0 {
				wait = f.timeout + time.Second
			}
			if err := env.Clock().Sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("%w at %s: no answer: %w", ErrInjected, f.node, err)
			}
			return nil, fmt.Errorf("%w at %s: no answer after %s: %w", ErrInjected, f.node, wait, runbook.ErrTimeout)
		case FaultCrashAfter:
			if _, err := f.a.Do(ctx, env); err != nil {
				return nil, err
			}
			f.crash()
			select {} // the process is gone
		}
	}
	return f.a.Do(ctx, env)
}

func (f faulty) Describe() runbook.Description { return runbook.Describe(f.a) }
