package execfake_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/providers/exec"
	"github.com/handrail-dev/handrail/providers/exec/execfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFakeRunAndRollback(t *testing.T) {
	w := execfake.New()
	w.On("npm", "run", "migrate:up").Stdout("applied 016\n")
	w.On("npm", "run", "migrate:status").Stdout(`{"version":"016"}`)
	in := w.Instance("local")
	up, err := exec.NewRun(in, exec.RunOptions{Command: []string{"npm", "run", "migrate:up"}, Dir: "/srv/app", RollbackCommand: []string{"npm", "run", "migrate:down"}})
	require.NoError(t, err)
	b := runbook.NewBuilder("migrate").
		Step(runbook.Step{Name: "up", Action: up}).
		Step(runbook.Step{Name: "fail", Irreversible: true, Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			return nil, assert.AnError
		})})
	p, err := b.Build()
	require.NoError(t, err)
	res, err := (&runbook.Executor{}).Run(context.Background(), p, runbook.RunOptions{})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, []string{"npm run migrate:up", "npm run migrate:down"}, w.Commands())
	assert.Equal(t, "/srv/app", w.Calls()[1].Dir)

	st, err := exec.NewRun(in, exec.RunOptions{Command: []string{"npm", "run", "migrate:status"}, ParseJSON: true, ReadOnly: true})
	require.NoError(t, err)
	out, err := st.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"version": "016"}, out["json"])
}

func TestFakeExitHangStrict(t *testing.T) {
	w := execfake.New()
	in := w.Instance("local")
	w.On("npm", "run", "migrate:up").Stderr("migration 016 failed\n").Exit(1)
	w.On("sleep", "*").Hang()
	a, _ := exec.NewRun(in, exec.RunOptions{Command: []string{"npm", "run", "migrate:up"}})
	_, err := a.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	assert.ErrorIs(t, err, exec.ErrExitStatus)
	assert.ErrorContains(t, err, "migration 016 failed")

	s, _ := exec.NewRun(in, exec.RunOptions{Command: []string{"sleep", "600"}, Timeout: 20 * time.Millisecond})
	_, err = s.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	assert.ErrorIs(t, err, runbook.ErrTimeout)

	w.Strict()
	u, _ := exec.NewRun(in, exec.RunOptions{Command: []string{"unknown"}})
	_, err = u.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	assert.ErrorContains(t, err, "status 127")
}

func TestFakeK6(t *testing.T) {
	w := execfake.New()
	in := w.Instance("local")
	b, err := os.ReadFile("../testdata/summary-fail.json")
	require.NoError(t, err)
	w.OnK6(string(b), 99)
	k, err := exec.NewK6(in, exec.K6Options{Script: "smoke-test.js", Env: map[string]string{"BASE_URL": "http://app"}})
	require.NoError(t, err)
	out, err := k.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	assert.ErrorIs(t, err, exec.ErrThresholds)
	assert.Equal(t, false, out["thresholds_passed"])
	assert.InDelta(t, 0.158, out["http_req_failed_rate"], 0.001)
	assert.Equal(t, "http://app", w.Calls()[0].Env["BASE_URL"])

	w.Missing("k6")
	_, err = k.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	assert.ErrorIs(t, err, exec.ErrNotFound)
}
