package runbook

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with [errors.Is].
var (
	// ErrInvalidPlan is wrapped by every plan validation error.
	ErrInvalidPlan = errors.New("runbook: invalid plan")
	// ErrTimeout is the cause of a node that ran past its timeout.
	ErrTimeout = errors.New("runbook: timeout")
	// ErrGateFailed is wrapped by the error of a gate that failed.
	ErrGateFailed = errors.New("runbook: gate failed")
	// ErrGateInconclusive is wrapped by the error of a gate whose samples
	// were inconclusive.
	ErrGateInconclusive = errors.New("runbook: gate inconclusive")
	// ErrDenied is wrapped by the error of an approval that was denied.
	ErrDenied = errors.New("runbook: approval denied")
	// ErrPanic is wrapped by the error of a step that panicked.
	ErrPanic = errors.New("runbook: panic")
	// ErrCancelled is the cause when a node was cancelled because another
	// node failed or the run was cancelled.
	ErrCancelled = errors.New("runbook: cancelled")
	// ErrPlanChanged is returned when a journal belongs to another plan.
	ErrPlanChanged = errors.New("runbook: plan changed since the run started")
	// ErrInDoubt is returned when a step found started but not finished in a
	// journal cannot be decided without a person.
	ErrInDoubt = errors.New("runbook: step in doubt")
	// ErrCompensationInDoubt is returned when a compensation found started
	// but not recorded as finished is not idempotent and nobody decided
	// whether to run it again. It wraps [ErrInDoubt].
	ErrCompensationInDoubt = fmt.Errorf("%w: compensation started, never recorded as finished", ErrInDoubt)
	// ErrNotRecorded is wrapped by the error of a rollback whose progress
	// the journal could not record: the run ends rollback_incomplete, never
	// rolled_back.
	ErrNotRecorded = errors.New("runbook: not recorded in the journal")
	// ErrNoApprover is returned when a decision is needed and the run has no
	// approver.
	ErrNoApprover = errors.New("runbook: no approver to ask")
	// ErrNothingToUndo is returned by Rollback for a run that was already
	// rolled back.
	ErrNothingToUndo = errors.New("runbook: nothing to undo")
	// ErrDecisionRefused is wrapped by the reason an approval's answer did
	// not count (see [ApprovalRequest.Admit]).
	ErrDecisionRefused = errors.New("runbook: decision refused")
	// ErrRunNotFound is returned by journals for an unknown run id.
	ErrRunNotFound = errors.New("runbook: run not found")
)

// StepError is the error of a node: it carries the node's name and attempt.
// Match it with [errors.As]; the cause is reachable with [errors.Unwrap].
type StepError struct {
	Node    string
	Attempt int
	Err     error
}

// Error implements error.
func (e *StepError) Error() string {
	if e.Attempt > 1 {
		return fmt.Sprintf("%s (attempt %d): %v", e.Node, e.Attempt, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Node, e.Err)
}

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not retryable: the executor fails the step without
// further attempts. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// [Permanent] or implements `Retryable() bool` returning false.
func IsPermanent(err error) bool {
	var p permanentError
	if errors.As(err, &p) {
		return true
	}
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return !r.Retryable()
	}
	return false
}
