package exec_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/exec"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

type lines struct {
	mu sync.Mutex
	l  []string
}

func (o *lines) Observe(e runbook.Event) {
	if ol, ok := e.(runbook.OutputLine); ok {
		o.mu.Lock()
		o.l = append(o.l, ol.Stream+": "+ol.Line)
		o.mu.Unlock()
	}
}

func local(t *testing.T) *exec.Instance {
	t.Helper()
	in, err := exec.New("local", exec.Config{KillGrace: time.Second})
	require.NoError(t, err)
	return in
}

func TestLocalExec(t *testing.T) {
	in := local(t)
	dir := t.TempDir()
	tests := []struct {
		name    string
		opts    exec.RunOptions
		wantErr string
		check   func(t *testing.T, out runbook.Outputs)
	}{
		{name: "true", opts: exec.RunOptions{Command: []string{"/bin/true"}},
			check: func(t *testing.T, out runbook.Outputs) { assert.Equal(t, 0, out["exit_code"]) }},
		{name: "argv is not a shell", opts: exec.RunOptions{Command: []string{"echo", "$(id)", "; rm -rf /", "a'b"}},
			check: func(t *testing.T, out runbook.Outputs) { assert.Equal(t, "$(id) ; rm -rf / a'b\n", out["stdout"]) }},
		{name: "env dir stdin", opts: exec.RunOptions{Command: []string{"sh", "-c", `echo "$X|$(pwd)"; cat`}, Env: map[string]string{"X": "y"}, Dir: dir, Stdin: "in\n"},
			check: func(t *testing.T, out runbook.Outputs) {
				assert.Equal(t, "y|"+dir+"\nin\n", out["stdout"])
				assert.Equal(t, []any{"y|" + dir, "in"}, out["stdout_lines"])
			}},
		{name: "exit status", opts: exec.RunOptions{Command: []string{"sh", "-c", "echo bad >&2; exit 7"}}, wantErr: "exited with status 7: bad"},
		{name: "expected exit codes", opts: exec.RunOptions{Command: []string{"sh", "-c", "exit 7"}, ExpectedExitCodes: []int{7}},
			check: func(t *testing.T, out runbook.Outputs) { assert.Equal(t, 7, out["exit_code"]) }},
		{name: "json", opts: exec.RunOptions{Command: []string{"echo", `{"version":"016"}`}, ParseJSON: true},
			check: func(t *testing.T, out runbook.Outputs) {
				assert.Equal(t, map[string]any{"version": "016"}, out["json"])
			}},
		{name: "not found", opts: exec.RunOptions{Command: []string{"handrail-no-such-program"}}, wantErr: "not on PATH"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := exec.NewRun(in, tc.opts)
			require.NoError(t, err)
			obs := &lines{}
			out, err := a.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Observer: obs}))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, out)
		})
	}
}

func TestLocalExecTimeoutKillsGroup(t *testing.T) {
	in := local(t)
	pidfile := filepath.Join(t.TempDir(), "pid")
	a, err := exec.NewRun(in, exec.RunOptions{Command: []string{"sh", "-c", "sleep 300 & echo $! > " + pidfile + "; wait"}, Timeout: time.Second})
	require.NoError(t, err)
	start := time.Now()
	_, err = a.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	require.Error(t, err)
	assert.ErrorIs(t, err, runbook.ErrTimeout)
	assert.Less(t, time.Since(start), 8*time.Second, "stopped, not waited for")
	b, err := os.ReadFile(pidfile)
	require.NoError(t, err)
	pid := strings.TrimSpace(string(b))
	require.Eventually(t, func() bool {
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		return err != nil || strings.Fields(string(st))[2] == "Z"
	}, 3*time.Second, 20*time.Millisecond, "sleep %s must be gone", pid)
}

func TestLocalExecRollbackAndRunner(t *testing.T) {
	in := local(t)
	f := filepath.Join(t.TempDir(), "flag")
	a, err := exec.NewRun(in, exec.RunOptions{Command: []string{"touch", f}, RollbackCommand: []string{"rm", f}})
	require.NoError(t, err)
	_, err = a.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	require.NoError(t, err)
	assert.FileExists(t, f)
	require.NoError(t, a.NaturalRollback().Compensate(context.Background(), runbook.NewEnv(runbook.EnvConfig{})))
	assert.NoFileExists(t, f)

	var out strings.Builder
	code, err := in.RunCommand(context.Background(), []string{"sh", "-c", "exit 3"}, nil, &out, nil)
	require.NoError(t, err)
	assert.Equal(t, 3, code)
	var _ provider.CommandRunner = in
}

// fakeK6 puts a script named k6 on PATH that writes the given summary to
// the --summary-export file and exits with code.
func fakeK6(t *testing.T, summaryFile string, code int) {
	t.Helper()
	dir := t.TempDir()
	abs, err := filepath.Abs(summaryFile)
	require.NoError(t, err)
	script := fmt.Sprintf(`#!/bin/sh
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --summary-export) out="$2"; shift 2;;
    --summary-export=*) out="${1#--summary-export=}"; shift;;
    *) last="$1"; shift;;
  esac
done
echo "running $last"
echo "     http_req_duration..: avg=41ms"
[ -n "$out" ] && cp %q "$out"
exit %d
`, abs, code)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "k6"), []byte(script), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestK6WithFakeBinary(t *testing.T) {
	in := local(t)
	t.Run("thresholds pass", func(t *testing.T) {
		fakeK6(t, "testdata/summary-pass.json", 0)
		k, err := exec.NewK6(in, exec.K6Options{Script: "smoke-test.js"})
		require.NoError(t, err)
		obs := &lines{}
		out, err := k.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Observer: obs}))
		require.NoError(t, err)
		assert.Equal(t, true, out["thresholds_passed"])
		assert.Equal(t, 112.7, out["http_req_duration_p95"])
		assert.Equal(t, 0.0, out["http_req_failed_rate"])
		assert.Equal(t, 1.0, out["checks_rate"])
		assert.Equal(t, 120.0, out["http_reqs"])
		assert.Equal(t, map[string]any{"p(95)<500": true, "p(99)<1500": true}, out["thresholds"].(map[string]any)["http_req_duration"])
		assert.Equal(t, 240.3, out["metrics"].(map[string]any)["http_req_duration"].(map[string]any)["max"])
		assert.Contains(t, obs.l, "stdout: running smoke-test.js")
	})
	t.Run("thresholds fail", func(t *testing.T) {
		fakeK6(t, "testdata/summary-fail.json", 99)
		k, err := exec.NewK6(in, exec.K6Options{Script: "smoke-test.js"})
		require.NoError(t, err)
		_, err = k.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
		require.Error(t, err)
		assert.ErrorIs(t, err, exec.ErrThresholds)
		assert.Contains(t, err.Error(), "http_req_duration: p(95)<500; http_req_failed: rate<0.01")
	})
	t.Run("binary absent", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		k, err := exec.NewK6(in, exec.K6Options{Script: "smoke-test.js"})
		require.NoError(t, err)
		_, err = k.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
		require.Error(t, err)
		assert.ErrorIs(t, err, exec.ErrNotFound)
		assert.True(t, runbook.IsPermanent(err))
		assert.Contains(t, err.Error(), "install k6")
	})
}

func TestParseK6SummaryHandleSummaryShape(t *testing.T) {
	s, err := exec.ParseK6Summary([]byte(`{"metrics":{
		"http_req_duration":{"type":"trend","contains":"time","values":{"p(95)":301.5,"avg":120},"thresholds":{"p(95)<300":{"ok":false}}},
		"http_req_failed":{"type":"rate","values":{"rate":0.002,"passes":1,"fails":499},"thresholds":{"rate<0.01":{"ok":true}}}}}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"http_req_duration: p(95)<300"}, s.Failed())
	out := s.Outputs()
	assert.Equal(t, 301.5, out["http_req_duration_p95"])
	assert.Equal(t, 0.002, out["http_req_failed_rate"])
	for _, bad := range []string{`nope`, `{}`, `{"metrics":{"x":{"thresholds":{"a":"b"}}}}`} {
		_, err := exec.ParseK6Summary([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func TestProviderCty(t *testing.T) {
	reg, err := provider.NewRegistry(&exec.Provider{})
	require.NoError(t, err)
	p, _ := reg.Provider("exec")
	inst, err := p.Configure(context.Background(), "local", cty.ObjectVal(map[string]cty.Value{"env": cty.MapVal(map[string]cty.Value{"A": cty.StringVal("1")})}))
	require.NoError(t, err)
	at, _, ok := reg.Action("local_exec")
	require.True(t, ok)
	act, err := at.New(inst, cty.ObjectVal(map[string]cty.Value{"command": cty.ListVal([]cty.Value{cty.StringVal("sh"), cty.StringVal("-c"), cty.StringVal("echo $A")}), "timeout": cty.StringVal("10s")}))
	require.NoError(t, err)
	assert.Equal(t, runbook.Description{Provider: "exec.local", Action: "local_exec"}, runbook.Describe(act))
	out, err := act.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	require.NoError(t, err)
	assert.Equal(t, "1\n", out["stdout"])
	_, err = at.New(inst, cty.ObjectVal(map[string]cty.Value{"command": cty.ListValEmpty(cty.String)}))
	assert.ErrorContains(t, err, "command is required")
	k6, _, _ := reg.Action("k6_run")
	_, err = k6.New(inst, cty.ObjectVal(map[string]cty.Value{"script": cty.StringVal("a.js"), "args": cty.ListVal([]cty.Value{cty.StringVal("--summary-export=x")})}))
	assert.ErrorContains(t, err, "must not set --summary-export")
	_, err = p.Configure(context.Background(), "x", cty.ObjectVal(map[string]cty.Value{"dir": cty.StringVal("/nonexistent-" + strconv.Itoa(os.Getpid()))}))
	assert.ErrorContains(t, err, "is not a directory")
}
