//go:build !unix

package filejournal

import "os"

// tryFlock is a no-op where flock does not exist: the lock file's O_EXCL
// creation still keeps two runs apart, only the take-over of a stale lock
// is not serialized.
func tryFlock(*os.File) (bool, error) { return true, nil }

func unflock(*os.File) {}

// processAlive cannot tell here: a lock is never presumed stale, break it
// with BreakLock.
func processAlive(int) bool { return true }
