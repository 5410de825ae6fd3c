//go:build unix

package exec

import (
	osexec "os/exec"
	"syscall"
	"time"
)

// setProcessGroup starts the command in its own process group, so that a
// cancellation reaches every process it started: SIGTERM to the group,
// then SIGKILL after grace (at once when the leader has exited).
func setProcessGroup(cmd *osexec.Cmd, grace time.Duration, done <-chan struct{}) {
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
	cmd.WaitDelay = grace + time.Second
}
