//go:build !unix

package journal

// processRunning cannot tell here: a process is presumed running.
func processRunning(int) bool { return true }
