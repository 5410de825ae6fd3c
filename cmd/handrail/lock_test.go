package main_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockRunbook does "first" (with a rollback), then waits in "wait" until
// the file go exists, then does "last"; each writes to the world file.
const lockRunbook = `runbook "lock-cli" {
  description = "Two steps around a wait, for the run lock tests"
  window      = "1h"
}

variable "dir" {
  type = string
}

provider "exec" "local" {}

step "local_exec" "first" {
  provider         = exec.local
  command          = ["sh", "-c", "echo first >> \"$0/world\"", var.dir]
  rollback_command = ["sh", "-c", "echo undo-first >> \"$0/world\"", var.dir]
}

step "local_exec" "wait" {
  provider   = exec.local
  read_only  = true
  idempotent = true
  command    = ["sh", "-c", "touch \"$0/inside\"; while [ ! -e \"$0/go\" ]; do sleep 0.05; done; echo wait >> \"$0/world\"", var.dir]
}

step "local_exec" "last" {
  provider  = exec.local
  read_only = true
  command   = ["sh", "-c", "echo last >> \"$0/world\"", var.dir]
}
`

// TestLockLostThroughTheCLI: a second apply is refused with the exact
// unlock command (absolute -state-dir, working from any directory); unlock
// refuses a live holder without -force; once forced, the holder notices,
// stops without compensating and exits 3, and the run resumes to its end.
func TestLockLostThroughTheCLI(t *testing.T) {
	dir := t.TempDir()
	rb := writeFile(t, dir, "lock.hcl", lockRunbook)
	world := filepath.Join(dir, "w")
	require.NoError(t, os.Mkdir(world, 0o755))
	absState := filepath.Join(dir, "state")

	first := exec.Command(bin, "apply", "lock.hcl", "-state-dir", "state", "-var", "dir="+world)
	first.Dir = dir
	first.Env = append(os.Environ(), "NO_COLOR=1")
	var fo, fe bytes.Buffer
	first.Stdout, first.Stderr = &fo, &fe
	// Its own process group, so that the cleanup also ends the commands
	// it started; and Wait does not wait for pipes they may hold.
	first.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	first.WaitDelay = 5 * time.Second
	require.NoError(t, first.Start())
	done := make(chan int, 1)
	go func() {
		err := first.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		done <- code
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-first.Process.Pid, syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	})
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(world, "inside"))
		return err == nil
	}, time.Minute, 20*time.Millisecond, "the first apply never reached its wait step: %s", &fe)

	// A second apply is refused, and told how to break the lock.
	r := run(t, dir, "apply", rb, "-state-dir", "state", "-var", "dir="+world)
	require.Equal(t, 3, r.code, r.stderr)
	assert.Contains(t, r.stderr, fmt.Sprintf("pid %d", first.Process.Pid))
	unlock := "handrail unlock lock-cli -state-dir " + absState
	require.Contains(t, r.stderr, unlock, "the exact unlock command, with an absolute state directory")

	// Pasted from another directory, unlock refuses: the holder is alive.
	elsewhere := t.TempDir()
	args := strings.Fields(unlock)[1:]
	r = run(t, elsewhere, args...)
	assert.Equal(t, 3, r.code, r.stderr)
	assert.Contains(t, r.stderr, "running on this machine")
	assert.Contains(t, r.stderr, "-force")

	r = run(t, elsewhere, append(args, "-force")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("pid %d", first.Process.Pid))

	// The holder notices, stops and needs a person; it compensates nothing.
	select {
	case code := <-done:
		assert.Equal(t, 3, code, "stdout: %s\nstderr: %s", &fo, &fe)
	case <-time.After(time.Minute):
		t.Fatalf("the holder did not stop when its lock was broken: %s", &fe)
	}
	assert.Contains(t, fe.String(), "lost its run lock")
	assert.Contains(t, fe.String(), "its lock file was removed")
	w, err := os.ReadFile(filepath.Join(world, "world"))
	require.NoError(t, err)
	assert.Equal(t, "first\n", string(w), "nothing compensated, nothing new started")

	// The run resumes to its end.
	m := regexp.MustCompile(`Run (\S+) STOPPED`).FindStringSubmatch(fe.String())
	require.NotNil(t, m, "the holder names its run: %s", &fe)
	id := m[1]
	require.NoError(t, os.WriteFile(filepath.Join(world, "go"), nil, 0o644))
	r = run(t, dir, "resume", id, "-state-dir", "state")
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	w, err = os.ReadFile(filepath.Join(world, "world"))
	require.NoError(t, err)
	assert.Equal(t, "first\nwait\nlast\n", string(w))
}
