package runbook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/handrail-dev/handrail/runbook/engine"
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
	var bound *compBound
	if _, sim := r.clock.(*SimClock); !sim {
		// A real clock: one context and one timer bound the compensations
		// in turn (a simulated clock's deadlines are its own timers).
		bound = newCompBound(base)
		defer bound.close()
	}
	todo, names, warnings := engine.Compensations(order, r.undo)
	for _, w := range warnings {
		r.warnings = append(r.warnings, errors.New(w))
	}
	r.emit(RollbackStarted{Header: r.header(""), Reason: r.red.Redact(reason), Pending: names})
	var left []string
	r.mu.Lock()
	r.compensated = growStrings(r.compensated, len(todo))
	r.mu.Unlock()
	for k, i := range todo {
		if r.stopRequested() {
			left = append(left, names[k:]...)
			r.failErr = fmt.Errorf("%w; rollback stopped by request", r.failErr)
			return StatusInterrupted, left
		}
		if !r.compensateOne(base, bound, r.p.nodes[i]) {
			left = append(left, r.p.nodes[i].Name)
		}
	}
	if len(r.unrecorded) > 0 {
		// The world may be back, but the journal does not say so: a later
		// rollback would take the unrecorded compensations for undone (or
		// in doubt). Never report rolled_back on that.
		cause := r.failErr
		if cause == nil {
			cause = fmt.Errorf("rollback")
		}
		r.failErr = fmt.Errorf("%w; %w: %s", cause, ErrNotRecorded, strings.Join(r.unrecorded, "; "))
		return StatusRollbackIncomplete, left
	}
	if len(left) > 0 {
		return StatusRollbackIncomplete, left
	}
	return StatusRolledBack, nil
}

// undo describes node i to the engine's choice of compensations.
func (r *run) undo(i int) engine.Undo {
	n := r.p.nodes[i]
	if n.Step == nil {
		return engine.Undo{Name: n.Name}
	}
	return engine.Undo{Name: n.Name, Rollbacks: len(n.rbs), Irreversible: n.Step.Irreversible}
}

// noteUnrecorded remembers a rollback record the journal refused.
func (r *run) noteUnrecorded(node, what string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unrecorded = append(r.unrecorded, fmt.Sprintf("%s: %s: %v", node, what, err))
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

// growStrings returns list with room for n more elements.
func growStrings(list []string, n int) []string {
	if cap(list)-len(list) >= n {
		return list
	}
	out := make([]string, len(list), len(list)+n)
	copy(out, list)
	return out
}

// compensateOne runs one step's rollbacks as ordered fallbacks, each with
// retries. It reports success. Each attempt is bounded by the rollback
// timeout: by bound on a real clock, by a timer of the run's clock if bound
// is nil.
func (r *run) compensateOne(ctx context.Context, bound *compBound, n *Node) bool {
	s := n.Step
	r.mu.Lock()
	self := r.outputs[n.Name]
	r.mu.Unlock()
	retry := engine.Override(Retry{Attempts: engine.DefaultRollbackAttempts, Delay: engine.DefaultRollbackDelay, Backoff: engine.DefaultRollbackBackoff},
		r.e.RollbackRetry, s.RollbackRetry)
	timeout := engine.RollbackTimeout(r.e.RollbackTimeout, s.RollbackTimeout)
	if r.j != nil {
		if err := r.journal(ctx, Record{Kind: RecCompensating, Node: n.Name}); err != nil {
			// No side effect starts before the record announcing it,
			// unless running it again later is harmless: an idempotent
			// compensation still puts the world back; any other stays
			// pending, so that a later rollback runs it (and does not run
			// it twice).
			if !n.rbIdem {
				r.noteUnrecorded(n.Name, "the start of its compensation could not be recorded, so it was not run", err)
				return false
			}
			r.noteUnrecorded(n.Name, "the start of its compensation could not be recorded; it ran anyway (idempotent)", err)
		}
	}
	rbs := n.rbs
	attempt := 0
	for fb, rb := range rbs {
		for a := 1; a <= retry.attempts(); a++ {
			attempt++
			var err error
			var timedOut bool
			if bound != nil {
				cctx := bound.arm(timeout)
				err = safeCompensate(cctx, rb, r.env(n.Name, attempt, self))
				timedOut = bound.disarm()
			} else {
				cctx, cancel := clockTimeout(ctx, r.clock, timeout)
				err = safeCompensate(cctx, rb, r.env(n.Name, attempt, self))
				timedOut = errors.Is(context.Cause(cctx), ErrTimeout)
				cancel()
			}
			if err == nil {
				if r.j != nil {
					if jerr := r.journal(ctx, Record{Kind: RecCompensated, Node: n.Name, Attempt: attempt}); jerr != nil {
						r.noteUnrecorded(n.Name, "its compensation ran but its end could not be recorded (a later rollback finds it in doubt)", jerr)
					}
				}
				if !r.quiet {
					r.emit(StepCompensated{Header: r.header(n.Name), Attempt: attempt, Fallback: fb, Via: describeLine(Describe(rb))})
				}
				r.mu.Lock()
				r.compensated = append(r.compensated, n.Name)
				if res := r.res[n.Index]; res != nil {
					res.Status = StateCompensated
				}
				r.mu.Unlock()
				return true
			}
			if timedOut {
				err = fmt.Errorf("%w after %s: %w", ErrTimeout, timeout, err)
			}
			final := fb == len(rbs)-1 && a == retry.attempts()
			msg := r.red.Redact((&StepError{Node: n.Name, Attempt: attempt, Err: fmt.Errorf("rollback: %w", err)}).Error())
			r.emit(CompensationFailed{Header: r.header(n.Name), Attempt: attempt, Fallback: fb, Error: msg, Final: final})
			if jerr := r.journal(ctx, Record{Kind: RecCompensationFailed, Node: n.Name, Attempt: attempt, Final: final, Error: msg}); jerr != nil {
				r.noteUnrecorded(n.Name, fmt.Sprintf("the failure of compensation attempt %d could not be recorded", attempt), jerr)
			}
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

// compBound bounds compensations that run one at a time on a real clock,
// each by its own timeout, without a context and a timer per
// compensation: they share one context, cancelled with cause [ErrTimeout]
// when the compensation running then passes its deadline (after which the
// next one gets a fresh context), and one timer that is only moved when it
// would fire too late — a timer firing before the running compensation's
// deadline (set for an earlier one) is pushed back to it. The context
// reports the running compensation's deadline, and its Err is
// [context.DeadlineExceeded] once its deadline passed, as with
// [context.WithTimeout]. close cancels the context: a compensation's
// context is done at the latest when the rollback ends.
type compBound struct {
	parent context.Context

	mu      sync.Mutex
	ctx     *boundCtx
	cancel  context.CancelCauseFunc
	timer   *time.Timer
	pending bool      // the timer will fire
	fireAt  time.Time // when, if pending
	armed   bool      // a compensation is running
	until   time.Time // its deadline
}

func newCompBound(parent context.Context) *compBound {
	return &compBound{parent: parent}
}

// arm starts a compensation bounded by d and returns its context.
func (b *compBound) arm(d time.Duration) context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx == nil {
		inner, cancel := context.WithCancelCause(b.parent)
		b.ctx, b.cancel = &boundCtx{Context: inner}, cancel
	}
	now := time.Now()
	b.armed, b.until = true, now.Add(d)
	b.ctx.deadline.Store(b.until.UnixNano())
	if b.timer == nil {
		b.timer = time.AfterFunc(d, b.fire)
		b.pending, b.fireAt = true, b.until
	} else if !b.pending || b.fireAt.After(b.until) {
		b.timer.Reset(d)
		b.pending, b.fireAt = true, b.until
	}
	return b.ctx
}

// disarm ends the running compensation and reports whether it ran past its
// deadline (its context was cancelled for it).
func (b *compBound) disarm() (timedOut bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed = false
	if b.ctx != nil && b.ctx.Err() != nil {
		// Spent: the next compensation gets a fresh context.
		b.ctx, b.cancel = nil, nil
		return true
	}
	return false
}

// fire runs on the timer: it cancels the running compensation if its
// deadline passed, and otherwise waits for that deadline.
func (b *compBound) fire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = false
	if !b.armed || b.ctx == nil {
		return
	}
	if now := time.Now(); now.Before(b.until) {
		b.timer.Reset(b.until.Sub(now))
		b.pending, b.fireAt = true, b.until
		return
	}
	b.ctx.expired.Store(true)
	b.cancel(ErrTimeout)
}

// close stops the timer and cancels the context.
func (b *compBound) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.armed = false
	if b.cancel != nil {
		b.cancel(context.Canceled)
	}
}

// boundCtx is a compensation's context under a [compBound]: the shared
// cancellable context, with the running compensation's deadline.
type boundCtx struct {
	context.Context
	deadline atomic.Int64 // unix nanoseconds
	expired  atomic.Bool  // cancelled because the deadline passed
}

// Deadline returns the running compensation's deadline.
func (c *boundCtx) Deadline() (time.Time, bool) {
	return time.Unix(0, c.deadline.Load()), true
}

// Err is [context.DeadlineExceeded] after the deadline passed, as for a
// context of [context.WithTimeout].
func (c *boundCtx) Err() error {
	err := c.Context.Err()
	if err != nil && c.expired.Load() {
		return context.DeadlineExceeded
	}
	return err
}

// settleCompensationsInDoubt decides, before a resumed run or a later
// rollback compensates, what to do with the compensations the journal shows
// started and never finished (the process died during them, or the journal
// could not record their end). Like a forward step in doubt, one whose
// rollbacks are idempotent runs again; any other is a question for the
// approver: compensate (run it again) or done (it finished; record it as
// compensated). The decision is journaled. Without an answer it returns an
// error wrapping [ErrCompensationInDoubt], and nothing is run.
func (r *run) settleCompensationsInDoubt(ctx context.Context, st *RunState) error {
	for _, name := range st.CompensationsInDoubt {
		i, ok := r.p.index[name]
		if !ok {
			continue
		}
		n := r.p.nodes[i]
		if n.Step == nil || len(n.rbs) == 0 {
			continue
		}
		if n.rbIdem {
			r.emit(Note{Header: r.header(name), Message: "compensation in doubt after restart: running it again (idempotent)"})
			continue
		}
		d, aerr := r.ask(ctx, ApprovalRequest{Node: name, Kind: "compensation-in-doubt", Choices: []string{"compensate", "done"},
			Message: fmt.Sprintf("the compensation of step %s was started but never recorded as finished, and it is not idempotent. Did it take effect? Choose compensate (run it again) or done (it finished: record it as compensated).", name)}, 0, false)
		if aerr != nil {
			return &StepError{Node: name, Err: fmt.Errorf("%w: %w", ErrCompensationInDoubt, aerr)}
		}
		switch d.Choice {
		case "compensate":
		case "done":
			if err := r.journal(ctx, Record{Kind: RecCompensated, Node: name, Error: "marked done by " + d.By}); err != nil {
				return &StepError{Node: name, Err: fmt.Errorf("%w: recording the decision: %w", ErrNotRecorded, err)}
			}
			r.mu.Lock()
			r.done = removeInt(r.done, i)
			r.ownFail = removeInt(r.ownFail, i)
			r.compensated = append(r.compensated, name)
			if res := r.res[i]; res != nil {
				res.Status = StateCompensated
			}
			r.mu.Unlock()
		default:
			return &StepError{Node: name, Err: fmt.Errorf("%w: unknown choice %q", ErrCompensationInDoubt, d.Choice)}
		}
	}
	return nil
}

func removeInt(list []int, x int) []int {
	out := list[:0:0]
	for _, v := range list {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}
