//go:build !unix

package steps

import (
	"os/exec"
	"time"
)

func setProcessGroup(cmd *exec.Cmd, grace time.Duration, _ <-chan struct{}) {
	cmd.WaitDelay = grace
}
