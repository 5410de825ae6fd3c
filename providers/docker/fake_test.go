package docker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/docker/dockerfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

const (
	img029      = "dcmms/backend:0.2.9"
	img030      = "dcmms/backend:0.3.0"
	compose     = "dcmms"
	backendName = "dcmms-backend"
)

func fakeWorld(t *testing.T) *dockerfake.World {
	t.Helper()
	w := dockerfake.New()
	w.AddImage(dockerfake.Image{Ref: img029, Env: []string{"DCMMS_VERSION=0.2.9"}, Labels: map[string]string{"version": "0.2.9"}})
	w.AddRegistryImage(dockerfake.Image{Ref: img030, Env: []string{"DCMMS_VERSION=0.3.0"}, Labels: map[string]string{"version": "0.3.0"}})
	_, err := w.RunContainer(backendName, img029, map[string]string{docker.LabelComposeProject: compose, docker.LabelComposeService: "backend"})
	require.NoError(t, err)
	return w
}

// configure returns the instance docker.app of the world's provider, as
// the HCL front end would build it.
func configure(t *testing.T, p provider.Provider) provider.Instance {
	t.Helper()
	inst, err := p.Configure(context.Background(), "app", cty.ObjectVal(map[string]cty.Value{
		"host": cty.NullVal(cty.String), "via": cty.NullVal(provider.InstanceType), "socket": cty.NullVal(cty.String),
	}))
	require.NoError(t, err)
	return inst
}

// argsOf builds a full argument object for an action type: every declared
// argument, null unless given (what hcldec produces).
func argsOf(t *testing.T, at provider.ActionType, given map[string]cty.Value) cty.Value {
	t.Helper()
	attrs := map[string]cty.Value{}
	for name, a := range at.Args {
		attrs[name] = cty.NullVal(a.Type)
	}
	for k, v := range given {
		_, ok := at.Args[k]
		require.True(t, ok, "argument %s not in schema", k)
		attrs[k] = v
	}
	return cty.ObjectVal(attrs)
}

func newAction(t *testing.T, p provider.Provider, inst provider.Instance, name string, given map[string]cty.Value) runbook.Action {
	t.Helper()
	at := p.Actions()[name]
	a, err := at.New(inst, argsOf(t, at, given))
	require.NoError(t, err)
	return a
}

// seedRunbook is the seed's "Deploy Backend Services" + "verify" +
// "monitor" in miniature: pull, update, check the backend is healthy, run
// db:ping, grep the logs; a later failure rolls everything back.
func seedRunbook(t *testing.T, w *dockerfake.World, image string, failAfter bool) *runbook.Plan {
	t.Helper()
	p := w.Provider()
	inst := configure(t, p)
	s := func(v string) cty.Value { return cty.StringVal(v) }
	b := runbook.NewBuilder("release-2").
		Step(runbook.Step{Name: "pull", Action: newAction(t, p, inst, "docker_pull", map[string]cty.Value{"image": s(image)})}).
		Step(runbook.Step{Name: "deploy", Action: newAction(t, p, inst, "docker_service_update", map[string]cty.Value{
			"project": s(compose), "service": s("backend"), "image": s(image), "health_timeout": s("30s"),
		}), RollbackOnFailure: true}).
		Step(runbook.Step{Name: "db_ping", Action: newAction(t, p, inst, "docker_exec", map[string]cty.Value{
			"container": s(backendName), "command": cty.ListVal([]cty.Value{s("npm"), s("run"), s("db:ping")}), "read_only": cty.True,
		})}).
		Step(runbook.Step{Name: "logs", Action: newAction(t, p, inst, "docker_logs_check", map[string]cty.Value{
			"container": s(backendName), "pattern": s("error"), "tail": cty.NumberIntVal(50),
		})})
	probe, err := p.Actions()["docker_inspect"].NewProbe(inst, argsOf(t, p.Actions()["docker_inspect"], map[string]cty.Value{"container": s(backendName)}))
	require.NoError(t, err)
	b.Gate(runbook.Gate{Name: "backend_healthy", Kind: runbook.GateCheck, Every: time.Second, Timeout: time.Minute,
		Checks: []runbook.Check{{Name: "healthy", Probe: probe,
			Success: runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) { return v == "healthy", nil })}}})
	if failAfter {
		b.Step(runbook.Step{Name: "smoke_tests", Irreversible: true, Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			return nil, errors.New("smoke tests failed")
		})})
	}
	plan, err := b.Build()
	require.NoError(t, err)
	return plan
}

func run(t *testing.T, plan *runbook.Plan) *runbook.Result {
	t.Helper()
	ex := &runbook.Executor{Clock: runbook.NewSimClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	res, err := ex.Run(context.Background(), plan, runbook.RunOptions{})
	require.NotNil(t, res, "%v", err)
	if res.Status == runbook.StatusSucceeded {
		require.NoError(t, err)
	}
	return res
}

func TestFakeSeedDeploySucceeds(t *testing.T) {
	w := fakeWorld(t)
	w.SetStarting(2)
	res := run(t, seedRunbook(t, w, img030, false))
	require.Equal(t, runbook.StatusSucceeded, res.Status, "%v", res.Err)
	c, ok := w.Container(backendName)
	require.True(t, ok)
	require.Equal(t, img030, c.Image)
	require.True(t, c.Running)
	require.Equal(t, "healthy", c.Health)
	require.Contains(t, c.Env, "DCMMS_VERSION=0.3.0")
	require.Equal(t, "0.3.0", c.Labels["version"])
	require.Equal(t, compose, c.Labels[docker.LabelComposeProject])
	old, ok := w.Container(backendName + docker.SuffixOld)
	require.True(t, ok)
	require.Equal(t, img029, old.Image)
	require.False(t, old.Running)
	require.Equal(t, img030, res.Nodes["deploy"].Outputs["image"])
	require.Equal(t, img029, res.Nodes["deploy"].Outputs["previous_image"])
	require.Equal(t, true, res.Nodes["pull"].Outputs["pulled"])
}

func TestFakeLaterFailureRollsBackTo029(t *testing.T) {
	w := fakeWorld(t)
	res := run(t, seedRunbook(t, w, img030, true))
	require.Equal(t, runbook.StatusRolledBack, res.Status, "%v", res.Err)
	require.Contains(t, res.Compensated, "deploy")
	c, ok := w.Container(backendName)
	require.True(t, ok)
	require.Equal(t, img029, c.Image)
	require.True(t, c.Running)
	require.Equal(t, "healthy", c.Health)
	_, ok = w.Container(backendName + docker.SuffixOld)
	require.False(t, ok)
}

func TestFakeUnhealthyImageFailsAndKeeps029(t *testing.T) {
	w := fakeWorld(t)
	w.SetUnhealthy(img030)
	res := run(t, seedRunbook(t, w, img030, false))
	require.Equal(t, runbook.StatusRolledBack, res.Status)
	require.ErrorIs(t, res.Err, docker.ErrUnhealthy)
	cs := w.Containers()
	require.Len(t, cs, 1, "%+v", cs)
	require.Equal(t, backendName, cs[0].Name)
	require.Equal(t, img029, cs[0].Image)
	require.True(t, cs[0].Running)
}

func TestFakePullFailure(t *testing.T) {
	w := fakeWorld(t)
	w.FailPull(img030, errors.New("registry unreachable"))
	res := run(t, seedRunbook(t, w, img030, false))
	require.Equal(t, runbook.StatusRolledBack, res.Status)
	require.ErrorContains(t, res.Err, img030)
	require.ErrorContains(t, res.Err, "registry unreachable")
	c, _ := w.Container(backendName)
	require.Equal(t, img029, c.Image)
}

func TestFakeExecAndLogs(t *testing.T) {
	w := fakeWorld(t)
	w.SetExecResult(backendName, []string{"npm", "run", "db:ping"}, docker.ExecResult{ExitCode: 1, Stderr: "ECONNREFUSED 5432"})
	res := run(t, seedRunbook(t, w, img030, false))
	require.Equal(t, runbook.StatusRolledBack, res.Status)
	require.ErrorIs(t, res.Err, docker.ErrUnexpectedExit)
	require.ErrorContains(t, res.Err, "ECONNREFUSED")

	w = fakeWorld(t)
	require.NoError(t, w.AppendLogs(backendName, "ok", "ERROR: cannot reach kafka"))
	// The update replaces the container: its new logs are clean, so
	// check the old one directly.
	inst := w.Instance("app")
	a, err := docker.NewLogsCheck(inst, docker.LogsCheck{Target: docker.Target{Container: backendName}, Pattern: "error"})
	require.NoError(t, err)
	env, _ := newEnv(nil)
	out, err := a.Do(context.Background(), env)
	require.ErrorIs(t, err, docker.ErrLogsMatched)
	require.Equal(t, []any{"ERROR: cannot reach kafka"}, out["matches"])
}

func TestFakeCleanupAndNextRun(t *testing.T) {
	w := fakeWorld(t)
	w.AddImages("dcmms/backend:0.3.1")
	inst := w.Instance("app")
	ctx := context.Background()
	up := func(img string) runbook.Outputs {
		a, err := docker.NewServiceUpdate(inst, docker.ServiceUpdate{Target: docker.Target{Container: backendName}, Image: img})
		require.NoError(t, err)
		env, _ := newEnv(nil)
		out, err := a.Do(ctx, env)
		require.NoError(t, err)
		return out
	}
	up(img029) // already there: no change
	_, ok := w.Container(backendName + docker.SuffixOld)
	require.False(t, ok)
	w.AddImages(img030)
	up(img030)
	out := up("dcmms/backend:0.3.1") // the 0.2.9 backendName kept by the first update goes
	require.Equal(t, img030, out["previous_image"])
	old, ok := w.Container(backendName + docker.SuffixOld)
	require.True(t, ok)
	require.Equal(t, img030, old.Image)

	c, err := docker.NewCleanup(inst, docker.Cleanup{Targets: []docker.Target{{Container: backendName}}})
	require.NoError(t, err)
	env, _ := newEnv(nil)
	cout, err := c.Do(ctx, env)
	require.NoError(t, err)
	require.Equal(t, []any{backendName + docker.SuffixOld}, cout["removed"])
	require.Len(t, w.Containers(), 1)

	// Rollback after cleanup recreates from previous_image.
	a, err := docker.NewServiceUpdate(inst, docker.ServiceUpdate{Target: docker.Target{Container: backendName}, Image: "dcmms/backend:0.3.1"})
	require.NoError(t, err)
	renv, _ := newEnv(roundTrip(t, out))
	require.NoError(t, a.(runbook.NaturalRollback).NaturalRollback().Compensate(ctx, renv))
	now, _ := w.Container(backendName)
	require.Equal(t, img030, now.Image)
	require.True(t, now.Running)
}

func TestFakeInterruptedUpdateIsRecovered(t *testing.T) {
	// A crash after the old backendName was parked and before the new one
	// took the name: the rollback (no outputs: the step is in doubt) puts
	// the parked one back.
	w := fakeWorld(t)
	w.AddImages(img030)
	eng := w.Engine()
	ctx := context.Background()
	require.NoError(t, eng.ContainerStop(ctx, backendName, 0))
	require.NoError(t, eng.ContainerRename(ctx, backendName, backendName+docker.SuffixOld))
	_, err := w.RunContainer(backendName+docker.SuffixNew, img030, nil)
	require.NoError(t, err)

	a, err := docker.NewServiceUpdate(w.Instance("app"), docker.ServiceUpdate{Target: docker.Target{Container: backendName}, Image: img030})
	require.NoError(t, err)
	env, _ := newEnv(nil)
	require.NoError(t, a.(runbook.NaturalRollback).NaturalRollback().Compensate(ctx, env))
	cs := w.Containers()
	require.Len(t, cs, 1)
	require.Equal(t, backendName, cs[0].Name)
	require.Equal(t, img029, cs[0].Image)
	require.True(t, cs[0].Running)
}

func TestActionArgumentErrors(t *testing.T) {
	p := &docker.Provider{}
	inst := configure(t, p)
	s := cty.StringVal
	tests := []struct {
		action string
		args   map[string]cty.Value
		want   string
	}{
		{"docker_service_update", map[string]cty.Value{"image": s("x:1")}, "name the container"},
		{"docker_service_update", map[string]cty.Value{"container": s("a"), "service": s("b"), "image": s("x:1")}, "not both"},
		{"docker_service_update", map[string]cty.Value{"container": s("a"), "image": s("x:1"), "health_timeout": s("soon")}, "health_timeout"},
		{"docker_service_update", map[string]cty.Value{"container": s("a"), "image": s("x:1"), "pull": s("sometimes")}, "if_missing"},
		{"docker_pull", map[string]cty.Value{"image": s("x:1"), "username": s("u")}, "username and password go together"},
		{"docker_exec", map[string]cty.Value{"container": s("a"), "command": cty.ListValEmpty(cty.String)}, "command is required"},
		{"docker_logs_check", map[string]cty.Value{"container": s("a"), "pattern": s("(")}, "pattern"},
		{"docker_logs_check", map[string]cty.Value{"container": s("a"), "pattern": s("e"), "since": s("yesterday")}, "since"},
		{"docker_inspect", map[string]cty.Value{"container": s("a"), "field": s("colour")}, "field"},
		{"docker_cleanup", map[string]cty.Value{}, "at least one"},
	}
	for _, tt := range tests {
		t.Run(tt.action+" "+tt.want, func(t *testing.T) {
			at := p.Actions()[tt.action]
			_, err := at.New(inst, argsOf(t, at, tt.args))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.Contains(t, err.Error(), "docker.app")
		})
	}
}

func TestDescribeHasEmptySummary(t *testing.T) {
	w := fakeWorld(t)
	p := w.Provider()
	inst := configure(t, p)
	for name, at := range p.Actions() {
		args := map[string]cty.Value{}
		for k := range at.Args {
			switch k {
			case "container", "image", "pattern":
				args[k] = cty.StringVal("x")
			case "command", "containers":
				args[k] = cty.ListVal([]cty.Value{cty.StringVal("x")})
			}
		}
		a, err := at.New(inst, argsOf(t, at, args))
		require.NoError(t, err, name)
		require.Equal(t, runbook.Description{Provider: "docker.app", Action: name}, runbook.Describe(a), name)
		_, isRO := a.(runbook.ReadOnly)
		if at.ReadOnly {
			require.True(t, isRO, name)
		}
		_, natural := a.(runbook.NaturalRollback)
		require.Equal(t, at.NaturalRollback, natural, name)
	}
}

func TestFakeStaleKeptContainerIsNotRestoredByAFailedStep(t *testing.T) {
	// An earlier, accepted run kept 0.2.9 parked; this run's update fails
	// before touching anything (the image is missing). Its
	// rollback_on_failure has no outputs and must leave 0.3.0 running.
	w := fakeWorld(t)
	w.AddImages(img030)
	inst := w.Instance("app")
	ctx := context.Background()
	a, err := docker.NewServiceUpdate(inst, docker.ServiceUpdate{Target: docker.Target{Container: backendName}, Image: img030})
	require.NoError(t, err)
	env, _ := newEnv(nil)
	_, err = a.Do(ctx, env)
	require.NoError(t, err)

	later := runbook.NewEnv(runbook.EnvConfig{Run: runbook.RunInfo{ID: "next", StartedAt: time.Now().Add(time.Minute)}, Node: "deploy"})
	b, err := docker.NewServiceUpdate(inst, docker.ServiceUpdate{Target: docker.Target{Container: backendName}, Image: "dcmms/backend:0.3.1", Pull: docker.PullNever})
	require.NoError(t, err)
	_, err = b.Do(ctx, later)
	require.ErrorIs(t, err, docker.ErrNotFound)
	require.ErrorContains(t, err, "dcmms/backend:0.3.1")
	require.NoError(t, b.(runbook.NaturalRollback).NaturalRollback().Compensate(ctx, later))
	c, _ := w.Container(backendName)
	require.Equal(t, img030, c.Image)
	require.True(t, c.Running)
	_, ok := w.Container(backendName + docker.SuffixOld)
	require.True(t, ok, "the earlier run's kept container is still there")
}

func TestFakeInDoubtCompletedUpdateIsRolledBack(t *testing.T) {
	// A crash after the update finished but before its outputs reached the
	// journal: the rollback has no outputs, but the parked container was
	// stopped during this run, so it comes back.
	w := fakeWorld(t)
	w.AddImages(img030)
	inst := w.Instance("app")
	ctx := context.Background()
	a, err := docker.NewServiceUpdate(inst, docker.ServiceUpdate{Target: docker.Target{Container: backendName}, Image: img030})
	require.NoError(t, err)
	env, _ := newEnv(nil)
	_, err = a.Do(ctx, env)
	require.NoError(t, err)
	require.NoError(t, a.(runbook.NaturalRollback).NaturalRollback().Compensate(ctx, env))
	cs := w.Containers()
	require.Len(t, cs, 1)
	require.Equal(t, img029, cs[0].Image)
	require.True(t, cs[0].Running)
}

func TestFakeRerunOfAcceptedUpdateIsANoOp(t *testing.T) {
	w := fakeWorld(t)
	w.AddImages(img030)
	inst := w.Instance("app")
	ctx := context.Background()
	a, err := docker.NewServiceUpdate(inst, docker.ServiceUpdate{Target: docker.Target{Container: backendName}, Image: img030})
	require.NoError(t, err)
	env, _ := newEnv(nil)
	_, err = a.Do(ctx, env)
	require.NoError(t, err)

	later := runbook.NewEnv(runbook.EnvConfig{Run: runbook.RunInfo{ID: "next", StartedAt: time.Now().Add(time.Minute)}, Node: "deploy"})
	out, err := a.Do(ctx, later)
	require.NoError(t, err)
	require.Equal(t, false, out["changed"])
	require.Equal(t, img030, out["previous_image"])
	rlater := runbook.NewEnv(runbook.EnvConfig{Run: later.Run(), Node: "deploy", Self: out})
	require.NoError(t, a.(runbook.NaturalRollback).NaturalRollback().Compensate(ctx, rlater))
	c, _ := w.Container(backendName)
	require.Equal(t, img030, c.Image, "a no-op step's rollback changes nothing")
}

func TestFakePullProgressAndAuth(t *testing.T) {
	w := dockerfake.New()
	w.AddRegistryImage(dockerfake.Image{Ref: "private.example/app:1"})
	a, err := docker.NewPull(w.Instance("app"), docker.Pull{Image: "private.example/app:1",
		Auth: docker.RegistryAuth{Username: "deploy", Password: "hunter2-token", ServerAddress: "private.example"}})
	require.NoError(t, err)
	env, rec := newEnv(nil)
	out, err := a.Do(context.Background(), env)
	require.NoError(t, err)
	require.Equal(t, true, out["pulled"])
	require.Contains(t, rec.messages(), "pull progress")
	require.NotEmpty(t, rec.lines)
	require.Equal(t, "(sensitive)", env.Redact("hunter2-token"), "the password is registered as a secret")
	for _, e := range rec.events {
		require.NotContains(t, fmt.Sprintf("%+v", e), "hunter2-token")
	}
	// Present now: a second pull is a no-op.
	env, _ = newEnv(nil)
	out, err = a.Do(context.Background(), env)
	require.NoError(t, err)
	require.Equal(t, false, out["pulled"])
	require.Equal(t, []string{"pull private.example/app:1"}, w.Ops())
}

func TestFakeInterruptedComposeUpdate(t *testing.T) {
	// Interrupted between parking the old container and naming the new
	// one, selected by compose labels: both the rollback and a re-run find
	// the service again.
	for _, viaRollback := range []bool{true, false} {
		w := fakeWorld(t)
		w.AddImages(img030)
		eng := w.Engine()
		ctx := context.Background()
		require.NoError(t, eng.ContainerStop(ctx, backendName, 0))
		require.NoError(t, eng.ContainerRename(ctx, backendName, backendName+docker.SuffixOld))
		_, err := w.RunContainer(backendName+docker.SuffixNew, img030, map[string]string{docker.LabelComposeProject: compose, docker.LabelComposeService: "backend"})
		require.NoError(t, err)
		a, err := docker.NewServiceUpdate(w.Instance("app"), docker.ServiceUpdate{Target: docker.Target{Project: compose, Service: "backend"}, Image: img030})
		require.NoError(t, err)
		env, _ := newEnv(nil)
		want := img029
		if viaRollback {
			require.NoError(t, a.(runbook.NaturalRollback).NaturalRollback().Compensate(ctx, env))
		} else {
			_, err := a.Do(ctx, env)
			require.NoError(t, err)
			want = img030
		}
		c, ok := w.Container(backendName)
		require.True(t, ok)
		require.Equal(t, want, c.Image)
		require.True(t, c.Running)
	}
}

func TestFakeRefusesAutoRemoveContainer(t *testing.T) {
	w := dockerfake.New()
	w.AddImages(img029, img030)
	eng := w.Engine()
	ctx := context.Background()
	id, err := eng.ContainerCreate(ctx, "tmp", &container.Config{Image: img029}, &container.HostConfig{AutoRemove: true}, nil)
	require.NoError(t, err)
	require.NoError(t, eng.ContainerStart(ctx, id))
	a, err := docker.NewServiceUpdate(w.Instance("app"), docker.ServiceUpdate{Target: docker.Target{Container: "tmp"}, Image: img030})
	require.NoError(t, err)
	env, _ := newEnv(nil)
	_, err = a.Do(ctx, env)
	require.ErrorContains(t, err, "--rm")
	c, _ := w.Container("tmp")
	require.Equal(t, img029, c.Image)
	require.True(t, c.Running)
}
