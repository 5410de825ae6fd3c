package crashworld

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
)

// Site is one world and one journal store, for one helper process chain.
type Site interface {
	// Env is what the helper process needs to open the journal (its
	// TestMain reads it).
	Env() []string
	// WorldPath is the world file.
	WorldPath() string
	// Open opens the journal in the test process, to inspect it.
	Open(t *testing.T) runbook.Journal
}

// Copier is implemented by sites that can copy themselves (world and
// journal) to a fresh site; the matrix then kills once per boundary and
// rolls back on the copy, instead of killing a second run.
type Copier interface {
	Copy(t *testing.T) Site
}

// NewSite makes a fresh, empty site.
type NewSite func(t *testing.T) Site

// Concurrency is how many crash points are tested at once: the processes
// mostly wait on fsync.
const Concurrency = 8

// helper runs the test binary as the crash helper on s. killed reports
// that it died by SIGKILL.
func helper(t *testing.T, s Site, mode string, sc Scenario, killAfter int64, killAfterEffect string) (rep Report, killed bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		// The race detector sleeps a second at exit by default.
		"GORACE=atexit_sleep_ms=0",
		EnvMode+"="+mode,
		EnvWorld+"="+s.WorldPath(),
		EnvScenario+"="+string(sc),
		fmt.Sprintf("%s=%d", EnvKillAfter, killAfter),
		EnvKillAfterEffect+"="+killAfterEffect,
	)
	cmd.Env = append(cmd.Env, s.Env()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return rep, true
		}
	}
	require.NoError(t, err, "helper %s: %s", mode, stderr.String())
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), "helper output %q", stdout.String())
	return rep, false
}

func replay(t *testing.T, s Site) *runbook.RunState {
	t.Helper()
	recs, err := s.Open(t).Load(context.Background(), RunID)
	require.NoError(t, err)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	return st
}

func readWorld(t *testing.T, s Site) State {
	t.Helper()
	w, err := Read(s.WorldPath())
	require.NoError(t, err)
	return w
}

// inDoubtWithEffect lists steps started, never finished, whose effect is in
// the world (possible only for parallel steps running when the process
// died).
func inDoubtWithEffect(st *runbook.RunState, w State) []string {
	var out []string
	for _, n := range st.InDoubt {
		if w.Do[n] > 0 {
			out = append(out, n)
		}
	}
	return out
}

// Matrix kills the helper process with SIGKILL right after every durable
// journal append of the release plan — every boundary, counted in an
// uninterrupted run, not sampled — in both scenarios, then resumes in a new
// process and, separately (on a copy, or a second site killed at the same
// boundary), rolls back in a new process. It returns the number of boundaries tested.
func Matrix(t *testing.T, newSite NewSite) int64 {
	var tested atomic.Int64
	for _, sc := range []Scenario{Success, Failure} {
		t.Run(string(sc), func(t *testing.T) {
			// The uninterrupted run: count the boundaries, keep the final
			// world.
			base := newSite(t)
			rep, killed := helper(t, base, "run", sc, 0, "")
			require.False(t, killed)
			total := rep.Appends
			require.Greater(t, total, int64(30), "boundaries of the uninterrupted run")
			final := readWorld(t, base)
			if sc == Success {
				require.Equal(t, runbook.StatusSucceeded, rep.Status, rep.Error)
				for name := range Steps() {
					require.Equal(t, 1, final.Do[name], "uninterrupted: %s ran once", name)
				}
			} else {
				require.Equal(t, runbook.StatusRolledBack, rep.Status, rep.Error)
				require.Equal(t, Initial().Values, final.Values, "uninterrupted failure rolls back to the initial world")
			}
			t.Logf("%s: %d journal boundaries in the uninterrupted run", sc, total)
			sem := make(chan struct{}, Concurrency)
			var wg sync.WaitGroup
			for n := int64(1); n <= total; n++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					// t.Run may be called from several goroutines.
					t.Run(fmt.Sprintf("kill_after_%03d", n), func(t *testing.T) {
						crashAt(t, newSite, sc, n, final)
						tested.Add(1)
					})
				}()
			}
			wg.Wait()
		})
	}
	t.Logf("crash matrix: %d boundaries tested, each resumed and rolled back in new processes", tested.Load())
	return tested.Load()
}

// crashAt kills a run at one boundary, then checks resume on the site and
// rollback on a copy of it (or on a second site killed at the same
// boundary).
func crashAt(t *testing.T, newSite NewSite, sc Scenario, n int64, final State) {
	idem := Steps()
	killed := func(t *testing.T) Site {
		s := newSite(t)
		_, killed := helper(t, s, "run", sc, n, "")
		require.True(t, killed, "the run must die by SIGKILL at boundary %d", n)
		return s
	}
	first := killed(t)
	var second Site
	if c, ok := first.(Copier); ok {
		second = c.Copy(t)
	}
	t.Run("resume", func(t *testing.T) {
		s := first
		atKill := replay(t, s)
		rep, killed := helper(t, s, "resume", sc, 0, "")
		require.False(t, killed)
		switch {
		case atKill.Status != "":
			// Killed after the last record: nothing left to resume.
			require.Contains(t, rep.Error, "nothing to resume")
		case sc == Success:
			require.Equal(t, runbook.StatusSucceeded, rep.Status, rep.Error)
		default:
			require.Equal(t, runbook.StatusRolledBack, rep.Status, rep.Error)
		}
		w := readWorld(t, s)
		assert.Equal(t, final.Values, w.Values, "final world after resume equals the uninterrupted run's")
		for name, idempotent := range idem {
			if !idempotent {
				assert.LessOrEqual(t, w.Do[name], 1, "non-idempotent %s ran at most once", name)
			}
			if sc == Success {
				assert.GreaterOrEqual(t, w.Do[name], 1, "%s ran", name)
				assert.Equal(t, 0, w.Undo[name], "%s not compensated", name)
			} else {
				assert.Equal(t, 1, w.Undo[name], "every completed step of the failed run compensated exactly once: %s", name)
			}
		}
	})
	t.Run("rollback", func(t *testing.T) {
		s := second
		if s == nil {
			s = killed(t)
		}
		atKill := replay(t, s)
		worldAtKill := readWorld(t, s)
		rep, killed := helper(t, s, "rollback", sc, 0, "")
		require.False(t, killed)
		if atKill.Status == runbook.StatusRolledBack {
			require.Contains(t, rep.Error, "already rolled back")
		} else {
			require.Equal(t, runbook.StatusRolledBack, rep.Status, rep.Error)
		}
		w := readWorld(t, s)
		completed := map[string]bool{}
		for _, name := range atKill.Succeeded {
			completed[name] = true
		}
		// A step in doubt whose effect happened is compensated too (the
		// operator answers "compensate"; "skip" when it changed nothing).
		for _, name := range inDoubtWithEffect(atKill, worldAtKill) {
			completed[name] = true
		}
		for name := range idem {
			if completed[name] {
				assert.Equal(t, 1, w.Undo[name], "completed step %s compensated exactly once", name)
			} else {
				assert.Equal(t, 0, w.Undo[name], "step %s never completed: not compensated", name)
			}
			assert.Equal(t, worldAtKill.Do[name], w.Do[name], "rollback runs no Do (%s)", name)
		}
		want, got := Initial().Values, w.Values
		assert.Equal(t, want, got, "world back to its initial state after rollback")
	})
}

// InDoubt kills the run right after the side effect of each step, before
// the executor journals it: the step is in doubt. Resume must re-run it if
// idempotent, and otherwise ask (the helper's operator looks at the world
// and answers "done"); nothing non-idempotent runs twice.
func InDoubt(t *testing.T, newSite NewSite) {
	base := newSite(t)
	rep, killed := helper(t, base, "run", Success, 0, "")
	require.False(t, killed)
	require.Equal(t, runbook.StatusSucceeded, rep.Status, rep.Error)
	final := readWorld(t, base)
	sem := make(chan struct{}, Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for name, idempotent := range Steps() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(name, func(t *testing.T) {
				s := newSite(t)
				_, killed := helper(t, s, "run", Success, 0, name)
				require.True(t, killed)
				require.Contains(t, replay(t, s).InDoubt, name)
				rep, killed := helper(t, s, "resume", Success, 0, "")
				require.False(t, killed)
				require.Equal(t, runbook.StatusSucceeded, rep.Status, rep.Error)
				w := readWorld(t, s)
				assert.Equal(t, final.Values, w.Values)
				if idempotent {
					assert.Equal(t, 2, w.Do[name], "idempotent %s ran again", name)
				} else {
					assert.Equal(t, 1, w.Do[name], "non-idempotent %s was not run twice", name)
				}
			})
		}()
	}
}

// RollbackInDoubt kills the run right after a step's side effect and rolls
// it back in a new process. The step is in doubt and its effect is in the
// world: Executor.Rollback asks the operator, who answers "compensate", and
// the world is restored.
func RollbackInDoubt(t *testing.T, newSite NewSite) {
	for _, name := range []string{"deploy_backend", "migrate"} {
		t.Run(name, func(t *testing.T) {
			s := newSite(t)
			_, killed := helper(t, s, "run", Success, 0, name)
			require.True(t, killed)
			rep, _ := helper(t, s, "rollback", Success, 0, "")
			assert.Equal(t, runbook.StatusRolledBack, rep.Status, rep.Error)
			assert.Equal(t, Initial().Values, readWorld(t, s).Values, "world back to its initial state")
		})
	}
}

// EditedResume aborts a run on a typo ([Typo]), then resumes it with the
// fixed plan ([Success]) in a new process, killed with SIGKILL right after
// every durable append of that resume; a third process resumes again with
// the fixed plan. Exactly once holds across the three processes: the world
// ends where an uninterrupted run ends, every non-idempotent step ran once,
// and the journal holds two plan versions (the second resume goes on with
// the version the first recorded). It returns the number of boundaries
// tested.
func EditedResume(t *testing.T, newSite NewSite) int64 {
	aborted := func(t *testing.T) Site {
		s := newSite(t)
		rep, killed := helper(t, s, "run", Typo, 0, "")
		require.False(t, killed)
		require.Equal(t, runbook.StatusAborted, rep.Status, rep.Error)
		return s
	}
	base := aborted(t)
	rep, killed := helper(t, base, "resume", Success, 0, "")
	require.False(t, killed)
	require.Equal(t, runbook.StatusSucceeded, rep.Status, rep.Error)
	final := readWorld(t, base)
	total := rep.Appends
	require.Greater(t, total, int64(5), "boundaries of the edited resume")
	var tested atomic.Int64
	sem := make(chan struct{}, Concurrency)
	var wg sync.WaitGroup
	for n := int64(1); n <= total; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(fmt.Sprintf("kill_after_%03d", n), func(t *testing.T) {
				s := aborted(t)
				_, killed := helper(t, s, "resume", Success, n, "")
				require.True(t, killed, "the edited resume must die by SIGKILL at boundary %d", n)
				atKill := replay(t, s)
				rep, killed := helper(t, s, "resume", Success, 0, "")
				require.False(t, killed)
				if atKill.Status != "" {
					require.Contains(t, rep.Error, "nothing to resume")
				} else {
					require.Equal(t, runbook.StatusSucceeded, rep.Status, rep.Error)
				}
				w := readWorld(t, s)
				assert.Equal(t, final.Values, w.Values, "final world equals the uninterrupted edited resume's")
				for name, idempotent := range Steps() {
					if !idempotent {
						assert.Equal(t, 1, w.Do[name], "non-idempotent %s ran exactly once", name)
					}
					assert.Equal(t, 0, w.Undo[name], "%s not compensated", name)
				}
				st := replay(t, s)
				require.Len(t, st.Versions, 2, "one new plan version, recorded by the resume that died")
				assert.Equal(t, runbook.StatusSucceeded, st.Status)
				tested.Add(1)
			})
		}()
	}
	wg.Wait()
	t.Logf("edited resume: %d boundaries tested, each resumed again in a new process", tested.Load())
	return tested.Load()
}
