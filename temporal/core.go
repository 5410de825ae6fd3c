package temporal

// Small pieces of the core's semantics that runbook does not export; kept
// here in the same shape so the two runners decide alike.

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

func safeDo(ctx context.Context, a runbook.Action, env *runbook.Env) (out runbook.Outputs, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("%w: %v\n%s", runbook.ErrPanic, p, firstLines(debug.Stack(), 12))
		}
	}()
	return a.Do(ctx, env)
}

func safeSample(ctx context.Context, p runbook.Probe, env *runbook.Env) (s runbook.Sample, err error) {
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("%w: %v", runbook.ErrPanic, x)
		}
	}()
	return p.Sample(ctx, env)
}

func safeCompensate(ctx context.Context, rb runbook.Rollback, env *runbook.Env) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v\n%s", runbook.ErrPanic, p, firstLines(debug.Stack(), 12))
		}
	}()
	return rb.Compensate(ctx, env)
}

func safeHolds(c runbook.Condition, env *runbook.Env, v any) (ok bool, err error) {
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("%w: %v", runbook.ErrPanic, x)
		}
	}()
	return c.Holds(env, v)
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// classify turns a sample into a verdict, as the local executor does: the
// conditions see the sample in Env.Self and earlier outputs in Env.Output.
func classify(g *runbook.Gate, c *runbook.Check, ref nodeRef, seq int, r *Runner, s runbook.Sample, perr error) (runbook.Verdict, any, string) {
	if perr != nil {
		return runbook.VerdictError, nil, perr.Error()
	}
	if s.NoData {
		switch c.NoData {
		case runbook.NoDataFail:
			return runbook.VerdictFail, nil, "no data"
		case runbook.NoDataPass:
			return runbook.VerdictPass, nil, "no data"
		case runbook.NoDataWait:
			return runbook.VerdictNoData, nil, "no data"
		default:
			return runbook.VerdictInconclusive, nil, "no data"
		}
	}
	self := runbook.Outputs{"value": s.Value}
	for k, v := range s.Outputs {
		if k != "value" {
			self[k] = v
		}
	}
	env := r.env(ref, seq, self)
	var okS, okF bool
	var err error
	if c.Failure != nil {
		if okF, err = safeHolds(c.Failure, env, s.Value); err != nil {
			return runbook.VerdictError, s.Value, "failure condition: " + err.Error()
		}
	}
	if c.Success != nil {
		if okS, err = safeHolds(c.Success, env, s.Value); err != nil {
			return runbook.VerdictError, s.Value, "success condition: " + err.Error()
		}
	}
	switch {
	case c.Failure != nil && okF:
		return runbook.VerdictFail, s.Value, ""
	case c.Success != nil && okS:
		return runbook.VerdictPass, s.Value, ""
	case c.Success != nil && c.Failure != nil:
		return runbook.VerdictInconclusive, s.Value, ""
	case c.Success != nil:
		if g.Kind == runbook.GateCheck {
			return runbook.VerdictPending, s.Value, ""
		}
		return runbook.VerdictFail, s.Value, ""
	default:
		return runbook.VerdictPass, s.Value, ""
	}
}

// retryDelay is the wait after attempt n failed, without jitter.
func retryDelay(r runbook.Retry, n int) time.Duration {
	d := r.Delay
	if d <= 0 {
		d = time.Second
	}
	b := r.Backoff
	if b <= 0 {
		b = 2
	}
	f := float64(d)
	for i := 1; i < n; i++ {
		f *= b
		if r.MaxDelay > 0 && f > float64(r.MaxDelay) {
			break
		}
	}
	if r.MaxDelay > 0 && f > float64(r.MaxDelay) {
		f = float64(r.MaxDelay)
	}
	return time.Duration(f)
}

func attempts(r runbook.Retry) int {
	if r.Attempts < 1 {
		return 1
	}
	return r.Attempts
}

func describeLine(d runbook.Description) string {
	var parts []string
	if d.Provider != "" {
		parts = append(parts, d.Provider)
	}
	if d.Action != "" {
		parts = append(parts, d.Action)
	}
	if d.Summary != "" {
		parts = append(parts, fmt.Sprintf("%q", d.Summary))
	}
	return strings.Join(parts, " ")
}
