// Package fault injects failures into the calls a provider makes to the
// world, so that a rollback can be proven against the failures that matter:
// a call that fails before it changes anything, a call that changes the
// world and then loses its answer (a connection reset, a timeout, the
// process killed before the change was recorded), and a call that takes
// time.
//
// A stateful fake holds an [Injector] and runs every call that changes the
// world through [Injector.Do], naming the call ("ModifyRule",
// "PutObject"). Real components are reached through a transport that does
// the same: [Transport] wraps an [http.RoundTripper] so that the request
// reaches the real server (the change happens) and the answer is then
// dropped. Tests and the provider conformance suite (providertest) arm
// faults by call name.
//
// The package depends only on the standard library and runbook (for the
// clock on which latency is simulated).
package fault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// Kind is what a fault does to a call.
type Kind string

// Fault kinds.
const (
	// Before makes the call fail without changing the world (a refused
	// connection, a throttled request).
	Before Kind = "before_effect"
	// After lets the call change the world, then fails it as if the answer
	// were lost (by default a connection reset).
	After Kind = "after_effect"
	// Latency lets the call change the world, then holds the answer for
	// Delay on the fault's clock. If the caller's context ends first (a
	// step timeout), the call fails with the context's error after the
	// change: a timeout whose effect was applied.
	Latency Kind = "latency"
)

// ErrInjected is wrapped by every error a fault returns, so a test can
// tell an injected failure from a real one with errors.Is.
var ErrInjected = errors.New("injected fault")

// Fault is one armed failure.
type Fault struct {
	// Kind says when the call fails.
	Kind Kind
	// Err is the error returned (wrapped so that it also matches
	// ErrInjected). Zero: a connection refused for Before, a connection
	// reset for After.
	Err error
	// Delay is how long a Latency call holds its answer, on Clock.
	Delay time.Duration
	// Clock is the clock Latency waits on (the run's simulated clock).
	// Zero: the real clock.
	Clock runbook.Clock
	// Times is how many matching calls the fault hits (zero: one; negative:
	// every call until cleared).
	Times int
	// OnFire, if set, is called each time the fault hits, with whether the
	// world was changed first. It runs after the change and before the
	// answer: the point where a process that crashes would die.
	OnFire func(applied bool)
}

// error returns the error the fault gives its caller.
func (f *Fault) error(call string) error {
	err := f.Err
	if err == nil {
		switch f.Kind {
		case Before:
			err = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		default:
			err = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
		}
	}
	return &Error{Call: call, Kind: f.Kind, Err: err}
}

// Error is the error an injected fault returns. It matches [ErrInjected]
// and unwraps to the underlying error (a *net.OpError by default).
type Error struct {
	Call string
	Kind Kind
	Err  error
}

// Error describes the failure.
func (e *Error) Error() string {
	switch e.Kind {
	case Before:
		return fmt.Sprintf("%s: %v (injected before the effect)", e.Call, e.Err)
	default:
		return fmt.Sprintf("%s: %v (injected after the effect: the answer was lost)", e.Call, e.Err)
	}
}

// Unwrap returns the underlying error and ErrInjected.
func (e *Error) Unwrap() []error { return []error{e.Err, ErrInjected} }

// Injector holds faults armed by call name. Fakes run each call through
// [Injector.Do]. The zero value is ready to use; it is safe for concurrent
// use.
type Injector struct {
	mu    sync.Mutex
	armed map[string][]*Fault
	calls map[string]int
	fired map[string]int
}

// Arm makes the next matching calls of call fail as f says. Faults armed
// for the same call are used in the order they were armed.
func (in *Injector) Arm(call string, f Fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.armed == nil {
		in.armed = map[string][]*Fault{}
	}
	if f.Times == 0 {
		f.Times = 1
	}
	in.armed[call] = append(in.armed[call], &f)
}

// Clear disarms every fault of call, or of every call when call is "".
func (in *Injector) Clear(call string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if call == "" {
		in.armed = nil
		return
	}
	delete(in.armed, call)
}

// Calls returns how many times call went through Do.
func (in *Injector) Calls(call string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.calls[call]
}

// Fired returns how many times a fault hit call.
func (in *Injector) Fired(call string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.fired[call]
}

// take returns the fault for this call of call, if one is armed.
func (in *Injector) take(call string) *Fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.calls == nil {
		in.calls, in.fired = map[string]int{}, map[string]int{}
	}
	in.calls[call]++
	q := in.armed[call]
	if len(q) == 0 {
		return nil
	}
	f := q[0]
	if f.Times > 0 {
		f.Times--
		if f.Times == 0 {
			in.armed[call] = q[1:]
		}
	}
	in.fired[call]++
	cp := *f
	return &cp
}

// Do runs effect as one call named call, applying the fault armed for it:
// Before returns an error without running effect; After runs effect and,
// if it succeeded, returns an error instead of its result; Latency runs
// effect and then waits on the fault's clock (returning ctx's error if ctx
// ends first). Without a fault Do returns effect(). A nil Injector runs
// effect.
func (in *Injector) Do(ctx context.Context, call string, effect func() error) error {
	if in == nil {
		return effect()
	}
	f := in.take(call)
	if f == nil {
		return effect()
	}
	if f.Kind == Before {
		if f.OnFire != nil {
			f.OnFire(false)
		}
		return f.error(call)
	}
	if err := effect(); err != nil {
		return err
	}
	if f.OnFire != nil {
		f.OnFire(true)
	}
	switch f.Kind {
	case Latency:
		clock := f.Clock
		if clock == nil {
			clock = runbook.RealClock{}
		}
		if err := clock.Sleep(ctx, f.Delay); err != nil {
			return fmt.Errorf("%s: the answer took longer than the caller waited (%s, injected after the effect): %w", call, f.Delay, err)
		}
		return nil
	default:
		return f.error(call)
	}
}

// Transport is an [http.RoundTripper] that injects faults into requests to
// a real server: the request goes through (the server changes the world)
// and the answer is dropped, or the request never leaves, or the answer
// is held back.
type Transport struct {
	// Base sends the requests (nil: http.DefaultTransport).
	Base http.RoundTripper
	// Faults holds the armed faults.
	Faults *Injector
	// Call names a request for Faults ("ModifyRule", "PUT object"); ""
	// leaves the request alone. It must not consume the body (read it from
	// req.GetBody, or restore it).
	Call func(req *http.Request) string
}

// RoundTrip sends req, applying the fault armed for its call.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	call := ""
	if t.Call != nil {
		call = t.Call(req)
	}
	if call == "" || t.Faults == nil {
		return base.RoundTrip(req)
	}
	var resp *http.Response
	err := t.Faults.Do(req.Context(), call, func() error {
		var err error
		resp, err = base.RoundTrip(req)
		if err != nil {
			return err
		}
		// The server has answered: read the whole answer, so that the
		// change is complete whatever happens to it next.
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
