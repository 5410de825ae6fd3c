package runbooktest

import (
	"sync"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// Recorder is a [runbook.Observer] that records what a run did, in order:
// the nodes that started, completed, failed and were compensated, and every
// event. It is safe for concurrent use; the zero value is ready to use.
type Recorder struct {
	mu          sync.Mutex
	events      []runbook.Event
	started     []string
	seen        map[string]bool
	startedAt   map[string]time.Time
	completed   []string
	failed      []string
	compensated []string
	compFailed  []string
	retries     map[string]int
}

var _ runbook.Observer = (*Recorder)(nil)

// Observe records e.
func (r *Recorder) Observe(e runbook.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen, r.startedAt, r.retries = map[string]bool{}, map[string]time.Time{}, map[string]int{}
	}
	r.events = append(r.events, e)
	h := e.EventHeader()
	switch ev := e.(type) {
	case runbook.NodeStarted:
		if !r.seen[h.Node] {
			r.seen[h.Node] = true
			r.started = append(r.started, h.Node)
			r.startedAt[h.Node] = h.Time
		}
	case runbook.NodeSucceeded:
		r.completed = append(r.completed, h.Node)
	case runbook.NodeFailed:
		if ev.Final {
			r.failed = append(r.failed, h.Node)
		}
	case runbook.NodeRetrying:
		r.retries[h.Node]++
	case runbook.StepCompensated:
		r.compensated = append(r.compensated, h.Node)
	case runbook.CompensationFailed:
		if ev.Final {
			r.compFailed = append(r.compFailed, h.Node)
		}
	}
}

func (r *Recorder) list(l []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string{}, l...)
}

// Executed returns the nodes (steps and gates) that started, in the order
// they first started.
func (r *Recorder) Executed() []string { return r.list(r.started) }

// Completed returns the nodes that succeeded, in completion order.
func (r *Recorder) Completed() []string { return r.list(r.completed) }

// Failed returns the nodes that failed for good (after their retries), in
// order.
func (r *Recorder) Failed() []string { return r.list(r.failed) }

// Compensated returns the steps whose compensation succeeded, in the order
// they were compensated.
func (r *Recorder) Compensated() []string { return r.list(r.compensated) }

// CompensationFailed returns the steps whose compensation failed for good.
func (r *Recorder) CompensationFailed() []string { return r.list(r.compFailed) }

// Retries returns how often the node was retried.
func (r *Recorder) Retries(node string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.retries[node]
}

// StartedAt returns when the node first started (simulated time on a
// [runbook.SimClock]).
func (r *Recorder) StartedAt(node string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.startedAt[node]
	return t, ok
}

// Events returns every event, in the order observed.
func (r *Recorder) Events() []runbook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]runbook.Event(nil), r.events...)
}

// Kinds returns the kinds of the events observed for node ("" for run-wide
// events), in order.
func (r *Recorder) Kinds(node string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.EventHeader().Node == node {
			out = append(out, e.Kind())
		}
	}
	return out
}
