package runbook

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Clock is where the executor, gates and actions get time. Sleep must return
// ctx's error as soon as ctx is done.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SimClock is a simulated clock. Time stands still while any runner of the
// executor is busy, and jumps to the next timer when every runner is waiting
// on the clock (or on nothing the clock could end), so that hours of
// simulated time pass in microseconds and the order of events is the order
// the same run would have on the wall clock.
//
// Code outside an executor can move it by hand with [SimClock.Advance].
//
// What counts as waiting: a runner (a step, a gate's check, the scheduler)
// is busy from the moment it starts until it returns, except while it is in
// Sleep on this clock with the context the executor gave it. A runner whose
// sleep was cancelled, or whose timer fired, counts as busy again at once.
// An approver's wait is busy time too, unless the approver itself waits on
// the clock: an answer given at once takes no simulated time. Helper
// goroutines that an action starts should not sleep on the clock with the
// action's context (they would mark the action idle while it works).
type SimClock struct {
	mu     sync.Mutex
	now    time.Time
	timers timerHeap
	seq    uint64
	busy   int
	auto   bool
}

// NewSimClock returns a simulated clock reading start that advances by
// itself when every runner of an executor waits.
func NewSimClock(start time.Time) *SimClock {
	return &SimClock{now: start, auto: true}
}

// Now returns the simulated time.
func (c *SimClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep waits until the simulated clock has moved d forward, or ctx is done.
func (c *SimClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	tok := tokenFrom(ctx)
	if tok != nil && tok.clock != c {
		tok = nil
	}
	c.mu.Lock()
	c.seq++
	t := &simTimer{at: c.now.Add(d), seq: c.seq, ch: make(chan struct{}), ctx: ctx, tok: tok}
	heap.Push(&c.timers, t)
	if tok != nil {
		tok.idleLocked()
	}
	c.maybeAdvanceLocked()
	c.mu.Unlock()
	var err error
	select {
	case <-t.ch:
	case <-ctx.Done():
		err = ctx.Err()
	}
	c.mu.Lock()
	if t.index >= 0 {
		heap.Remove(&c.timers, t.index)
	}
	if tok != nil {
		tok.busyLocked()
	}
	c.mu.Unlock()
	return err
}

// afterFunc registers f to run (under the clock's lock, so f must not call
// the clock) when the clock has moved d forward, unless ctx ends first. The
// timer is in place when afterFunc returns. stop cancels it.
func (c *SimClock) afterFunc(ctx context.Context, d time.Duration, f func()) (stop func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &simTimer{at: c.now.Add(d), seq: c.seq, fn: f, ctx: ctx}
	heap.Push(&c.timers, t)
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.index >= 0 {
			heap.Remove(&c.timers, t.index)
		}
	}
}

// Advance moves the clock d forward, firing every timer due by then.
func (c *SimClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	target := c.now.Add(d)
	for len(c.timers) > 0 && !c.timers[0].at.After(target) {
		t := heap.Pop(&c.timers).(*simTimer)
		if t.at.After(c.now) {
			c.now = t.at
		}
		t.fire()
	}
	c.now = target
}

// maybeAdvanceLocked fires the earliest timers when no runner is busy.
// Runners whose wait was cancelled count as busy again at once (they are
// about to act), so that time never moves past them.
func (c *SimClock) maybeAdvanceLocked() {
	for c.auto && c.busy == 0 && len(c.timers) > 0 {
		c.reapLocked()
		if c.busy > 0 || len(c.timers) == 0 {
			return
		}
		at := c.timers[0].at
		if at.After(c.now) {
			c.now = at
		}
		onlyFuncs := true
		for len(c.timers) > 0 && !c.timers[0].at.After(c.now) {
			t := heap.Pop(&c.timers).(*simTimer)
			if t.fn == nil {
				onlyFuncs = false
			}
			t.fire()
		}
		if !onlyFuncs {
			return
		}
	}
}

// reapLocked drops timers whose context ended, and marks runners whose
// wait ended that way busy.
func (c *SimClock) reapLocked() {
	var dead []*simTimer
	for _, t := range c.timers {
		if t.ctx != nil && t.ctx.Err() != nil {
			dead = append(dead, t)
		}
	}
	for _, t := range dead {
		if t.index >= 0 {
			heap.Remove(&c.timers, t.index)
		}
		if t.tok != nil {
			t.tok.busyLocked()
		}
	}
}

// hold returns a busy token: time cannot advance until it is released or
// idle.
func (c *SimClock) hold() *clockToken {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy++
	return &clockToken{clock: c, busy: true}
}

type simTimer struct {
	at    time.Time
	seq   uint64
	ch    chan struct{} // closed when the timer fires (Sleep)
	fn    func()        // called when the timer fires (afterFunc)
	ctx   context.Context
	tok   *clockToken // the sleeping runner, marked busy when it fires
	index int
}

func (t *simTimer) fire() {
	if t.fn != nil {
		t.fn()
		return
	}
	if t.tok != nil {
		t.tok.busyLocked()
	}
	close(t.ch)
}

type timerHeap []*simTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*simTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*h = old[:n-1]
	return t
}

// clockToken marks one runner of the executor as busy or idle on a
// SimClock. A nil token is valid and does nothing (the real clock).
type clockToken struct {
	clock    *SimClock
	busy     bool
	released bool
}

func (t *clockToken) idleLocked() {
	if t.busy && !t.released {
		t.busy = false
		t.clock.busy--
	}
}

func (t *clockToken) busyLocked() {
	if !t.busy && !t.released {
		t.busy = true
		t.clock.busy++
	}
}

// idle marks the runner as waiting on something outside the clock's control
// that the clock may time out (an approver, a result).
func (t *clockToken) idle() {
	if t == nil {
		return
	}
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	t.idleLocked()
	t.clock.maybeAdvanceLocked()
}

func (t *clockToken) resume() {
	if t == nil {
		return
	}
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	t.busyLocked()
}

func (t *clockToken) release() {
	if t == nil {
		return
	}
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	t.idleLocked()
	t.released = true
	t.clock.maybeAdvanceLocked()
}

type tokenKey struct{}

func withToken(ctx context.Context, t *clockToken) context.Context {
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, tokenKey{}, t)
}

func tokenFrom(ctx context.Context) *clockToken {
	t, _ := ctx.Value(tokenKey{}).(*clockToken)
	return t
}

// holdClock returns a busy token for runners on a SimClock, nil otherwise.
func holdClock(c Clock) *clockToken {
	if sc, ok := c.(*SimClock); ok {
		return sc.hold()
	}
	return nil
}

// ClockTimeout returns a context that is cancelled with cause [ErrTimeout]
// when d has passed on clock c (d <= 0: never). Use it for deadlines that
// must follow the run's clock: on a [SimClock] the deadline is in place when
// ClockTimeout returns, so the simulated time cannot jump past it. Call
// cancel when done.
func ClockTimeout(ctx context.Context, c Clock, d time.Duration) (context.Context, context.CancelFunc) {
	return clockTimeout(ctx, c, d)
}

// clockTimeout returns a context that is cancelled with cause [ErrTimeout]
// after d on clock c. d <= 0 means no timeout.
func clockTimeout(ctx context.Context, c Clock, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	sc, ok := c.(*SimClock)
	if !ok {
		ctx2, cancel := context.WithTimeoutCause(ctx, d, ErrTimeout)
		return ctx2, cancel
	}
	ctx2, cancel := context.WithCancelCause(ctx)
	// The timer is registered before clockTimeout returns, so that the
	// runner's own waits cannot let the clock jump past the deadline.
	stop := sc.afterFunc(ctx2, d, func() { cancel(ErrTimeout) })
	return ctx2, func() { stop(); cancel(context.Canceled) }
}
