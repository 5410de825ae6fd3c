package sshfake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/providers/ssh/sshfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// events collects output lines and notes.
type events struct {
	mu    sync.Mutex
	lines []string
	notes []string
}

func (e *events) Observe(ev runbook.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch v := ev.(type) {
	case runbook.OutputLine:
		e.lines = append(e.lines, v.Stream+": "+v.Line)
	case runbook.Note:
		e.notes = append(e.notes, v.Message)
	}
}

func newEnv(obs runbook.Observer, red *runbook.Redactor) *runbook.Env {
	return runbook.NewEnv(runbook.EnvConfig{Node: "step", Observer: obs, Redactor: red})
}

func TestExecOutputs(t *testing.T) {
	w := sshfake.New()
	lb := w.Instance("lb", "lb-1")
	w.On("lb-1", "curl", "...").Stdout("{\"status\":\"healthy\",\"n\":2}\nsecond line\n")
	w.On("lb-1", "check").Stdout("bad\n").Stderr("token s3cr3t leaked\n").Exit(3)

	tests := []struct {
		name    string
		opts    ssh.ExecOptions
		wantErr string
		check   func(t *testing.T, out runbook.Outputs)
	}{
		{name: "builtin echo", opts: ssh.ExecOptions{Command: []string{"echo", "hi", "there"}},
			check: func(t *testing.T, out runbook.Outputs) {
				assert.Equal(t, "hi there\n", out["stdout"])
				assert.Equal(t, 0, out["exit_code"])
				assert.Equal(t, []any{"hi there"}, out["stdout_lines"])
			}},
		{name: "non-zero exit fails with status and redacted stderr", opts: ssh.ExecOptions{Command: []string{"check"}},
			wantErr: "ssh.lb: check exited with status 3: token (sensitive) leaked"},
		{name: "expected exit codes", opts: ssh.ExecOptions{Command: []string{"check"}, ExpectedExitCodes: []int{0, 3}},
			check: func(t *testing.T, out runbook.Outputs) { assert.Equal(t, 3, out["exit_code"]) }},
		{name: "bad json", opts: ssh.ExecOptions{Command: []string{"echo", "x"}, ParseJSON: true}, wantErr: "not JSON"},
		{name: "output cap", opts: ssh.ExecOptions{Command: []string{"curl", "-s", "u"}, OutputLimit: 5},
			check: func(t *testing.T, out runbook.Outputs) {
				assert.Equal(t, "{\"sta", out["stdout"])
				assert.Equal(t, true, out["truncated"])
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := ssh.NewExec(lb, tc.opts)
			require.NoError(t, err)
			out, err := ex.Do(context.Background(), newEnv(nil, runbook.NewRedactor("s3cr3t")))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.NotContains(t, err.Error(), "s3cr3t")
				return
			}
			require.NoError(t, err)
			tc.check(t, out)
		})
	}

	t.Run("parse json and stream lines", func(t *testing.T) {
		ev := &events{}
		ex, err := ssh.NewExec(lb, ssh.ExecOptions{Command: []string{"curl", "-s", "http://localhost/health"}, ParseJSON: true})
		require.NoError(t, err)
		// stdout is not only JSON: the second line makes it invalid.
		_, err = ex.Do(context.Background(), newEnv(ev, nil))
		require.Error(t, err)
		assert.Equal(t, []string{`stdout: {"status":"healthy","n":2}`, "stdout: second line"}, ev.lines)
		w.On("lb-1", "curl", "-s", "http://localhost/health").Stdout(`{"status":"healthy","n":2}`)
		out, err := ex.Do(context.Background(), newEnv(nil, nil))
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"status": "healthy", "n": float64(2)}, out["json"])
	})
}

func TestInvalidArguments(t *testing.T) {
	lb := sshfake.New().Instance("lb", "lb-1")
	for _, tc := range []struct {
		opts ssh.ExecOptions
		want string
	}{
		{ssh.ExecOptions{}, "give command"},
		{ssh.ExecOptions{Command: []string{"a"}, Script: "b"}, "not both"},
		{ssh.ExecOptions{Command: []string{"a"}, Env: map[string]string{"A B": "x"}}, "not valid"},
		{ssh.ExecOptions{Command: []string{"a"}, MaxFailPercentage: 150}, "between 0 and 100"},
		{ssh.ExecOptions{Command: []string{"a"}, Hosts: []string{"x", "x"}}, "listed twice"},
		{ssh.ExecOptions{Command: []string{"a"}, RollbackCommand: []string{""}}, "rollback"},
	} {
		_, err := ssh.NewExec(lb, tc.opts)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestFanOut(t *testing.T) {
	hosts := []string{"web-1", "web-2", "web-3", "web-4"}
	tests := []struct {
		name        string
		down        []string
		maxFail     float64
		par         int
		noRollback  bool
		wantErr     string
		wantLinks   []string // hosts left with the symlink
		wantSkipped int
	}{
		{name: "all succeed", par: 2, wantLinks: hosts},
		// The first max_parallel hosts start together, whatever the
		// first of them to end says (later ones start as slots free:
		// which depends on which host ends first, so only max_parallel 1
		// and a failure in the first window are deterministic).
		{name: "one down fails the batch and undoes the others", down: []string{"web-3"}, par: 4,
			wantErr: "1 of 4 hosts failed", wantLinks: nil},
		{name: "max_parallel 1 stops at the failure", down: []string{"web-2"}, par: 1,
			wantErr: "2 not started", wantLinks: nil, wantSkipped: 2},
		{name: "tolerated failure keeps the others", down: []string{"web-2"}, maxFail: 25, par: 2,
			wantLinks: []string{"web-1", "web-3", "web-4"}},
		{name: "no rollback command says what stays", down: []string{"web-4"}, noRollback: true, par: 1,
			wantErr: "no rollback_command: web-1, web-2, web-3 keep the change", wantLinks: []string{"web-1", "web-2", "web-3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := sshfake.New()
			for _, h := range tc.down {
				w.Down(h, true)
			}
			in := w.Instance("web", "web-1")
			opts := ssh.ExecOptions{
				Command:           []string{"ln", "-sf", "/etc/nginx/sites-available/maintenance.conf", "/etc/nginx/sites-enabled/"},
				Sudo:              true,
				Hosts:             hosts,
				MaxParallel:       tc.par,
				MaxFailPercentage: tc.maxFail,
				RollbackCommand:   []string{"rm", "/etc/nginx/sites-enabled/maintenance.conf"},
			}
			if tc.noRollback {
				opts.RollbackCommand = nil
			}
			ex, err := ssh.NewExec(in, opts)
			require.NoError(t, err)
			out, err := ex.Do(context.Background(), newEnv(nil, nil))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ssh.ErrBatchFailed)
				assert.Contains(t, err.Error(), tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			var linked []string
			for _, h := range hosts {
				if target, ok := w.Host(h).LinkTarget("/etc/nginx/sites-enabled/maintenance.conf"); ok {
					assert.Equal(t, "/etc/nginx/sites-available/maintenance.conf", target)
					linked = append(linked, h)
				}
			}
			assert.Equal(t, tc.wantLinks, linked)
			assert.Len(t, out["hosts_skipped"], tc.wantSkipped)
			for _, c := range w.Calls() {
				if c.Err == nil {
					assert.Equal(t, c.Host, c.Env[ssh.HostEnvVar])
					assert.True(t, c.Sudo)
				}
			}
		})
	}
}

func TestFanOutNaturalAndExplicitRollbackPerHost(t *testing.T) {
	w := sshfake.New()
	in := w.Instance("web", "web-1")
	hosts := []string{"web-1", "web-2", "web-3"}
	ex, err := ssh.NewExec(in, ssh.ExecOptions{Command: []string{"touch", "/srv/flag"}, Hosts: hosts, RollbackCommand: []string{"rm", "-f", "/srv/flag"}})
	require.NoError(t, err)
	var undo []string
	b := runbook.NewBuilder("fleet").
		Step(runbook.Step{Name: "flag", Action: ex}).
		Step(runbook.Step{Name: "boom", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			for _, h := range hosts {
				require.True(t, w.Host(h).Exists("/srv/flag"))
			}
			return nil, errors.New("boom")
		})})
	p, err := b.Build()
	require.NoError(t, err)
	res, err := (&runbook.Executor{}).Run(context.Background(), p, runbook.RunOptions{})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	for _, h := range hosts {
		assert.False(t, w.Host(h).Exists("/srv/flag"), h)
		undo = append(undo, w.Commands(h)[len(w.Commands(h))-1])
	}
	assert.Equal(t, []string{"rm -f /srv/flag", "rm -f /srv/flag", "rm -f /srv/flag"}, undo)

	// An explicit rollback (another ssh_exec without hosts) runs on every
	// host the step succeeded on.
	w2 := sshfake.New()
	in2 := w2.Instance("web", "web-1")
	do, err := ssh.NewExec(in2, ssh.ExecOptions{Command: []string{"touch", "/srv/flag"}, Hosts: hosts})
	require.NoError(t, err)
	rb, err := ssh.NewExec(in2, ssh.ExecOptions{Command: []string{"rm", "/srv/flag"}})
	require.NoError(t, err)
	out, err := do.Do(context.Background(), newEnv(nil, nil))
	require.NoError(t, err)
	require.NoError(t, rb.Compensate(context.Background(), runbook.NewEnv(runbook.EnvConfig{Self: out})))
	for _, h := range hosts {
		assert.False(t, w2.Host(h).Exists("/srv/flag"), h)
	}
}

func TestTimeoutAndDownHost(t *testing.T) {
	w := sshfake.New()
	in := w.Instance("db", "db-1")
	w.On("db-1", "/opt/backup.sh").Hang()
	ex, err := ssh.NewExec(in, ssh.ExecOptions{Command: []string{"/opt/backup.sh"}, Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	_, err = ex.Do(context.Background(), newEnv(nil, nil))
	require.Error(t, err)
	assert.ErrorIs(t, err, runbook.ErrTimeout)

	w.Down("db-1", true)
	ex, err = ssh.NewExec(in, ssh.ExecOptions{Command: []string{"true"}})
	require.NoError(t, err)
	_, err = ex.Do(context.Background(), newEnv(nil, nil))
	assert.ErrorIs(t, err, ssh.ErrConnect)
	w.Down("db-1", false)
	_, err = ex.Do(context.Background(), newEnv(nil, nil))
	assert.NoError(t, err)
}

func TestUploadRestore(t *testing.T) {
	for _, tc := range []struct {
		name      string
		before    *string
		sensitive bool
	}{
		{name: "existing file", before: ptr("old config\n")},
		{name: "new file is removed", before: nil},
		{name: "sensitive", before: ptr("OLD_TOKEN=abc\n"), sensitive: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := sshfake.New()
			in := w.Instance("app", "app-1")
			if tc.before != nil {
				w.Host("app-1").WriteFile("/etc/app.env", *tc.before)
			}
			up, err := ssh.NewUpload(in, ssh.UploadOptions{Path: "/etc/app.env", Content: "NEW_TOKEN=xyz\n", Mode: 0o600, Sensitive: tc.sensitive, RestoreOnRollback: true})
			require.NoError(t, err)
			red := runbook.NewRedactor()
			out, err := up.Do(context.Background(), newEnv(nil, red))
			require.NoError(t, err)
			assert.Equal(t, "NEW_TOKEN=xyz\n", w.Host("app-1").Content("/etc/app.env"))
			if tc.sensitive {
				assert.IsType(t, runbook.Secret{}, out["previous_content"])
				assert.Equal(t, "(sensitive)", red.Redact("NEW_TOKEN=xyz\n"))
			}
			require.NoError(t, up.NaturalRollback().Compensate(context.Background(), runbook.NewEnv(runbook.EnvConfig{Self: out})))
			f, ok := w.Host("app-1").File("/etc/app.env")
			assert.Equal(t, tc.before != nil, ok)
			if ok {
				assert.Equal(t, *tc.before, string(f.Content))
				assert.Equal(t, "0644", fmt.Sprintf("%04o", f.Mode))
			}
		})
	}
	w := sshfake.New()
	up, err := ssh.NewUpload(w.Instance("app", "app-1"), ssh.UploadOptions{Path: "/x", Content: "y"})
	require.NoError(t, err)
	assert.Nil(t, up.NaturalRollback(), "no restore unless asked")
}

func ptr(s string) *string { return &s }

// TestProviderFromCty configures the fake like the HCL front end does and
// builds actions and probes from cty arguments.
func TestProviderFromCty(t *testing.T) {
	w := sshfake.New()
	reg, err := provider.NewRegistry(w.Provider())
	require.NoError(t, err)
	p, _ := reg.Provider("ssh")
	inst, err := p.Configure(context.Background(), "lb", cty.ObjectVal(map[string]cty.Value{
		"host": cty.StringVal("production-lb-01"),
		"user": cty.StringVal("deploy"),
		"port": cty.NumberIntVal(22),
	}))
	require.NoError(t, err)
	assert.Equal(t, "ssh.lb", inst.Name())
	at, _, ok := reg.Action("ssh_exec")
	require.True(t, ok)
	act, err := at.New(inst, cty.ObjectVal(map[string]cty.Value{
		"command":          cty.ListVal([]cty.Value{cty.StringVal("ln"), cty.StringVal("-sf"), cty.StringVal("/etc/nginx/sites-available/maintenance.conf"), cty.StringVal("/etc/nginx/sites-enabled/")}),
		"sudo":             cty.True,
		"timeout":          cty.StringVal("30s"),
		"rollback_command": cty.ListVal([]cty.Value{cty.StringVal("rm"), cty.StringVal("/etc/nginx/sites-enabled/maintenance.conf")}),
		"script":           cty.NullVal(cty.String),
	}))
	require.NoError(t, err)
	assert.Equal(t, runbook.Description{Provider: "ssh.lb", Action: "ssh_exec"}, runbook.Describe(act))
	out, err := act.Do(context.Background(), newEnv(nil, nil))
	require.NoError(t, err)
	assert.True(t, w.Host("production-lb-01").Exists("/etc/nginx/sites-enabled/maintenance.conf"))
	require.NoError(t, act.(runbook.NaturalRollback).NaturalRollback().Compensate(context.Background(), runbook.NewEnv(runbook.EnvConfig{Self: out})))
	assert.False(t, w.Host("production-lb-01").Exists("/etc/nginx/sites-enabled/maintenance.conf"))

	_, err = at.New(inst, cty.ObjectVal(map[string]cty.Value{"timeout": cty.StringVal("soon"), "command": cty.ListVal([]cty.Value{cty.StringVal("x")})}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `timeout: "soon" is not a duration`)

	probe, err := at.NewProbe(inst, cty.ObjectVal(map[string]cty.Value{"command": cty.ListVal([]cty.Value{cty.StringVal("test"), cty.StringVal("-L"), cty.StringVal("/etc/nginx/sites-enabled/maintenance.conf")})}))
	require.NoError(t, err)
	s, err := probe.Sample(context.Background(), newEnv(nil, nil))
	require.NoError(t, err)
	assert.Equal(t, 1, s.Value)

	up, _, _ := reg.Action("ssh_upload")
	_, err = up.New(inst, cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("/x"), "mode": cty.StringVal("rw")}))
	assert.ErrorContains(t, err, "octal mode")

	_, err = p.Configure(context.Background(), "bad", cty.ObjectVal(map[string]cty.Value{"host": cty.StringVal("h"), "keepalive": cty.StringVal("often")}))
	assert.ErrorContains(t, err, "keepalive")
}

func TestRunCommandAndStrict(t *testing.T) {
	w := sshfake.New().Strict()
	in := w.Instance("x", "x-1")
	var out, errb bytes.Buffer
	code, err := in.RunCommand(context.Background(), []string{"frobnicate"}, nil, &out, &errb)
	require.NoError(t, err)
	assert.Equal(t, 127, code)
	assert.True(t, strings.Contains(errb.String(), "not found"))
	code, err = in.RunCommand(context.Background(), []string{"cat"}, strings.NewReader("in"), &out, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "in", out.String())
	assert.Equal(t, []string{"frobnicate", "cat"}, w.Commands("x-1"))
}

func TestFanOutRollbackOnlyWhereSucceeded(t *testing.T) {
	w := sshfake.New()
	w.Down("web-2", true)
	in := w.Instance("web", "web-1")
	hosts := []string{"web-1", "web-2", "web-3"}
	ex, err := ssh.NewExec(in, ssh.ExecOptions{Command: []string{"touch", "/srv/flag"}, Hosts: hosts, MaxFailPercentage: 50, RollbackCommand: []string{"rm", "/srv/flag"}})
	require.NoError(t, err)
	out, err := ex.Do(context.Background(), newEnv(nil, nil))
	require.NoError(t, err)
	w.Down("web-2", false)
	require.NoError(t, ex.NaturalRollback().Compensate(context.Background(), runbook.NewEnv(runbook.EnvConfig{Self: out})))
	assert.Equal(t, []string{"touch /srv/flag", "rm /srv/flag"}, w.Commands("web-1"))
	assert.Equal(t, []string{"touch /srv/flag"}, w.Commands("web-2"), "the failed host is not undone")

	// An explicit rollback of a fan-out that succeeded nowhere does nothing
	// (not even on the instance's own host).
	rb, err := ssh.NewExec(in, ssh.ExecOptions{Command: []string{"rm", "/srv/flag"}})
	require.NoError(t, err)
	n := len(w.Calls())
	require.NoError(t, rb.Compensate(context.Background(), runbook.NewEnv(runbook.EnvConfig{Self: runbook.Outputs{"hosts_succeeded": []any{}}})))
	assert.Len(t, w.Calls(), n)
}

func TestUploadContentWithRegisteredSecretIsSensitive(t *testing.T) {
	w := sshfake.New()
	w.Host("app-1").WriteFile("/etc/app.env", "TOKEN=old-token-value\n")
	up, err := ssh.NewUpload(w.Instance("app", "app-1"), ssh.UploadOptions{Path: "/etc/app.env", Content: "TOKEN=new-token-value\n", RestoreOnRollback: true})
	require.NoError(t, err)
	red := runbook.NewRedactor("new-token-value")
	out, err := up.Do(context.Background(), newEnv(nil, red))
	require.NoError(t, err)
	assert.IsType(t, runbook.Secret{}, out["previous_content"], "content holding a secret makes the previous content sensitive")
}
