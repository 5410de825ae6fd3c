package ssh_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// realFleet is a fleet of four host entries reaching the test sshd, and a
// remote directory where each command appends a line to a per-host log.
type realFleet struct {
	in    *ssh.Instance
	hosts []string
	dir   string
}

func newRealFleet(t *testing.T, dir string) realFleet {
	t.Helper()
	in, tgt := realInstance(t, nil)
	_, port, _ := net.SplitHostPort(tgt.Addr)
	_, _, _, err := run(t, in, "", ssh.Command{Argv: []string{"mkdir", "-p", dir}})
	require.NoError(t, err)
	return realFleet{in: in, dir: dir,
		hosts: []string{"127.0.0.1:" + port, tgt.User + "@127.0.0.1:" + port, "[127.0.0.1]:" + port, "localhost:" + port}}
}

// script appends "do" to the host's log, unless a fail-once file for the
// host exists: then it removes the file and exits 3 after connecting.
func (f realFleet) step(t *testing.T, name string, s runbook.Step) runbook.Step {
	t.Helper()
	key := `$(echo "$HANDRAIL_HOST" | tr -c 'a-z0-9' _)`
	ex, err := ssh.NewExec(f.in, ssh.ExecOptions{
		Script:         `if [ -e "` + f.dir + `/fail-once-` + key + `" ]; then rm "` + f.dir + `/fail-once-` + key + `"; exit 3; fi; echo do >> "` + f.dir + `/log-` + key + `"`,
		RollbackScript: `echo undo >> "` + f.dir + `/log-` + key + `"`,
		Hosts:          f.hosts,
		MaxParallel:    1,
	})
	require.NoError(t, err)
	s.Name, s.Action = name, ex
	return s
}

func (f realFleet) key(h string) string {
	return strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, h+"\n")
}

func (f realFleet) failOnce(t *testing.T, h string) {
	t.Helper()
	_, _, _, err := run(t, f.in, "", ssh.Command{Argv: []string{"touch", f.dir + "/fail-once-" + f.key(h)}})
	require.NoError(t, err)
}

// logs returns each host's log lines.
func (f realFleet) logs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range f.hosts {
		_, so, _, _ := run(t, f.in, "", ssh.Command{Script: `cat "` + f.dir + `/log-` + f.key(h) + `" 2>/dev/null | tr '\n' ' '`})
		out[h] = strings.TrimSpace(so)
	}
	return out
}

func TestRealFleetRetryRunsOnlyTheFailedHost(t *testing.T) {
	f := newRealFleet(t, fmt.Sprintf("/tmp/handrail-ssh-fleet-retry-%d", os.Getpid()))
	t.Cleanup(func() { _, _, _, _ = run(t, f.in, "", ssh.Command{Argv: []string{"rm", "-rf", f.dir}}) })
	f.failOnce(t, f.hosts[2])
	p, err := runbook.NewBuilder("fleet").Step(f.step(t, "deploy", runbook.Step{Retry: runbook.Retry{Attempts: 2, Delay: time.Millisecond}})).Build()
	require.NoError(t, err)
	j, err := filejournal.Open(t.TempDir(), nil)
	require.NoError(t, err)
	res, err := (&runbook.Executor{Journal: j}).Run(context.Background(), p, runbook.RunOptions{})
	require.NoError(t, err)
	// With max_parallel 1 the first attempt stopped at the third host; the
	// retry ran on it and the fourth, and nothing was undone.
	assert.Equal(t, map[string]string{f.hosts[0]: "do", f.hosts[1]: "do", f.hosts[2]: "do", f.hosts[3]: "do"}, f.logs(t))
	assert.Equal(t, 2, res.Nodes["deploy"].Attempts)
	per := res.Nodes["deploy"].Outputs["hosts"].(map[string]any)
	assert.Equal(t, 1, per[f.hosts[0]].(map[string]any)["attempt"])
	assert.Equal(t, 2, per[f.hosts[3]].(map[string]any)["attempt"])
}

// The helper process of TestRealFleetCrashBetweenHosts.
const (
	envFleetCrashJournal = "HANDRAIL_TEST_FLEET_CRASH_JOURNAL"
	envFleetCrashDir     = "HANDRAIL_TEST_FLEET_CRASH_DIR"
)

// killingJournal SIGKILLs its process right after it has durably stored
// the progress record saying that host succeeded.
type killingJournal struct {
	runbook.Journal
	host string
}

func (k killingJournal) Append(ctx context.Context, recs ...runbook.Record) error {
	if err := k.Journal.Append(ctx, recs...); err != nil {
		return err
	}
	for _, r := range recs {
		if v, _ := r.Outputs[k.host].(map[string]any); r.Kind == runbook.RecProgress && v["state"] == "succeeded" {
			p, _ := os.FindProcess(os.Getpid())
			_ = p.Kill()
			select {}
		}
	}
	return nil
}

func TestRealFleetCrashBetweenHosts(t *testing.T) {
	if jdir := os.Getenv(envFleetCrashJournal); jdir != "" {
		// The helper: run until the second host succeeded, then die.
		f := newRealFleet(t, os.Getenv(envFleetCrashDir))
		p, err := runbook.NewBuilder("fleet").Step(f.step(t, "deploy", runbook.Step{})).Build()
		require.NoError(t, err)
		j, err := filejournal.Open(jdir, nil)
		require.NoError(t, err)
		_, err = (&runbook.Executor{Journal: killingJournal{Journal: j, host: f.hosts[1]}}).Run(context.Background(), p, runbook.RunOptions{RunID: "fleet-crash"})
		t.Fatalf("the helper was not killed: %v", err)
	}
	f := newRealFleet(t, fmt.Sprintf("/tmp/handrail-ssh-fleet-crash-%d", os.Getpid()))
	t.Cleanup(func() { _, _, _, _ = run(t, f.in, "", ssh.Command{Argv: []string{"rm", "-rf", f.dir}}) })
	jdir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRealFleetCrashBetweenHosts$", "-test.count=1")
	cmd.Env = append(os.Environ(), envFleetCrashJournal+"="+jdir, envFleetCrashDir+"="+f.dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "the helper must die by SIGKILL: %s", out)
	require.False(t, ee.Exited(), "the helper exited instead of being killed: %s", out)
	assert.Equal(t, map[string]string{f.hosts[0]: "do", f.hosts[1]: "do", f.hosts[2]: "", f.hosts[3]: ""}, f.logs(t))

	// A new process resumes the run from the journal: the step is in doubt
	// and not idempotent, so the approver is asked; it says rerun, and the
	// fan-out goes on from the third host.
	p, err := runbook.NewBuilder("fleet").Step(f.step(t, "deploy", runbook.Step{})).Build()
	require.NoError(t, err)
	j, err := filejournal.Open(jdir, nil)
	require.NoError(t, err)
	appr := runbook.ApproverFunc(func(_ context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
		return runbook.Decision{Approved: true, By: "oncall", Choice: "rerun"}, nil
	})
	res, err := (&runbook.Executor{Journal: j, Approver: appr}).Resume(context.Background(), p, "fleet-crash", runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{f.hosts[0]: "do", f.hosts[1]: "do", f.hosts[2]: "do", f.hosts[3]: "do"}, f.logs(t))
	assert.Equal(t, []any{f.hosts[0], f.hosts[1], f.hosts[2], f.hosts[3]}, res.Nodes["deploy"].Outputs["hosts_succeeded"])

	// Rolled back later, every host is undone once.
	res, err = (&runbook.Executor{Journal: j}).Rollback(context.Background(), p, "fleet-crash", runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, map[string]string{f.hosts[0]: "do undo", f.hosts[1]: "do undo", f.hosts[2]: "do undo", f.hosts[3]: "do undo"}, f.logs(t))
}
