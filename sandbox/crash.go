package sandbox

import (
	"context"
	"errors"
	"sync"

	"github.com/handrail-dev/handrail/runbook"
)

// CrashJournal simulates a process that dies once a node has completed
// (crash_after in a scenario, --crash-after in a rehearsal): the node's
// success is stored in the inner journal, and every later append blocks for
// ever — the process is gone, its goroutines never act on the world again.
// A new executor then resumes or rolls back the run from the inner journal.
type CrashJournal struct {
	inner   runbook.Journal
	node    string
	mu      sync.Mutex
	dead    bool
	crashed chan struct{}
}

var _ runbook.Journal = (*CrashJournal)(nil)

// NewCrashJournal returns a journal over inner that crashes once node
// succeeded; with node "" it never crashes.
func NewCrashJournal(inner runbook.Journal, node string) *CrashJournal {
	return &CrashJournal{inner: inner, node: node, crashed: make(chan struct{})}
}

// Append implements runbook.Journal.
func (c *CrashJournal) Append(ctx context.Context, recs ...runbook.Record) error {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		select {} // the process is gone
	}
	err := c.inner.Append(ctx, recs...)
	for _, r := range recs {
		if c.node != "" && r.Kind == runbook.RecNodeSucceeded && r.Node == c.node {
			c.dead = true
			close(c.crashed)
			break
		}
	}
	c.mu.Unlock()
	return err
}

// Load implements runbook.Journal.
func (c *CrashJournal) Load(ctx context.Context, run string) ([]runbook.Record, error) {
	return c.inner.Load(ctx, run)
}

// Crashed is closed when the crash happens.
func (c *CrashJournal) Crashed() <-chan struct{} { return c.crashed }

// HasCrashed reports whether the crash happened.
func (c *CrashJournal) HasCrashed() bool {
	select {
	case <-c.crashed:
		return true
	default:
		return false
	}
}

// ErrCrashed is returned by [CrashJournal.Run] when the crash happened.
var ErrCrashed = errors.New("sandbox: the process crashed as asked (crash after a node)")

// Run calls fn (a run writing to c) and returns its result, or (nil,
// [ErrCrashed]) as soon as the crash happens; fn's goroutines then stay
// blocked, as those of a dead process would.
func (c *CrashJournal) Run(fn func() (*runbook.Result, error)) (*runbook.Result, error) {
	type outcome struct {
		res *runbook.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := fn()
		done <- outcome{r, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-c.crashed:
		return nil, ErrCrashed
	}
}
