//go:build unix

package main

import (
	"os"
	"syscall"
)

// minorFaults returns the minor page faults of a finished process.
func minorFaults(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Minflt)
	}
	return 0
}
