//go:build unix

package steps

import (
	"os/exec"
	"syscall"
	"time"
)

// setProcessGroup starts the command in its own process group, so that a
// cancellation reaches every process it started: SIGTERM to the group,
// then SIGKILL after grace.
// When the command has exited (done is closed) after a cancellation, what
// is left of its group is killed at once.
func setProcessGroup(cmd *exec.Cmd, grace time.Duration, done <-chan struct{}) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		go func() {
			t := time.NewTimer(grace)
			defer t.Stop()
			select {
			case <-t.C:
			case <-done:
			}
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}()
		return nil
	}
	// Children that keep the output pipes open must not hold Wait forever.
	cmd.WaitDelay = grace + time.Second
}
