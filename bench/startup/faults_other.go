//go:build !unix

package main

import "os"

// minorFaults is 0 where the operating system does not report page faults
// of a child process.
func minorFaults(*os.ProcessState) int64 { return 0 }
