package runbook

import (
	"context"
	"errors"
	"log/slog"
)

// lock takes the run lock when the journal is a [Locker]. Without one it
// returns a nil lease. release releases the lease, logging a failure.
func (e *Executor) lock(ctx context.Context, p *Plan, opts RunOptions) (lease Lease, release func(), err error) {
	l, ok := e.Journal.(Locker)
	if !ok {
		return nil, func() {}, nil
	}
	key := opts.LockKey
	if key == "" {
		key = p.Name
	}
	lease, err = l.Lock(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	return lease, func() {
		if err := lease.Release(); err != nil {
			e.logf(slog.LevelWarn, "releasing run lock", "key", key, "error", err)
		}
	}, nil
}

// hold makes the run append under lease (fenced, when the journal is a
// [FencedJournal]) and stop when the lease is lost: the scheduler starts
// nothing new and cancels what is in flight (see forward), a rollback stops
// after the compensation in progress (through StopRollback), and the run
// ends interrupted (see result). The returned function stops watching.
func (r *run) hold(lease Lease) (stop func()) {
	if lease == nil {
		return func() {}
	}
	r.lease = lease
	r.lostCh = make(chan struct{})
	user := r.opts.StopRollback
	merged := make(chan struct{})
	if user == nil {
		// No other stop: the lease's own channel stops a rollback at once.
		r.opts.StopRollback = lease.Lost()
	} else {
		r.opts.StopRollback = merged
	}
	done := make(chan struct{})
	go func() {
		closed := false
		closeMerged := func() {
			if !closed {
				closed = true
				close(merged)
			}
		}
		for {
			select {
			case <-lease.Lost():
				err := lease.Err()
				if err == nil {
					err = ErrLockLost
				}
				r.setLost(err, false)
				closeMerged()
				return
			case <-user:
				closeMerged()
				user = nil
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// setLost records that the run lock was lost; err wraps [ErrLockLost]. The
// first error is kept unless replace: a refused append's error replaces it,
// as it names the lock's new holder.
func (r *run) setLost(err error, replace bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lostErr == nil || replace {
		r.lostErr = err
	}
	if r.lostCh != nil && !r.lostClosed {
		r.lostClosed = true
		close(r.lostCh)
	}
}

// lockLost returns why the run lock was lost, or nil. It asks the lease
// too, so that a loss is seen at once, before the watcher recorded it.
func (r *run) lockLost() error {
	r.mu.Lock()
	err, lease := r.lostErr, r.lease
	r.mu.Unlock()
	if err != nil || lease == nil {
		return err
	}
	select {
	case <-lease.Lost():
		err = lease.Err()
		if err == nil {
			err = ErrLockLost
		}
		r.setLost(err, false)
		return r.lockLost()
	default:
		return nil
	}
}

// append writes recs, fenced by the run's lease when it has one.
func (r *run) append(ctx context.Context, recs []Record) error {
	var err error
	if fj, ok := r.j.(FencedJournal); ok && r.lease != nil {
		err = fj.AppendFenced(ctx, r.lease, recs...)
	} else {
		err = r.j.Append(ctx, recs...)
	}
	if err != nil && errors.Is(err, ErrLockLost) {
		r.setLost(err, true)
	}
	return err
}

// lostResult turns the end of a run whose lock was lost into an
// interrupted run that needs a person: nothing more was started or
// compensated, and pending names what is left to undo.
func (r *run) lostResult(status Status, pending []string) (Status, []string) {
	lost := r.lockLost()
	if lost == nil {
		return status, pending
	}
	if status == StatusSucceeded {
		pending = r.pendingNames(r.compensationOrder())
	}
	err := lost
	if r.failErr != nil && !errors.Is(r.failErr, ErrLockLost) {
		err = &lostRunError{lost: lost, before: r.failErr}
	}
	r.failErr = err
	return StatusInterrupted, pending
}

// lostRunError is a run that had failed, then lost its lock before it
// could compensate.
type lostRunError struct {
	lost, before error
}

func (e *lostRunError) Error() string {
	return e.lost.Error() + " (the run had failed before: " + e.before.Error() + ")"
}

func (e *lostRunError) Unwrap() []error { return []error{e.lost, e.before} }
