package steps_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
	"github.com/handrail-dev/handrail/steps"
)

// lines collects OutputLine events.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (c *lines) Observe(e runbook.Event) {
	if ol, ok := e.(runbook.OutputLine); ok {
		c.mu.Lock()
		c.l = append(c.l, ol.Stream+": "+ol.Line)
		c.mu.Unlock()
	}
}

func (c *lines) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.l...)
}

func run(t *testing.T, a runbook.Action, opts ...runbooktest.Option) (*runbooktest.Harness, *lines) {
	t.Helper()
	p, err := runbook.NewBuilder("steps").Step(runbook.Step{Name: "s", Action: a, Irreversible: true}).Build()
	require.NoError(t, err)
	l := &lines{}
	h := runbooktest.New(t, p, append(opts, runbooktest.WithObserver(l))...)
	h.Run()
	return h, l
}

func TestExec(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		action *steps.ExecAction
		ok     bool
		stdout string
		stderr string
		code   int
		lines  []string
		errHas string
	}{
		{"argv, no shell: nothing is expanded", steps.Exec([]string{"echo", "$HOME", "a;b"}), true, "$HOME a;b\n", "", 0,
			[]string{"stdout: $HOME a;b"}, ""},
		{"shell when asked", steps.Shell("echo one; echo two >&2; echo three"), true, "one\nthree\n", "two\n", 0,
			nil, ""},
		{"environment", steps.Exec([]string{"sh", "-c", "echo $GREETING"}, steps.Env("GREETING=hello")), true, "hello\n", "", 0,
			[]string{"stdout: hello"}, ""},
		{"clean environment", steps.Exec([]string{"sh", "-c", "echo ${HOME:-none}"}, steps.CleanEnv()), true, "none\n", "", 0,
			nil, ""},
		{"working directory", steps.Exec([]string{"pwd"}, steps.Dir(dir)), true, dir + "\n", "", 0, nil, ""},
		{"exit code in the error", steps.Shell("echo migrating; echo 'migration 016 failed' >&2; exit 3"), false, "migrating\n", "migration 016 failed\n", 3,
			[]string{"stdout: migrating", "stderr: migration 016 failed"}, "/bin/sh exited with status 3: migration 016 failed"},
		{"output capped, end kept", steps.Shell("printf '0123456789abcdef'", steps.OutputLimit(6)), true, "abcdef", "", 0,
			[]string{"stdout: 0123456789abcdef"}, ""},
		{"missing program", steps.Exec([]string{"/nonexistent/tool"}), false, "", "", -1, nil, "exec /nonexistent/tool"},
		{"empty command", steps.Exec(nil), false, "", "", 0, nil, "empty command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, l := run(t, tc.action)
			nr := h.Result.Nodes["s"]
			if tc.ok {
				h.AssertStatus(runbook.StatusSucceeded)
				assert.Equal(t, tc.stdout, nr.Outputs["stdout"])
				assert.Equal(t, tc.stderr, nr.Outputs["stderr"])
				assert.Equal(t, tc.code, nr.Outputs["exit_code"])
			} else {
				h.AssertStatus(runbook.StatusRolledBack)
				assert.ErrorContains(t, h.Err, tc.errHas)
			}
			if tc.code > 0 {
				var ee *steps.ExitError
				require.ErrorAs(t, h.Err, &ee)
				assert.Equal(t, tc.code, ee.Code)
			}
			if tc.lines != nil {
				// stdout and stderr are read concurrently: only the order
				// within each stream is defined.
				assert.ElementsMatch(t, tc.lines, l.get())
			}
		})
	}
}

func TestExecSecretEnvIsRedacted(t *testing.T) {
	tok := runbook.NewSecret("s3cr3t-token")
	h, l := run(t, steps.Exec([]string{"sh", "-c", "echo token=$TOKEN; echo bad $TOKEN >&2; exit 1"}, steps.SecretEnv("TOKEN", tok)))
	h.AssertStatus(runbook.StatusRolledBack)
	for _, line := range l.get() {
		assert.NotContains(t, line, "s3cr3t")
	}
	assert.Contains(t, l.get(), "stdout: token=(sensitive)")
	assert.NotContains(t, h.Err.Error(), "s3cr3t")
	for _, ev := range h.Recorder.Events() {
		b, err := runbook.MarshalEvent(ev)
		require.NoError(t, err)
		assert.NotContains(t, string(b), "s3cr3t")
	}
}

func TestExecKillsProcessGroupOnCancel(t *testing.T) {
	tests := []struct {
		name   string
		script string
	}{
		{"SIGTERM ends the group", "sleep 60 & echo $! > %s; wait"},
		{"SIGKILL after the grace period when SIGTERM is ignored", "trap '' TERM; sleep 60 & echo $! > %s; wait"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "child.pid")
			// The shell starts a grandchild and waits: cancelling must end both.
			a := steps.Exec([]string{"sh", "-c", fmt.Sprintf(tc.script, pidFile)}, steps.KillGrace(200*time.Millisecond))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				for {
					if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
						time.Sleep(20 * time.Millisecond)
						cancel()
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
			start := time.Now()
			h, _ := run(t, a, runbooktest.WithContext(ctx))
			assert.Less(t, time.Since(start), 5*time.Second)
			h.AssertStatus(runbook.StatusRolledBack)
			h.AssertErrorIs(context.Canceled)
			b, err := os.ReadFile(pidFile)
			require.NoError(t, err)
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			require.NoError(t, err)
			assert.Eventually(t, func() bool { return !alive(pid) }, 3*time.Second, 10*time.Millisecond, "grandchild %d still alive", pid)
		})
	}
}

func TestExecTimeoutOnRealClock(t *testing.T) {
	p, err := runbook.NewBuilder("timeout").Step(runbook.Step{Name: "slow", Irreversible: true, Timeout: 100 * time.Millisecond,
		Action: steps.Exec([]string{"sleep", "30"}, steps.KillGrace(100*time.Millisecond))}).Build()
	require.NoError(t, err)
	start := time.Now()
	res, err := (&runbook.Executor{}).Run(context.Background(), p, runbook.RunOptions{})
	assert.Less(t, time.Since(start), 5*time.Second)
	require.Error(t, err)
	assert.ErrorIs(t, err, runbook.ErrTimeout)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
}

func TestExecAsRollbackAndDescription(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "maintenance.conf")
	on := steps.Exec([]string{"touch", flag})
	off := steps.Exec([]string{"rm", "-f", flag})
	p, err := runbook.NewBuilder("maint").
		Step(runbook.Step{Name: "maintenance_on", Action: on, Rollbacks: []runbook.Rollback{off}}).
		Step(runbook.Step{Name: "fails", Action: steps.Exec([]string{"false"}), Irreversible: true}).
		Build()
	require.NoError(t, err)
	h := runbooktest.New(t, p)
	h.Run()
	h.AssertStatus(runbook.StatusRolledBack)
	h.AssertCompensated("maintenance_on")
	assert.NoFileExists(t, flag)
	assert.Contains(t, p.Dump(), `action local exec "touch `+flag+`"`)
	assert.Contains(t, p.Dump(), `rollback[0] local exec "rm -f `+flag+`"`)
	assert.Equal(t, runbook.Description{Provider: "local", Action: "shell", Summary: "echo hi"}, steps.Shell("echo hi").Describe())
	assert.Equal(t, "deploy.sh", steps.Exec([]string{"./deploy.sh", "--token", "x"}, steps.Summary("deploy.sh")).Describe().Summary)
	assert.True(t, steps.Exec([]string{"curl", "-f", "http://x"}, steps.ReadOnly()).ReadOnly())
	assert.False(t, on.ReadOnly())
}

func TestSleep(t *testing.T) {
	h, _ := run(t, steps.Sleep(2*time.Minute))
	h.AssertStatus(runbook.StatusSucceeded)
	assert.Equal(t, 2*time.Minute, h.Elapsed())
	assert.True(t, steps.Sleep(time.Second).ReadOnly())
	h, _ = run(t, steps.Sleep(-time.Second))
	h.AssertStatus(runbook.StatusRolledBack)
}

func TestManual(t *testing.T) {
	items := []string{"Staging environment tested and verified", "Database backup verified (within last 24 hours)"}
	tests := []struct {
		name     string
		approver runbook.Approver
		status   runbook.Status
		errIs    error
	}{
		{"confirmed", runbooktest.NewApprover().GrantBy("check_1", "alice").GrantBy("check_2", "bob"), runbook.StatusSucceeded, nil},
		{"declined", runbooktest.NewApprover().Deny("check_2", "bob", "backup is 30h old"), runbook.StatusRolledBack, steps.ErrNotConfirmed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := runbook.NewBuilder("checklist")
			for _, s := range steps.Checklist("check", items...) {
				b.Step(s)
			}
			p, err := b.Build()
			require.NoError(t, err, "manual confirmations are read-only: no rollback needed")
			h := runbooktest.New(t, p, runbooktest.WithApprover(tc.approver))
			h.Run()
			h.AssertStatus(tc.status)
			a := tc.approver.(*runbooktest.Approver)
			require.NotEmpty(t, a.Asked())
			assert.Equal(t, "manual", a.Asked()[0].Kind)
			assert.Equal(t, items[0], a.Asked()[0].Message)
			if tc.errIs != nil {
				h.AssertErrorIs(tc.errIs)
				assert.ErrorContains(t, h.Err, "backup is 30h old")
				assert.Equal(t, 1, h.Result.Nodes["check_2"].Attempts, "a declined task is not retried")
			} else {
				assert.Equal(t, "bob", h.Result.Nodes["check_2"].Outputs["confirmed_by"])
			}
		})
	}
	t.Run("no approver", func(t *testing.T) {
		p, err := runbook.NewBuilder("m").Step(runbook.Step{Name: "m", Action: steps.Manual("confirm")}).Build()
		require.NoError(t, err)
		_, err = (&runbook.Executor{Clock: runbook.NewSimClock(time.Now())}).Run(context.Background(), p, runbook.RunOptions{})
		assert.ErrorIs(t, err, runbook.ErrNoApprover)
	})
	assert.False(t, steps.Manual("flip the switch", steps.ChangesWorld()).ReadOnly())
}

func TestNotify(t *testing.T) {
	var sent []string
	ok := steps.NotifyStep("announce", func(ctx context.Context, env *runbook.Env) error {
		sent = append(sent, "deployment started "+env.Run().ID)
		return nil
	})
	broken := steps.NotifyStep("page", func(context.Context, *runbook.Env) error { return errors.New("webhook 500") })
	p, err := runbook.NewBuilder("n").Step(ok).Step(broken).Build()
	require.NoError(t, err)
	h := runbooktest.New(t, p, runbooktest.WithRunOptions(runbook.RunOptions{RunID: "r7"}))
	h.Run()
	h.AssertStatus(runbook.StatusSucceeded)
	assert.Equal(t, []string{"deployment started r7"}, sent)
	require.Len(t, h.Result.Warnings, 1)
	assert.ErrorContains(t, h.Result.Warnings[0], "notify page: webhook 500")
	assert.Equal(t, runbook.Description{Action: "notify", Summary: "announce"}, steps.Notify("announce", nil).Describe())
}

// alive reports whether pid runs: a zombie (dead, not yet reaped by an init
// that may be slow to do it in a container) does not count.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: trust kill
	}
	// The state follows the command name in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
