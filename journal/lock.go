package journal

import (
	"errors"
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// ErrLocked is wrapped by the error of a run lock that another run holds.
// Match it with [errors.Is]; [LockedError] carries the holder.
var ErrLocked = errors.New("journal: run lock held")

// ErrNotLocked is returned when breaking a lock that nobody holds.
var ErrNotLocked = errors.New("journal: run lock not held")

// Holder describes the process that holds a run lock.
type Holder struct {
	// Key is the lock's key (by default the runbook's name).
	Key string `json:"key"`
	// PID and Host identify the holding process.
	PID  int    `json:"pid"`
	Host string `json:"host"`
	// Started is when the lock was taken.
	Started time.Time `json:"started"`
	// Boot identifies the host's boot (Linux boot_id), so a lock left
	// before a reboot is known to be stale.
	Boot string `json:"boot,omitempty"`
	// Token distinguishes two acquisitions by the same process; appends
	// are fenced with it.
	Token string `json:"token,omitempty"`
	// Epoch is the file journal's fencing epoch: it grows with every
	// acquisition in a state directory, and every record appended under the
	// lock carries it.
	Epoch int64 `json:"epoch,omitempty"`
}

// String describes the holder for people.
func (h Holder) String() string {
	return fmt.Sprintf("pid %d on host %s since %s", h.PID, h.Host, h.Started.UTC().Format(time.RFC3339))
}

// LockedError is returned when a run lock is held by another run. It wraps
// [ErrLocked].
type LockedError struct {
	Holder Holder
	// Where names the lock (a file path or a database).
	Where string
	// Hint says what to do.
	Hint string
}

// Error implements error.
func (e *LockedError) Error() string {
	msg := fmt.Sprintf("journal: runbook %q is locked by another run (%s)", e.Holder.Key, e.Holder)
	if e.Where != "" {
		msg += " at " + e.Where
	}
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

// Unwrap returns [ErrLocked].
func (e *LockedError) Unwrap() error { return ErrLocked }

// LostError says that a run lock held by this process was lost: its
// database session ended, or its lock file was broken or replaced. It wraps
// [runbook.ErrLockLost].
type LostError struct {
	// Key is the lock's key.
	Key string
	// Where names the lock (a file path or a database).
	Where string
	// Reason says how the loss was noticed.
	Reason string
	// Holder is who holds the lock now; nil when nobody does (or it could
	// not be read).
	Holder *Holder
	// Cause is the underlying error, if any (a failed query).
	Cause error
}

// Error implements error.
func (e *LostError) Error() string {
	msg := fmt.Sprintf("journal: run lock of %q lost: %s", e.Key, e.Reason)
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	if e.Holder != nil {
		msg += "; it is now held by " + e.Holder.String()
	} else {
		msg += "; nobody holds it now"
	}
	if e.Where != "" {
		msg += " (" + e.Where + ")"
	}
	return msg
}

// Unwrap returns [runbook.ErrLockLost] and the cause.
func (e *LostError) Unwrap() []error {
	if e.Cause != nil {
		return []error{runbook.ErrLockLost, e.Cause}
	}
	return []error{runbook.ErrLockLost}
}
