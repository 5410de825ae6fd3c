// Package leasetest runs two processes on one journal and takes the run
// lock away from the first mid-run, for the lease tests of every journal:
// the first must stop (exit 3, nothing compensated, nothing written once
// another process holds the lock) while the second resumes the run to its
// end, and the journal must show no interleaved writes.
package leasetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/runbook"
)

// Environment of the helper process.
const (
	// EnvMode is "apply" or "resume"; when set, the test binary runs [Main].
	EnvMode = "HANDRAIL_LEASE_MODE"
	// EnvWorld is the file the steps append their effects to.
	EnvWorld = "HANDRAIL_LEASE_WORLD"
	// EnvRelease is a file whose existence lets step s2 finish.
	EnvRelease = "HANDRAIL_LEASE_RELEASE"
	// EnvCheck is the lease check interval the helper opens its journal
	// with (a time.Duration).
	EnvCheck = "HANDRAIL_LEASE_CHECK"
)

// RunID is the run both processes work on; Key is its lock key.
const (
	RunID = "lease-run"
	Key   = "lease-release"
)

// Exit codes of the helper, as the CLI's.
const (
	ExitOK     = 0
	ExitFailed = 2
	ExitPerson = 3
	ExitLocked = 4
)

// effect appends a line to the world file.
func effect(line string) error {
	f, err := os.OpenFile(os.Getenv(EnvWorld), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s %d\n", line, os.Getpid())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Plan is s1 (with a rollback), then s2 (idempotent: it announces itself
// on out and waits for the release file), then s3.
func Plan(out io.Writer) (*runbook.Plan, error) {
	b := runbook.NewBuilder(Key)
	b.Step(runbook.Step{Name: "s1",
		Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			return nil, effect("do s1")
		}),
		Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(context.Context, *runbook.Env) error { return effect("undo s1") })}})
	b.Step(runbook.Step{Name: "s2", Idempotent: true, Irreversible: true,
		Action: runbook.ActionFunc(func(ctx context.Context, _ *runbook.Env) (runbook.Outputs, error) {
			fmt.Fprintln(out, "in s2")
			for {
				if _, err := os.Stat(os.Getenv(EnvRelease)); err == nil {
					return nil, effect("do s2")
				}
				select {
				case <-ctx.Done():
					return nil, context.Cause(ctx)
				case <-time.After(10 * time.Millisecond):
				}
			}
		})})
	b.Step(runbook.Step{Name: "s3", Irreversible: true,
		Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			return nil, effect("do s3")
		})})
	return b.Build()
}

// Main applies or resumes the run on j and returns the exit code.
func Main(j runbook.Journal, mode string, stdout, stderr io.Writer) int {
	p, err := Plan(stdout)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	ex := &runbook.Executor{Journal: j}
	ctx := context.Background()
	var res *runbook.Result
	if mode == "resume" {
		res, err = ex.Resume(ctx, p, RunID, runbook.RunOptions{})
	} else {
		res, err = ex.Run(ctx, p, runbook.RunOptions{RunID: RunID})
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
	}
	switch {
	case res == nil && errors.Is(err, journal.ErrLocked):
		return ExitLocked
	case res == nil:
		return ExitFailed
	case res.Status == runbook.StatusSucceeded:
		return ExitOK
	case res.Status.NeedsPerson():
		return ExitPerson
	}
	return ExitFailed
}

// CheckInterval reads EnvCheck (default: 50ms).
func CheckInterval() time.Duration {
	d, err := time.ParseDuration(os.Getenv(EnvCheck))
	if err != nil {
		return 50 * time.Millisecond
	}
	return d
}

// Harness is what a journal's test gives [Run].
type Harness struct {
	// Env is the environment that makes the test binary's TestMain open
	// the journal under test and call [Main].
	Env []string
	// Lose takes the run lock away from the process pid, which holds it
	// (ending its database session, or breaking its lock file).
	Lose func(t *testing.T, pid int)
	// Load returns the run's records.
	Load func(t *testing.T) []runbook.Record
}

// Proc is a helper process.
type Proc struct {
	Cmd    *exec.Cmd
	out    *bufio.Reader
	stderr *strings.Builder
	lines  chan string
	done   chan struct{}
	code   int
}

// start runs the helper in mode; its step s2 waits for the file release
// in dir.
func start(t *testing.T, h Harness, dir, mode, release string, check time.Duration) *Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), h.Env...), "GORACE=atexit_sleep_ms=0", EnvMode+"="+mode,
		EnvWorld+"="+filepath.Join(dir, "world"), EnvRelease+"="+filepath.Join(dir, release), EnvCheck+"="+check.String())
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &Proc{Cmd: cmd, out: bufio.NewReader(stdout), stderr: &strings.Builder{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	lines := make(chan string, 8)
	go func() {
		for {
			l, err := p.out.ReadString('\n')
			if err != nil {
				close(lines)
				break
			}
			lines <- strings.TrimSpace(l)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	p.lines = lines
	return p
}

// expect waits for a line of output.
func (p *Proc) expect(t *testing.T, want string, within time.Duration) {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		require.True(t, ok, "helper ended without printing %q: %s", want, p.stderr)
		require.Equal(t, want, l)
	case <-time.After(within):
		t.Fatalf("helper did not print %q within %s; stderr: %s", want, within, p.stderr)
	}
}

// wait waits for the exit code.
func (p *Proc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(within):
		t.Fatalf("helper still running after %s; stderr so far: %s", within, p.stderr)
	}
	return 0
}

// RunWatched: the first process's lease checks notice the loss; it stops
// within moments (exit 3, s2 cancelled, s1 not compensated) with a message
// saying the lock was lost, and the second process resumes the run to its
// end.
func RunWatched(t *testing.T, h Harness) {
	dir := t.TempDir()
	a := start(t, h, dir, "apply", "release-a", 50*time.Millisecond)
	a.expect(t, "in s2", time.Minute)
	h.Lose(t, a.Cmd.Process.Pid)
	require.Equal(t, ExitPerson, a.wait(t, 30*time.Second), "the holder stops when its lock is lost and needs a person; stderr: %s", a.stderr)
	assert.Contains(t, a.stderr.String(), "run lock of \""+Key+"\" lost")

	b := start(t, h, dir, "resume", "release-b", 50*time.Millisecond)
	b.expect(t, "in s2", time.Minute)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "release-b"), nil, 0o644))
	require.Equal(t, ExitOK, b.wait(t, time.Minute), "the second run resumes to the end; stderr: %s", b.stderr)
	checkJournal(t, h.Load(t), nil)
	world := readWorld(t, dir)
	assert.Equal(t, []string{
		fmt.Sprint("do s1 ", a.Cmd.Process.Pid),
		fmt.Sprint("do s2 ", b.Cmd.Process.Pid),
		fmt.Sprint("do s3 ", b.Cmd.Process.Pid),
	}, world, "the holder compensated nothing and did nothing after it lost the lock")
}

// RunFenced: the first process does not notice the loss in time (its lease
// checks are an hour apart), so only fencing stands between it and the
// journal. The second process takes the lock and resumes; when both are let
// go, the first one's appends are refused: it stops (exit 3) and the journal
// holds nothing it wrote after the second took the lock.
func RunFenced(t *testing.T, h Harness) {
	dir := t.TempDir()
	a := start(t, h, dir, "apply", "release-a", time.Hour)
	a.expect(t, "in s2", time.Minute)
	h.Lose(t, a.Cmd.Process.Pid)

	var b *Proc
	deadline := time.Now().Add(30 * time.Second)
	for {
		b = start(t, h, dir, "resume", "release-b", 50*time.Millisecond)
		l, ok := <-b.lines
		if ok {
			require.Equal(t, "in s2", l)
			break
		}
		// Refused while the lost session was still ending: try again.
		require.Equal(t, ExitLocked, b.wait(t, time.Minute), "stderr: %s", b.stderr)
		require.True(t, time.Now().Before(deadline), "the lock never came free: %s", b.stderr)
		time.Sleep(100 * time.Millisecond)
	}
	// The first process's s2 ends while the second holds the lock: its
	// next append is refused.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "release-a"), nil, 0o644))
	require.Equal(t, ExitPerson, a.wait(t, 30*time.Second), "the fenced-out holder stops and needs a person; stderr: %s", a.stderr)
	assert.Contains(t, a.stderr.String(), "run lock of \""+Key+"\" lost")
	assert.Contains(t, a.stderr.String(), fmt.Sprintf("now held by pid %d", b.Cmd.Process.Pid), "the message names the new holder")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "release-b"), nil, 0o644))
	require.Equal(t, ExitOK, b.wait(t, time.Minute), "the second run resumes to the end; stderr: %s", b.stderr)
	checkJournal(t, h.Load(t), []string{"node_started s2"})
	world := readWorld(t, dir)
	assert.NotContains(t, world, fmt.Sprint("do s3 ", a.Cmd.Process.Pid), "the fenced-out holder started nothing new")
	assert.NotContains(t, world, fmt.Sprint("undo s1 ", a.Cmd.Process.Pid), "the fenced-out holder compensated nothing")
	assert.Contains(t, world, fmt.Sprint("do s3 ", b.Cmd.Process.Pid))
}

// checkJournal asserts that the run's records are the first process's up
// to s2, then exactly the second process's resume — nothing interleaved.
// before, if not nil, is what the first process wrote after s1 (as
// "kind node").
func checkJournal(t *testing.T, recs []runbook.Record, before []string) {
	t.Helper()
	var got []string
	for _, r := range recs {
		s := string(r.Kind)
		if r.Node != "" {
			s += " " + r.Node
		}
		if r.Mode != "" {
			s += " " + r.Mode
		}
		if r.Status != "" {
			s += " " + string(r.Status)
		}
		got = append(got, s)
	}
	resumed := -1
	for i, s := range got {
		if s == "run_started resume" {
			resumed = i
			break
		}
	}
	require.GreaterOrEqual(t, resumed, 0, "no resume in %v", got)
	assert.Equal(t, []string{"run_started run", "node_started s1", "node_succeeded s1"}, got[:3], "the first process's records")
	if before != nil {
		assert.Equal(t, before, got[3:resumed], "the first process's records after s1")
	}
	assert.Equal(t, []string{"run_started resume", "node_started s2", "node_succeeded s2", "node_started s3", "node_succeeded s3", "run_finished succeeded"},
		got[resumed:], "after the second process took the lock, only it wrote (all records: %v)", got)
}

func readWorld(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "world"))
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}
