package docker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/testenv"
	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/require"
)

// recorder collects a run's events.
type recorder struct {
	mu     sync.Mutex
	notes  []runbook.Note
	lines  []runbook.OutputLine
	events []runbook.Event
}

func (r *recorder) Observe(e runbook.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	switch ev := e.(type) {
	case runbook.Note:
		r.notes = append(r.notes, ev)
	case runbook.OutputLine:
		r.lines = append(r.lines, ev)
	}
}

// timeline logs the notes with their time since the first one.
func (r *recorder) timeline(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.notes) == 0 {
		return
	}
	t0 := r.notes[0].Time
	for _, n := range r.notes {
		t.Logf("%6dms %s %v", n.Time.Sub(t0).Milliseconds(), n.Message, n.Attrs)
	}
}

func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.notes {
		out = append(out, n.Message)
	}
	return out
}

func newEnv(self runbook.Outputs) (*runbook.Env, *recorder) {
	rec := &recorder{}
	return runbook.NewEnv(runbook.EnvConfig{
		Run:      runbook.RunInfo{ID: "test", Runbook: "docker", StartedAt: time.Now().Add(-time.Minute)},
		Node:     "step",
		Attempt:  1,
		Self:     self,
		Observer: rec,
	}), rec
}

// realInstance returns an instance on the test engine and its engine.
func realInstance(t *testing.T) (*docker.Instance, docker.Engine, testenv.BackendImages) {
	t.Helper()
	return realInstanceTB(t)
}

func realInstanceTB(t testing.TB) (*docker.Instance, docker.Engine, testenv.BackendImages) {
	t.Helper()
	imgs := testenv.DockerImages(t)
	inst := docker.NewInstance("test", docker.Config{Host: imgs.DockerHost}, nil)
	t.Cleanup(func() { _ = inst.Close() })
	eng, err := inst.Engine(context.Background())
	require.NoError(t, err)
	return inst, eng, imgs
}

func uniqueName(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "handrail-test-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + hex.EncodeToString(b[:])
}

// startBackend runs a dcmms/backend container like compose would (labels,
// published port on loopback, restart policy), waits until it is healthy,
// and removes it and its parked siblings at cleanup.
func startBackend(t *testing.T, eng docker.Engine, img string, env ...string) (name string) {
	t.Helper()
	return startBackendNamed(t, eng, uniqueName(t), img, env...)
}

// startBackendNamed is startBackend with the container's name given.
func startBackendNamed(t *testing.T, eng docker.Engine, name, img string, env ...string) string {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() {
		for _, n := range []string{name, name + docker.SuffixOld, name + docker.SuffixNew} {
			_ = eng.ContainerRemove(context.Background(), n)
		}
	})
	port := network.MustParsePort("3000/tcp")
	cfg := &container.Config{
		Image: img,
		Env:   env,
		Labels: map[string]string{
			docker.LabelComposeProject: name, docker.LabelComposeService: "backend",
		},
	}
	host := &container.HostConfig{
		PortBindings:  network.PortMap{port: {{HostPort: ""}}},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
	}
	id, err := eng.ContainerCreate(ctx, name, cfg, host, nil)
	require.NoError(t, err)
	require.NoError(t, eng.ContainerStart(ctx, id))
	waitHealth(t, eng, name, "healthy")
	return name
}

func waitHealth(t *testing.T, eng docker.Engine, name, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := eng.ContainerInspect(context.Background(), name)
		require.NoError(t, err)
		if c.State != nil && c.State.Health != nil && string(c.State.Health.Status) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: health %+v, want %s", name, c.State, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// servedVersion asks the container's published port which version it
// serves.
func servedVersion(t *testing.T, eng docker.Engine, name string) string {
	t.Helper()
	c, err := eng.ContainerInspect(context.Background(), name)
	require.NoError(t, err)
	var hostPort string
	for p, bs := range c.NetworkSettings.Ports {
		if p.Num() == testenv.BackendPort && len(bs) > 0 {
			hostPort = bs[0].HostPort
		}
	}
	require.NotEmpty(t, hostPort, "no published port on %s", name)
	resp, err := http.Get("http://127.0.0.1:" + hostPort + "/api/v1/health")
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct{ Status, Version string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, http.StatusOK, resp.StatusCode, "health of %s: %+v", name, body)
	return body.Version
}

func TestRealPing(t *testing.T) {
	t.Parallel()
	_, eng, _ := realInstance(t)
	v, err := eng.Ping(context.Background())
	require.NoError(t, err)
	t.Logf("negotiated API version %s", v)
	require.NotEmpty(t, v)
}

func TestRealPull(t *testing.T) {
	t.Parallel()
	inst, _, imgs := realInstance(t)
	ctx := context.Background()

	t.Run("present image is a no-op", func(t *testing.T) {
		a, err := docker.NewPull(inst, docker.Pull{Image: imgs.V029})
		require.NoError(t, err)
		env, _ := newEnv(nil)
		out, err := a.Do(ctx, env)
		require.NoError(t, err)
		require.Equal(t, false, out["pulled"])
		require.NotEmpty(t, out["image_id"])
	})
	t.Run("absent image is a clear error", func(t *testing.T) {
		ref := "handrail-test/absent-image:0.0.1"
		a, err := docker.NewPull(inst, docker.Pull{Image: ref, Auth: docker.RegistryAuth{Username: "u", Password: "s3cr3t-pw"}})
		require.NoError(t, err)
		env, rec := newEnv(nil)
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err = a.Do(pctx, env)
		require.Error(t, err)
		require.Contains(t, err.Error(), ref)
		require.NotContains(t, err.Error(), "s3cr3t-pw")
		t.Logf("pull error: %v", err)
		require.Contains(t, rec.messages(), "pulling image")
	})
	t.Run("never pulls", func(t *testing.T) {
		a, err := docker.NewPull(inst, docker.Pull{Image: "handrail-test/absent-image:0.0.2", Policy: docker.PullNever})
		require.NoError(t, err)
		env, _ := newEnv(nil)
		_, err = a.Do(ctx, env)
		require.ErrorIs(t, err, docker.ErrNotFound)
		require.Contains(t, err.Error(), "handrail-test/absent-image:0.0.2")
	})
}

func update(t *testing.T, inst *docker.Instance, target docker.Target, img string) runbook.Action {
	t.Helper()
	a, err := docker.NewServiceUpdate(inst, docker.ServiceUpdate{Target: target, Image: img, HealthTimeout: 20 * time.Second, StopTimeout: 2 * time.Second})
	require.NoError(t, err)
	return a
}

func TestRealServiceUpdateHealthyThenRollback(t *testing.T) {
	t.Parallel()
	inst, eng, imgs := realInstance(t)
	ctx := context.Background()
	name := startBackend(t, eng, imgs.V029, "DCMMS_FAIL_RATE=0")
	require.Equal(t, "0.2.9", servedVersion(t, eng, name))
	before, err := eng.ContainerInspect(ctx, name)
	require.NoError(t, err)

	// By compose labels, as `docker compose` names the service.
	a := update(t, inst, docker.Target{Project: name, Service: "backend"}, imgs.V030)
	env, rec := newEnv(nil)
	out, err := a.Do(ctx, env)
	require.NoError(t, err, "events: %v", rec.messages())
	rec.timeline(t)
	require.Equal(t, name, out["container_name"])
	require.Equal(t, imgs.V029, out["previous_image"])
	require.Equal(t, imgs.V030, out["image"])
	require.Equal(t, before.ID, out["previous_container_id"])
	require.Equal(t, "healthy", out["health"])
	require.Equal(t, name+docker.SuffixOld, out["kept_container"])
	require.Equal(t, "0.3.0", servedVersion(t, eng, name))

	now, err := eng.ContainerInspect(ctx, name)
	require.NoError(t, err)
	require.Equal(t, out["container_id"], now.ID)
	// Same configuration: labels, operator env, restart policy, published port.
	require.Equal(t, before.Config.Labels[docker.LabelComposeProject], now.Config.Labels[docker.LabelComposeProject])
	require.Contains(t, now.Config.Env, "DCMMS_FAIL_RATE=0")
	require.Contains(t, now.Config.Env, "DCMMS_VERSION=0.3.0", "the new image's ENV applies, not the old one's")
	require.Equal(t, "0.3.0", now.Config.Labels["org.opencontainers.image.version"])
	require.Equal(t, container.RestartPolicyUnlessStopped, now.HostConfig.RestartPolicy.Name)
	kept, err := eng.ContainerInspect(ctx, name+docker.SuffixOld)
	require.NoError(t, err)
	require.False(t, kept.State.Running)
	require.Equal(t, container.RestartPolicyDisabled, kept.HostConfig.RestartPolicy.Name)

	// Natural rollback from the outputs alone (a fresh action, as after a crash).
	rb := update(t, inst, docker.Target{Project: name, Service: "backend"}, imgs.V030).(runbook.NaturalRollback).NaturalRollback()
	renv, rrec := newEnv(roundTrip(t, out))
	require.NoError(t, rb.Compensate(ctx, renv))
	rrec.timeline(t)
	require.Equal(t, "0.2.9", servedVersion(t, eng, name))
	back, err := eng.ContainerInspect(ctx, name)
	require.NoError(t, err)
	require.Equal(t, before.ID, back.ID, "the kept container is back")
	require.Equal(t, container.RestartPolicyUnlessStopped, back.HostConfig.RestartPolicy.Name)
	_, err = eng.ContainerInspect(ctx, name+docker.SuffixOld)
	require.ErrorIs(t, err, docker.ErrNotFound)
	// A second compensation (a retried rollback) is harmless.
	require.NoError(t, rb.Compensate(ctx, renv))
	require.Equal(t, "0.2.9", servedVersion(t, eng, name))
}

// roundTrip passes outputs through JSON, as the journal does.
func roundTrip(t *testing.T, o runbook.Outputs) runbook.Outputs {
	t.Helper()
	b, err := json.Marshal(o)
	require.NoError(t, err)
	var out runbook.Outputs
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func TestRealServiceUpdateUnhealthyRestoresPrevious(t *testing.T) {
	t.Parallel()
	inst, eng, imgs := realInstance(t)
	ctx := context.Background()
	name := startBackend(t, eng, imgs.V029)
	before, err := eng.ContainerInspect(ctx, name)
	require.NoError(t, err)

	a := update(t, inst, docker.Target{Container: name}, imgs.V030Broken)
	env, rec := newEnv(nil)
	start := time.Now()
	_, err = a.Do(ctx, env)
	require.ErrorIs(t, err, docker.ErrUnhealthy)
	require.Contains(t, err.Error(), "restored")
	t.Logf("failed update + in-step restore: %s (%v)", time.Since(start), err)
	require.Contains(t, rec.messages(), "update failed, restoring previous container")

	require.Equal(t, "0.2.9", servedVersion(t, eng, name))
	now, err := eng.ContainerInspect(ctx, name)
	require.NoError(t, err)
	require.Equal(t, before.ID, now.ID)
	require.Equal(t, container.RestartPolicyUnlessStopped, now.HostConfig.RestartPolicy.Name)
	for _, n := range []string{name + docker.SuffixOld, name + docker.SuffixNew} {
		_, err := eng.ContainerInspect(ctx, n)
		require.ErrorIs(t, err, docker.ErrNotFound, n)
	}
	// rollback_on_failure: the step has no outputs; its rollback finds
	// nothing parked and leaves 0.2.9 alone.
	renv, _ := newEnv(nil)
	require.NoError(t, a.(runbook.NaturalRollback).NaturalRollback().Compensate(ctx, renv))
	require.Equal(t, "0.2.9", servedVersion(t, eng, name))
}

func TestRealServiceUpdateRollbackRecreatesWhenKeptIsGone(t *testing.T) {
	t.Parallel()
	inst, eng, imgs := realInstance(t)
	ctx := context.Background()
	name := startBackend(t, eng, imgs.V029)
	a, err := docker.NewServiceUpdate(inst, docker.ServiceUpdate{Target: docker.Target{Container: name}, Image: imgs.V030,
		HealthTimeout: 20 * time.Second, StopTimeout: 2 * time.Second, RemovePrevious: true})
	require.NoError(t, err)
	env, _ := newEnv(nil)
	out, err := a.Do(ctx, env)
	require.NoError(t, err)
	require.Equal(t, "", out["kept_container"])
	require.Equal(t, "0.3.0", servedVersion(t, eng, name))

	renv, rec := newEnv(roundTrip(t, out))
	require.NoError(t, a.(runbook.NaturalRollback).NaturalRollback().Compensate(ctx, renv))
	require.Contains(t, rec.messages(), "recreating container with previous image")
	require.Equal(t, "0.2.9", servedVersion(t, eng, name))
	_, err = eng.ContainerInspect(ctx, name+docker.SuffixOld)
	require.ErrorIs(t, err, docker.ErrNotFound)
}

func TestRealExec(t *testing.T) {
	t.Parallel()
	inst, eng, imgs := realInstance(t)
	ctx := context.Background()
	name := startBackend(t, eng, imgs.V029)
	tests := []struct {
		name    string
		cmd     []string
		expect  []int
		code    int
		wantErr error
	}{
		{name: "healthcheck succeeds", cmd: []string{"/dcmms-backend", "-healthcheck"}, code: 0},
		{name: "unexpected exit", cmd: []string{"/dcmms-backend", "-healthcheck", "-addr", ":1"}, code: 1, wantErr: docker.ErrUnexpectedExit},
		{name: "expected non-zero exit", cmd: []string{"/dcmms-backend", "-healthcheck", "-addr", ":1"}, expect: []int{1}, code: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := docker.NewExec(inst, docker.Exec{Target: docker.Target{Container: name}, Command: tt.cmd, ExpectExit: tt.expect, ReadOnlyCmd: true})
			require.NoError(t, err)
			env, _ := newEnv(nil)
			out, err := a.Do(ctx, env)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.code, out["exit_code"])
		})
	}
	t.Run("missing container", func(t *testing.T) {
		a, err := docker.NewExec(inst, docker.Exec{Target: docker.Target{Container: name + "-nope"}, Command: []string{"/x"}})
		require.NoError(t, err)
		env, _ := newEnv(nil)
		_, err = a.Do(ctx, env)
		require.ErrorIs(t, err, docker.ErrNotFound)
		require.Contains(t, err.Error(), name+"-nope")
	})
}

func TestRealLogsCheck(t *testing.T) {
	t.Parallel()
	inst, eng, imgs := realInstance(t)
	ctx := context.Background()
	name := startBackend(t, eng, imgs.V029)
	tests := []struct {
		pattern string
		matches int
		wantErr bool
	}{
		{pattern: "error|panic", matches: 0},
		{pattern: "LISTENING ON", matches: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			a, err := docker.NewLogsCheck(inst, docker.LogsCheck{Target: docker.Target{Container: name}, Pattern: tt.pattern, Tail: 50})
			require.NoError(t, err)
			env, _ := newEnv(nil)
			out, err := a.Do(ctx, env)
			require.Equal(t, tt.matches, out["match_count"])
			if tt.wantErr {
				require.ErrorIs(t, err, docker.ErrLogsMatched)
				require.Contains(t, err.Error(), "version 0.2.9 listening")
				require.Len(t, out["matches"], 1)
			} else {
				require.NoError(t, err)
			}
		})
	}
}

func TestRealLogsCheckSince(t *testing.T) {
	t.Parallel()
	inst, eng, imgs := realInstance(t)
	ctx := context.Background()
	name := startBackend(t, eng, imgs.V029)
	for _, tt := range []struct {
		name  string
		check docker.LogsCheck
		lines int
	}{
		{"since the run started", docker.LogsCheck{SinceRunStart: true}, 1},
		{"last 10 minutes", docker.LogsCheck{Since: 10 * time.Minute}, 1},
		{"since a later time", docker.LogsCheck{SinceTime: time.Now().Add(time.Hour)}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.check
			c.Target, c.Pattern, c.MaxMatches = docker.Target{Container: name}, "listening", 1
			a, err := docker.NewLogsCheck(inst, c)
			require.NoError(t, err)
			env, _ := newEnv(nil)
			out, err := a.Do(ctx, env)
			require.NoError(t, err)
			require.Equal(t, tt.lines, out["lines_checked"])
		})
	}
}

func TestRealInspectProbe(t *testing.T) {
	t.Parallel()
	inst, eng, imgs := realInstance(t)
	ctx := context.Background()
	name := startBackend(t, eng, imgs.V029)
	for _, tt := range []struct {
		field string
		want  any
	}{{"health", "healthy"}, {"running", true}, {"image", imgs.V029}, {"status", "running"}} {
		p, err := docker.NewInspect(inst, docker.Inspect{Target: docker.Target{Container: name}, Field: tt.field})
		require.NoError(t, err)
		env, _ := newEnv(nil)
		s, err := p.Sample(ctx, env)
		require.NoError(t, err)
		require.Equal(t, tt.want, s.Value, tt.field)
	}
	p, err := docker.NewInspect(inst, docker.Inspect{Target: docker.Target{Container: name + "-absent"}})
	require.NoError(t, err)
	env, _ := newEnv(nil)
	s, err := p.Sample(ctx, env)
	require.NoError(t, err)
	require.Equal(t, "absent", s.Value)

	// A check gate "backend healthy" on the real engine.
	plan, err := runbook.NewBuilder("inspect").Gate(runbook.Gate{
		Name: "backend_healthy", Kind: runbook.GateCheck, Every: 200 * time.Millisecond, Timeout: 10 * time.Second,
		Checks: []runbook.Check{{Name: "healthy", Probe: mustInspect(t, inst, name),
			Success: runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) { return v == "healthy", nil })}},
	}).Build()
	require.NoError(t, err)
	res, err := (&runbook.Executor{}).Run(ctx, plan, runbook.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, runbook.StatusSucceeded, res.Status, fmt.Sprint(res.Err))

}

func mustInspect(t *testing.T, inst *docker.Instance, name string) runbook.Probe {
	p, err := docker.NewInspect(inst, docker.Inspect{Target: docker.Target{Container: name}})
	require.NoError(t, err)
	return p
}
