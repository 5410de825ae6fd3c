package filejournal_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/runbook"
)

// Environment of the lock helper process.
const (
	envLockHelper = "HANDRAIL_FILEJOURNAL_LOCK_HELPER" // hold, try or apply
	envLockKey    = "HANDRAIL_FILEJOURNAL_LOCK_KEY"
	envLockHost   = "HANDRAIL_FILEJOURNAL_HOST"
)

const exitLocked = 3

// lockHelper holds a lock until stdin closes (hold), tries it once (try), or
// applies a plan whose only step waits for stdin to close (apply).
func lockHelper() int {
	j, err := filejournal.Open(os.Getenv(envStateDir), &filejournal.Options{Host: os.Getenv(envLockHost)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer j.Close()
	ctx := context.Background()
	key := os.Getenv(envLockKey)
	exit := func(err error) int {
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, journal.ErrLocked) {
			return exitLocked
		}
		return 2
	}
	switch os.Getenv(envLockHelper) {
	case "hold", "try":
		unlock, err := j.Lock(ctx, key)
		if err != nil {
			return exit(err)
		}
		fmt.Println("locked")
		if os.Getenv(envLockHelper) == "hold" {
			_, _ = io.Copy(io.Discard, os.Stdin)
		}
		if err := unlock.Release(); err != nil {
			return exit(err)
		}
		fmt.Println("unlocked")
		return 0
	case "apply":
		b := runbook.NewBuilder(key)
		b.Step(runbook.Step{Name: "hold", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			fmt.Println("locked")
			_, _ = io.Copy(io.Discard, os.Stdin)
			return runbook.Outputs{"done": true}, nil
		})})
		p, err := b.Build()
		if err != nil {
			return exit(err)
		}
		ex := &runbook.Executor{Journal: j}
		res, err := ex.Run(ctx, p, runbook.RunOptions{RunID: "apply-" + fmt.Sprint(os.Getpid())})
		if err != nil {
			return exit(err)
		}
		fmt.Println(res.Status)
		return 0
	}
	return 2
}

type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *strings.Builder
}

func startHelper(t *testing.T, dir, mode, key, host string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", envLockHelper+"="+mode, envLockKey+"="+key,
		envStateDir+"="+dir, envLockHost+"="+host)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &proc{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return p
}

func (p *proc) expect(t *testing.T, line string) {
	t.Helper()
	got, err := p.out.ReadString('\n')
	require.NoError(t, err, "helper stderr: %s", p.stderr)
	require.Equal(t, line, strings.TrimSpace(got))
}

func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	rest, _ := io.ReadAll(p.out)
	err := p.cmd.Wait()
	_ = rest
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

// TestLockTwoProcesses: a second process is refused the lock with the
// holder's pid, host and start time; the first keeps it and releases it.
func TestLockTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	host, err := os.Hostname()
	require.NoError(t, err)
	a := startHelper(t, dir, "hold", "release-2@production", "")
	a.expect(t, "locked")

	j := open(t, dir, nil)
	_, err = j.Lock(context.Background(), "release-2@production")
	require.Error(t, err)
	var le *journal.LockedError
	require.True(t, errors.As(err, &le), "got %v", err)
	assert.Equal(t, a.cmd.Process.Pid, le.Holder.PID)
	assert.Equal(t, host, le.Holder.Host)
	assert.WithinDuration(t, time.Now(), le.Holder.Started, time.Minute)
	assert.Contains(t, err.Error(), fmt.Sprintf("pid %d on host %s", a.cmd.Process.Pid, host))
	assert.Contains(t, err.Error(), "BreakLock")

	c := startHelper(t, dir, "try", "release-2@production", "")
	assert.Equal(t, exitLocked, c.exitCode(t))
	assert.Contains(t, c.stderr.String(), fmt.Sprintf("pid %d", a.cmd.Process.Pid))

	// The holder is unharmed and releases normally.
	require.NoError(t, a.stdin.Close())
	a.expect(t, "unlocked")
	assert.Equal(t, 0, a.exitCode(t))
	unlock, err := j.Lock(context.Background(), "release-2@production")
	require.NoError(t, err)
	require.NoError(t, unlock.Release())
}

// TestLockStaleTakeover: a holder killed with SIGKILL on this host leaves a
// lock file that the next run takes over.
func TestLockStaleTakeover(t *testing.T) {
	dir := t.TempDir()
	a := startHelper(t, dir, "hold", "release-2", "")
	a.expect(t, "locked")
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
	_ = a.cmd.Wait()
	j := open(t, dir, nil)
	h, held, err := j.LockHolder("release-2")
	require.NoError(t, err)
	require.True(t, held, "the lock file is left behind")
	assert.Equal(t, a.cmd.Process.Pid, h.PID)
	unlock, err := j.Lock(context.Background(), "release-2")
	require.NoError(t, err, "a lock whose holder died on this host is stale")
	require.NoError(t, unlock.Release())
}

// TestLockOtherHostNeedsBreak: a lock from another host cannot be proven
// stale; it is broken deliberately, and its holder's unlock then says so.
func TestLockOtherHostNeedsBreak(t *testing.T) {
	dir := t.TempDir()
	a := startHelper(t, dir, "hold", "release-2", "build-07")
	a.expect(t, "locked")
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
	_ = a.cmd.Wait()
	j := open(t, dir, nil)
	_, err := j.Lock(context.Background(), "release-2")
	require.True(t, errors.Is(err, journal.ErrLocked), "got %v", err)
	assert.Contains(t, err.Error(), "host build-07")
	h, err := j.BreakLock(context.Background(), "release-2", false)
	require.NoError(t, err)
	assert.Equal(t, "build-07", h.Host)
	assert.Equal(t, a.cmd.Process.Pid, h.PID)
	unlock, err := j.Lock(context.Background(), "release-2")
	require.NoError(t, err)
	require.NoError(t, unlock.Release())
	_, err = j.BreakLock(context.Background(), "release-2", false)
	assert.True(t, errors.Is(err, journal.ErrNotLocked), "got %v", err)

	// Breaking a live holder's lock: its unlock reports it.
	other := open(t, dir, &filejournal.Options{Host: "build-08"})
	unlock, err = other.Lock(context.Background(), "release-2")
	require.NoError(t, err)
	_, err = j.BreakLock(context.Background(), "release-2", false)
	require.NoError(t, err)
	assert.ErrorContains(t, unlock.Release(), "was broken")
}

// TestApplyTwoProcesses: a second apply of the same runbook is refused while
// the first, in another process, goes on unharmed to success.
func TestApplyTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	a := startHelper(t, dir, "apply", "release-2", "")
	a.expect(t, "locked")
	b := startHelper(t, dir, "apply", "release-2", "")
	assert.Equal(t, exitLocked, b.exitCode(t), "second apply: %s", b.stderr)
	assert.Contains(t, b.stderr.String(), fmt.Sprintf("pid %d", a.cmd.Process.Pid))
	require.NoError(t, a.stdin.Close())
	a.expect(t, string(runbook.StatusSucceeded))
	assert.Equal(t, 0, a.exitCode(t))
	j := open(t, dir, nil)
	runs, err := j.Runs(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{fmt.Sprintf("apply-%d", a.cmd.Process.Pid)}, runs, "the refused apply wrote no run")
	s, err := journal.Show(context.Background(), j, runs[0], nil)
	require.NoError(t, err)
	assert.Equal(t, string(runbook.StatusSucceeded), s.State)
}
