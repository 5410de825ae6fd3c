package journal

import (
	"errors"
	"os"
	"strings"
)

// ErrHolderAlive is wrapped by the error of a BreakLock that refused to
// break a lock whose holder is alive. Breaking it anyway (force) lets two
// runs act on one release.
var ErrHolderAlive = errors.New("journal: the run lock's holder is alive")

// BootID identifies this boot of the host (Linux boot_id), or "" where it
// is not known.
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// HolderAlive reports whether h is known to be alive: a process of this
// host (named host), of this boot, that is still running. A holder on
// another host, or of an earlier boot, is not known to be alive.
func HolderAlive(h Holder, host string) bool {
	if h.Host != host || h.PID <= 0 {
		return false
	}
	if b := BootID(); h.Boot != "" && b != "" && h.Boot != b {
		return false
	}
	return processRunning(h.PID)
}
