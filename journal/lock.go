package journal

import (
	"errors"
	"fmt"
	"time"
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
	// Token distinguishes two acquisitions by the same process.
	Token string `json:"token,omitempty"`
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
