package runbook

import (
	"context"
	"fmt"
	"time"
)

// compensate runs the rollbacks of the given steps in order, best effort:
// a compensation that fails after its retries and fallbacks is recorded and
// the others still run. It returns the final status and what is left.
func (r *run) compensate(ctx context.Context, order []int, reason string) (Status, []string) {
	// Compensations run one at a time on the caller's goroutine: hold the
	// clock while one runs, so that a simulated clock advances only when the
	// compensation itself waits on it (and not, for example, to the end of
	// its own timeout while it is working).
	tok := holdClock(r.clock)
	defer tok.release()
	base := withToken(context.WithoutCancel(ctx), tok)
	var todo []int
	for _, i := range order {
		n := r.p.nodes[i]
		if n.Step == nil {
			continue
		}
		if len(n.rbs) == 0 {
			if n.Step.Irreversible {
				r.warnings = append(r.warnings, fmt.Errorf("%s: irreversible, not compensated", n.Name))
			}
			continue
		}
		todo = append(todo, i)
	}
	names := make([]string, len(todo))
	for k, i := range todo {
		names[k] = r.p.nodes[i].Name
	}
	r.emit(RollbackStarted{Header: r.header(""), Reason: r.red.Redact(reason), Pending: names})
	var left []string
	for k, i := range todo {
		if r.stopRequested() {
			left = append(left, names[k:]...)
			r.failErr = fmt.Errorf("%w; rollback stopped by request", r.failErr)
			return StatusInterrupted, left
		}
		if !r.compensateOne(base, r.p.nodes[i]) {
			left = append(left, r.p.nodes[i].Name)
		}
	}
	if len(left) > 0 {
		return StatusRollbackIncomplete, left
	}
	return StatusRolledBack, nil
}

func (r *run) stopRequested() bool {
	if r.opts.StopRollback == nil {
		return false
	}
	select {
	case <-r.opts.StopRollback:
		return true
	default:
		return false
	}
}

// compensateOne runs one step's rollbacks as ordered fallbacks, each with
// retries. It reports success.
func (r *run) compensateOne(ctx context.Context, n *Node) bool {
	s := n.Step
	r.mu.Lock()
	self := r.outputs[n.Name]
	r.mu.Unlock()
	retry := Retry{Attempts: 3, Delay: time.Second, Backoff: 2}
	if r.e.RollbackRetry != nil {
		retry = *r.e.RollbackRetry
	}
	if s.RollbackRetry != nil {
		retry = *s.RollbackRetry
	}
	timeout := r.e.RollbackTimeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	if s.RollbackTimeout > 0 {
		timeout = s.RollbackTimeout
	}
	_ = r.journal(ctx, Record{Kind: RecCompensating, Node: n.Name})
	rbs := n.rbs
	attempt := 0
	for fb, rb := range rbs {
		for a := 1; a <= retry.attempts(); a++ {
			attempt++
			cctx, cancel := clockTimeout(ctx, r.clock, timeout)
			err := safeCompensate(cctx, rb, r.env(n.Name, attempt, self))
			cancel()
			if err == nil {
				_ = r.journal(ctx, Record{Kind: RecCompensated, Node: n.Name, Attempt: attempt})
				r.emit(StepCompensated{Header: r.header(n.Name), Attempt: attempt, Fallback: fb, Via: describeLine(Describe(rb))})
				r.mu.Lock()
				r.compensated = append(r.compensated, n.Name)
				if res := r.res[n.Index]; res != nil {
					res.Status = StateCompensated
				}
				r.mu.Unlock()
				return true
			}
			final := fb == len(rbs)-1 && a == retry.attempts()
			msg := r.red.Redact((&StepError{Node: n.Name, Attempt: attempt, Err: fmt.Errorf("rollback: %w", err)}).Error())
			r.emit(CompensationFailed{Header: r.header(n.Name), Attempt: attempt, Fallback: fb, Error: msg, Final: final})
			_ = r.journal(ctx, Record{Kind: RecCompensationFailed, Node: n.Name, Attempt: attempt, Final: final, Error: msg})
			if final {
				r.mu.Lock()
				if res := r.res[n.Index]; res != nil {
					res.Status = StateCompensationFailed
				}
				r.mu.Unlock()
				return false
			}
			if a < retry.attempts() {
				_ = r.clock.Sleep(ctx, retry.delay(a, r.rnd()))
			}
		}
	}
	return false
}
