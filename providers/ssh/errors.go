package ssh

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrHostKey is wrapped by the error of a connection refused because
	// the host's key is unknown or differs from known_hosts.
	ErrHostKey = errors.New("ssh: host key verification failed")
	// ErrConnect is wrapped by errors connecting or authenticating.
	ErrConnect = errors.New("ssh: cannot connect")
	// ErrConnectionLost is wrapped by the error of a command whose
	// connection dropped while it ran: whether it completed is unknown.
	ErrConnectionLost = errors.New("ssh: connection lost while the command ran")
	// ErrExitStatus is wrapped by the error of a command that exited with
	// an unexpected status (see [ExitError]).
	ErrExitStatus = errors.New("ssh: unexpected exit status")
	// ErrInvalidCommand is wrapped by errors about a malformed command.
	ErrInvalidCommand = errors.New("ssh: invalid command")
	// ErrInvalidConfig is wrapped by errors about a malformed provider
	// configuration or action argument.
	ErrInvalidConfig = errors.New("ssh: invalid configuration")
	// ErrBatchFailed is wrapped by the error of a fan-out whose failures
	// passed max_fail_percentage.
	ErrBatchFailed = errors.New("ssh: batch failed")
)

// ExitError reports a command that exited with a status its step did not
// expect. It wraps [ErrExitStatus].
type ExitError struct {
	Host    string
	Command string
	Status  int
	// Signal is set when the command was killed by a signal ("KILL").
	Signal string
	// Stderr is the end of the command's standard error, redacted.
	Stderr string
}

// Error implements error.
func (e *ExitError) Error() string {
	s := fmt.Sprintf("%s: %s exited with status %d", e.Host, e.Command, e.Status)
	if e.Signal != "" {
		s = fmt.Sprintf("%s: %s killed by signal %s", e.Host, e.Command, e.Signal)
	}
	if e.Stderr != "" {
		s += ": " + e.Stderr
	}
	return s
}

// Unwrap returns ErrExitStatus.
func (e *ExitError) Unwrap() error { return ErrExitStatus }
