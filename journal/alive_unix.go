//go:build unix

package journal

import (
	"errors"
	"syscall"
)

// processRunning reports whether a process of this host exists.
func processRunning(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
