// Package watch holds what the run locks of the file and PostgreSQL
// journals share: a lease that a goroutine checks at an interval until it is
// released or found lost, that is lost once (the first reason is kept), and
// that is released once.
package watch

import (
	"sync"
	"time"
)

// Lease is the shared half of a run lock's lease. Its Lost and Err methods
// implement those of runbook.Lease.
type Lease struct {
	lost chan struct{}
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	err      error
	released bool
}

// Start returns a lease whose check runs every interval until [Lease.Stop],
// or until check returns an error. That error loses the lease, unless Stop
// was called meanwhile (the failed check was then the release's own doing);
// afterLoss, if not nil, runs once the loss is recorded.
func Start(every time.Duration, check func() error, afterLoss func()) *Lease {
	l := &Lease{lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.watch(every, check, afterLoss)
	return l
}

func (l *Lease) watch(every time.Duration, check func() error, afterLoss func()) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		err := check()
		if err == nil {
			continue
		}
		select {
		case <-l.stop:
			return
		default:
		}
		l.MarkLost(err)
		if afterLoss != nil {
			afterLoss()
		}
		return
	}
}

// Lost is closed when the lease is lost.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err says why the lease was lost, or is nil.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// MarkLost records err as the reason the lease was lost and closes Lost;
// only the first reason is kept.
func (l *Lease) MarkLost(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	l.err = err
	close(l.lost)
}

// Stop ends the checks and waits for the checking goroutine to return. It
// reports false when the lease was stopped before: a lease is released
// once.
func (l *Lease) Stop() bool {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return false
	}
	l.released = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return true
}
