package docker_test

import (
	"context"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/docker/dockerfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// Benchmarks on the real engine (bench/results/docker.md):
//
//	go test -run '^$' -bench 'BenchmarkReal' -benchtime 5x ./providers/docker/
//
// The anchor, BenchmarkRealNaiveReplace, is the seed's by-hand procedure
// through the same API: stop and remove the old container, run the new
// image, poll until healthy — no config capture, nothing kept for rollback.

func benchBackend(b *testing.B, eng docker.Engine, img, name string) {
	b.Helper()
	ctx := context.Background()
	for _, n := range []string{name, name + docker.SuffixOld, name + docker.SuffixNew} {
		_ = eng.ContainerRemove(ctx, n)
	}
	id, err := eng.ContainerCreate(ctx, name, &container.Config{Image: img, Labels: map[string]string{docker.LabelComposeService: "backend"}},
		&container.HostConfig{PortBindings: network.PortMap{network.MustParsePort("3000/tcp"): {{HostPort: ""}}},
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.ContainerStart(ctx, id); err != nil {
		b.Fatal(err)
	}
	waitHealthyB(b, eng, name, "healthy")
}

func waitHealthyB(b *testing.B, eng docker.Engine, name, want string) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := eng.ContainerInspect(context.Background(), name)
		if err == nil && c.State != nil && c.State.Health != nil && string(c.State.Health.Status) == want {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	b.Fatalf("%s never became %s", name, want)
}

func benchSetup(b *testing.B) (*docker.Instance, docker.Engine, string, string, string) {
	b.Helper()
	inst, eng, imgs := realInstanceTB(b)
	return inst, eng, imgs.V029, imgs.V030, imgs.V030Broken
}

func BenchmarkRealServiceUpdate(b *testing.B) {
	inst, eng, v029, v030, _ := benchSetup(b)
	name := "handrail-test-bench-update"
	b.Cleanup(func() { removeAll(eng, name) })
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		benchBackend(b, eng, v029, name)
		a, err := docker.NewServiceUpdate(inst, docker.ServiceUpdate{Target: docker.Target{Container: name}, Image: v030, StopTimeout: 2 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		env, _ := newEnv(nil)
		b.StartTimer()
		if _, err := a.Do(ctx, env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRealServiceUpdateUnhealthyRestore(b *testing.B) {
	inst, eng, v029, _, broken := benchSetup(b)
	name := "handrail-test-bench-broken"
	b.Cleanup(func() { removeAll(eng, name) })
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		benchBackend(b, eng, v029, name)
		a, err := docker.NewServiceUpdate(inst, docker.ServiceUpdate{Target: docker.Target{Container: name}, Image: broken, StopTimeout: 2 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		env, _ := newEnv(nil)
		b.StartTimer()
		if _, err := a.Do(ctx, env); err == nil {
			b.Fatal("update to the broken image succeeded")
		}
	}
}

func BenchmarkRealServiceUpdateThenRollback(b *testing.B) {
	inst, eng, v029, v030, _ := benchSetup(b)
	name := "handrail-test-bench-rollback"
	b.Cleanup(func() { removeAll(eng, name) })
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		benchBackend(b, eng, v029, name)
		a, err := docker.NewServiceUpdate(inst, docker.ServiceUpdate{Target: docker.Target{Container: name}, Image: v030, StopTimeout: 2 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		env, _ := newEnv(nil)
		b.StartTimer()
		out, err := a.Do(ctx, env)
		if err != nil {
			b.Fatal(err)
		}
		renv, _ := newEnv(out)
		if err := a.(runbook.NaturalRollback).NaturalRollback().Compensate(ctx, renv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRealNaiveReplace(b *testing.B) {
	_, eng, v029, v030, _ := benchSetup(b)
	name := "handrail-test-bench-naive"
	b.Cleanup(func() { removeAll(eng, name) })
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		benchBackend(b, eng, v029, name)
		b.StartTimer()
		if err := eng.ContainerStop(ctx, name, 2*time.Second); err != nil {
			b.Fatal(err)
		}
		if err := eng.ContainerRemove(ctx, name); err != nil {
			b.Fatal(err)
		}
		id, err := eng.ContainerCreate(ctx, name, &container.Config{Image: v030},
			&container.HostConfig{PortBindings: network.PortMap{network.MustParsePort("3000/tcp"): {{HostPort: ""}}}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := eng.ContainerStart(ctx, id); err != nil {
			b.Fatal(err)
		}
		waitHealthyB(b, eng, name, "healthy")
	}
}

func removeAll(eng docker.Engine, name string) {
	for _, n := range []string{name, name + docker.SuffixOld, name + docker.SuffixNew} {
		_ = eng.ContainerRemove(context.Background(), n)
	}
}

// BenchmarkFakeServiceUpdateThenRollback measures the provider's own
// overhead on the in-memory engine (no container to wait for).
func BenchmarkFakeServiceUpdateThenRollback(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		w := dockerfake.New()
		w.AddImages("dcmms/backend:0.2.9", "dcmms/backend:0.3.0")
		if _, err := w.RunContainer("dcmms-backend", "dcmms/backend:0.2.9", nil); err != nil {
			b.Fatal(err)
		}
		a, err := docker.NewServiceUpdate(w.Instance("app"), docker.ServiceUpdate{Target: docker.Target{Container: "dcmms-backend"}, Image: "dcmms/backend:0.3.0"})
		if err != nil {
			b.Fatal(err)
		}
		env, _ := newEnv(nil)
		out, err := a.Do(ctx, env)
		if err != nil {
			b.Fatal(err)
		}
		renv, _ := newEnv(out)
		if err := a.(runbook.NaturalRollback).NaturalRollback().Compensate(ctx, renv); err != nil {
			b.Fatal(err)
		}
	}
}
