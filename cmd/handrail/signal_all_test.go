package main_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// manualSteps is a runbook of n manual tasks, one after the other: long to
// compile, plan, draw and report when n is large.
func manualSteps(name string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "runbook %q {\n  description = \"many steps\"\n  window      = \"24h\"\n}\n\nprovider \"manual\" \"team\" {}\n", name)
	for i := range n {
		fmt.Fprintf(&b, "\nstep \"manual_task\" \"s%d\" {\n  message = \"Task %d of a long runbook: check the dashboard and the logs of service %d\"\n  budget  = \"1m\"\n}\n", i, i, i)
	}
	return b.String()
}

// stopsOn starts handrail with args in dir, waits until ready says the
// command is busy with its long input, sends sig, and checks that the
// command stopped — exit 130, "Interrupted." — before it finished
// (unfinished says so from its output). With cancellable, it must stop
// through its context, not by the hard stop that ends work which cannot be
// interrupted (compiling one huge runbook) 2 s after the signal.
func stopsOn(t *testing.T, sig os.Signal, dir string, cancellable bool, ready func(*started) bool, unfinished func(*started) bool, args ...string) {
	t.Helper()
	s := start(t, dir, args...)
	deadline := time.Now().Add(60 * time.Second)
	for !ready(s) {
		select {
		case <-s.done:
			t.Fatalf("handrail %s ended (%d) before it could be interrupted: make its input longer\nstdout:\n%.2000s\nstderr:\n%.2000s", args[0], s.code, s.stdout, s.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("handrail %s never got busy", args[0])
		}
	}
	require.NoError(t, s.cmd.Process.Signal(sig))
	code := s.wait(t, 30*time.Second)
	assert.Equal(t, 130, code, "stderr:\n%s", s.stderr)
	assert.Contains(t, s.stderr.String(), "Interrupted.")
	if cancellable {
		assert.NotContains(t, s.stderr.String(), "exiting now", "the command stopped on its own, not by the hard stop")
	}
	assert.True(t, unfinished(s), "%s ran to the end despite the signal:\nstdout:\n%.2000s", args[0], s.stdout)
}

// TestSignalsStopEveryCommand: Ctrl-C and SIGTERM stop validate, plan,
// graph, test and report on long inputs (before, only apply, resume and
// rollback read them).
func TestSignalsStopEveryCommand(t *testing.T) {
	dir := t.TempDir()
	// validate and test: many files, one line each on stdout.
	many := filepath.Join(dir, "many")
	require.NoError(t, os.Mkdir(many, 0o755))
	const files = 400
	for i := range files {
		writeFile(t, many, fmt.Sprintf("r%03d.hcl", i), manualSteps(fmt.Sprintf("r%d", i), 40))
		writeFile(t, many, fmt.Sprintf("r%03d.test.hcl", i), "scenario \"goes\" {\n  expect {\n    status = \"succeeded\"\n  }\n}\n")
	}
	lines := func(s *started) int { return strings.Count(s.stdout.String(), "\n") }
	printedOne := func(s *started) bool { return lines(s) >= 1 }
	notAll := func(s *started) bool { return lines(s) < files }
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run("validate "+sig.String(), func(t *testing.T) {
			stopsOn(t, sig, dir, true, printedOne, notAll, "validate", many)
		})
		t.Run("test "+sig.String(), func(t *testing.T) {
			stopsOn(t, sig, dir, true, printedOne, notAll, "test", many)
		})
	}

	// plan and graph: one runbook long to compile. Busy means started: the
	// signal lands while it compiles, and nothing is printed.
	big := writeFile(t, dir, "big.hcl", manualSteps("big", 6000))
	// Busy: it has spent 100 ms of CPU, past its start (where the signal
	// handler is installed) and into the work.
	busy := func(s *started) bool { return cpuTime(t, s.cmd.Process.Pid) >= 100*time.Millisecond }
	nothing := func(s *started) bool { return s.stdout.String() == "" }
	t.Run("plan", func(t *testing.T) { stopsOn(t, os.Interrupt, dir, false, busy, nothing, "plan", big) })
	t.Run("graph", func(t *testing.T) { stopsOn(t, syscall.SIGTERM, dir, false, busy, nothing, "graph", big) })

	// report: a rehearsal of a long runbook, then its report.
	long := writeFile(t, dir, "long.hcl", manualSteps("long", 2500))
	r := run(t, dir, "apply", "--sandbox", long, "-json")
	require.Equal(t, 0, r.code, "%.2000s", r.stderr)
	id := onlyRun(t, dir, filepath.Join(dir, ".handrail", "sandbox"))
	out := filepath.Join(dir, "report.html")
	t.Run("report", func(t *testing.T) {
		stopsOn(t, os.Interrupt, dir, false, busy, func(*started) bool {
			_, err := os.Stat(out)
			return os.IsNotExist(err)
		}, "report", id, "-o", out)
	})
}

// cpuTime is the CPU time (user and system) a process has used so far, from
// /proc (these end-to-end tests run on Linux).
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0 // exited: the caller sees it
	}
	// The command name (field 2) may hold spaces: fields count from its ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	require.Greater(t, len(f), 13, "unexpected /proc/%d/stat: %s", pid, b)
	utime, err1 := strconv.Atoi(f[11])
	stime, err2 := strconv.Atoi(f[12])
	require.NoError(t, errors.Join(err1, err2))
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(utime+stime) * tick
}
