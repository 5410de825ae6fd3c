//go:build !unix

package exec

import (
	osexec "os/exec"
	"time"
)

// setProcessGroup kills the process itself when ctx ends.
func setProcessGroup(cmd *osexec.Cmd, grace time.Duration, _ <-chan struct{}) {
	cmd.WaitDelay = grace
}
