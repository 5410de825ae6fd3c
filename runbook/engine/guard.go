package engine

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// Recover, deferred by a runner around provider code (an action, a
// rollback, a probe), turns a panic into *err: an error wrapping panicErr
// with the panic's value and, with stack, the first lines of the stack.
// It must be deferred directly: defer engine.Recover(&err, ErrPanic, true).
func Recover(err *error, panicErr error, stack bool) {
	p := recover()
	if p == nil {
		return
	}
	if stack {
		*err = fmt.Errorf("%w: %v\n%s", panicErr, p, firstLines(debug.Stack(), 12))
		return
	}
	*err = fmt.Errorf("%w: %v", panicErr, p)
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// DenialReason says why an approval did not pass: who denied it (by, or
// "the approver"), or that nobody answered within timeout; then the
// comment, if any.
func DenialReason(by string, timedOut bool, timeout time.Duration, comment string) string {
	if by == "" {
		by = "the approver"
	}
	reason := "denied by " + by
	if timedOut {
		reason = fmt.Sprintf("no answer within %s", timeout)
	}
	if comment != "" {
		reason += ": " + comment
	}
	return reason
}

// Compensation defaults: each compensation attempt is bounded by
// DefaultRollbackTimeout, and failed compensations are retried
// DefaultRollbackAttempts times in all, DefaultRollbackDelay apart at
// first, the delay doubling.
const (
	DefaultRollbackTimeout  = 10 * time.Minute
	DefaultRollbackAttempts = 3
	DefaultRollbackDelay    = time.Second
	DefaultRollbackBackoff  = 2
)

// RollbackTimeout is the bound of one compensation attempt: the step's
// own, else the runner's, else [DefaultRollbackTimeout].
func RollbackTimeout(runner, step time.Duration) time.Duration {
	switch {
	case step > 0:
		return step
	case runner > 0:
		return runner
	}
	return DefaultRollbackTimeout
}

// Override returns the last of layers that is set (not nil), or def: a
// step's setting over the runner's over the default.
func Override[T any](def T, layers ...*T) T {
	for k := len(layers) - 1; k >= 0; k-- {
		if layers[k] != nil {
			return *layers[k]
		}
	}
	return def
}
