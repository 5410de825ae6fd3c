package console

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/handrail-dev/handrail/runbook"
)

// Broker is the run's [runbook.Approver] when the console is on: it asks
// the terminal (Next, if any) and takes answers from the console and from
// signed links at the same time. The first answer to arrive is given to the
// executor, which admits or refuses it ([runbook.ApprovalRequest.Admit]) and
// journals it either way; the terminal's question is withdrawn as soon as an
// answer arrives from elsewhere.
type Broker struct {
	// Next is asked too (the terminal); nil asks nobody else.
	Next runbook.Approver

	mu      sync.Mutex
	pending map[string]*question // by node
	decided map[string]runbook.Decision
}

type question struct {
	req     runbook.ApprovalRequest
	answers chan runbook.Decision
}

var (
	_ runbook.Approver        = (*Broker)(nil)
	_ runbook.DecisionRefuser = (*Broker)(nil)
	_ runbook.Observer        = (*Broker)(nil)
)

// ErrNotWaiting is returned by [Broker.Answer] when nothing waits for an
// answer on that node.
var ErrNotWaiting = errors.New("console: nothing waits for an answer there")

func (b *Broker) question(node string) *question {
	if b.pending == nil {
		b.pending = map[string]*question{}
	}
	q, ok := b.pending[node]
	if !ok {
		q = &question{answers: make(chan runbook.Decision, 16)}
		b.pending[node] = q
	}
	return q
}

// Approve implements runbook.Approver.
func (b *Broker) Approve(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
	b.mu.Lock()
	q := b.question(req.Node)
	q.req = req
	delete(b.decided, req.Node)
	b.mu.Unlock()
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	termErr := make(chan error, 1)
	if b.Next != nil {
		go func() {
			d, err := b.Next.Approve(tctx, req)
			if err != nil {
				termErr <- err
				return
			}
			if d.Via == "" {
				d.Via = "terminal"
			}
			select {
			case q.answers <- d:
			case <-tctx.Done():
			}
		}()
	}
	for {
		select {
		case d := <-q.answers:
			return d, nil
		case err := <-termErr:
			if tctx.Err() != nil {
				continue
			}
			// The terminal cannot answer (none, or closed): the console and
			// the links still can. Say so once, keep waiting.
			_ = err
		case <-ctx.Done():
			return runbook.Decision{}, context.Cause(ctx)
		}
	}
}

// Refused implements runbook.DecisionRefuser: the refusal is on the page
// already (an event); the question stays open.
func (b *Broker) Refused(runbook.ApprovalRequest, runbook.Decision, error) {}

// Observe implements runbook.Observer: an asked question is open from the
// moment it is announced (the links printed for it work at once, before the
// executor calls Approve), and a decided question is closed.
func (b *Broker) Observe(e runbook.Event) {
	if ev, ok := e.(runbook.ApprovalRequested); ok {
		b.mu.Lock()
		b.question(ev.Request.Node).req = ev.Request
		delete(b.decided, ev.Request.Node)
		b.mu.Unlock()
	}
	if ev, ok := e.(runbook.ApprovalDecided); ok {
		b.mu.Lock()
		delete(b.pending, ev.Node)
		if b.decided == nil {
			b.decided = map[string]runbook.Decision{}
		}
		b.decided[ev.Node] = ev.Decision
		b.mu.Unlock()
	}
}

// Waiting returns the request waiting on node, if any.
func (b *Broker) Waiting(node string) (runbook.ApprovalRequest, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q, ok := b.pending[node]
	if !ok || q.req.Node == "" {
		return runbook.ApprovalRequest{}, false
	}
	return q.req, true
}

// Answer gives d to the question waiting on node. It returns the reason
// the executor will refuse it (the answer is still passed on, so that the
// refusal is journaled), or an error wrapping [ErrNotWaiting].
func (b *Broker) Answer(node string, d runbook.Decision) error {
	b.mu.Lock()
	q, ok := b.pending[node]
	if !ok || q.req.Node == "" {
		prev, was := b.decided[node]
		b.mu.Unlock()
		if was {
			return fmt.Errorf("%w: %s was already decided by %s", ErrNotWaiting, node, prev.By)
		}
		return fmt.Errorf("%w: %s", ErrNotWaiting, node)
	}
	req := q.req
	b.mu.Unlock()
	admit := req.Admit(d)
	select {
	case q.answers <- d:
	default:
		return fmt.Errorf("console: too many answers at once for %s; try again", node)
	}
	return admit
}
