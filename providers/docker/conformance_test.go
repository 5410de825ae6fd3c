package docker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/internal/faultnet"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/providertest"
	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/docker/dockerfake"
	"github.com/handrail-dev/handrail/runbook"
)

// updateCase replaces the service's 0.2.9 container by 0.3.0 (the image is
// already on the engine: a pull is not undone, by design). The call that
// changes what runs is the start of the new container.
func updateCase(name, image, want, healthTimeout string, skipped map[providertest.Mode]string) providertest.Case {
	c := providertest.Case{Name: "docker_service_update", Action: "docker_service_update", Call: dockerfake.CallContainerStart,
		Args: cty.ObjectVal(map[string]cty.Value{"container": cty.StringVal(name), "image": cty.StringVal(image),
			"health_timeout": cty.StringVal(healthTimeout), "stop_timeout": cty.StringVal("2s")}),
		Effect: func(_, after providertest.Snapshot) error {
			cs, _ := after["containers"].(map[string]any)
			c, _ := cs[name].(map[string]any)
			if c == nil || c["image"] != want || c["running"] != true {
				return fmt.Errorf("%s is %v, want %s running", name, c, want)
			}
			return nil
		}}
	for m, why := range skipped {
		if c.Skipped == nil {
			c.Skipped = map[providertest.Mode]string{}
		}
		c.Skipped[m] = why
	}
	if len(skipped) > 0 {
		for _, m := range providertest.Modes() {
			if _, out := skipped[m]; !out {
				c.Modes = append(c.Modes, m)
			}
		}
	}
	return c
}

func TestConformanceFake(t *testing.T) {
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			w := dockerfake.New()
			w.AddImage(dockerfake.Image{Ref: img029, Env: []string{"DCMMS_VERSION=0.2.9"}})
			w.AddImage(dockerfake.Image{Ref: img030, Env: []string{"DCMMS_VERSION=0.3.0"}})
			if _, err := w.RunContainer(backendName, img029, map[string]string{docker.LabelComposeProject: compose, docker.LabelComposeService: "backend"}); err != nil {
				t.Fatal(err)
			}
			return providertest.World{Provider: w.Provider(),
				Snapshot: func(context.Context) (providertest.Snapshot, error) { return w.Snapshot(), nil },
				Inject:   w.Inject,
				SetClock: func(c runbook.Clock) { w.SetClock(c.Now) },
			}
		},
		Cases: []providertest.Case{updateCase(backendName, img030, img030, "30s", nil)},
	}.Run(t)
}

// realSnapshot is what an update changes on the engine: the service's
// container and its parked siblings (ID, image, running, restart policy).
func realSnapshot(ctx context.Context, eng docker.Engine, name string) (providertest.Snapshot, error) {
	cs := map[string]any{}
	for _, n := range []string{name, name + docker.SuffixOld, name + docker.SuffixNew} {
		c, err := eng.ContainerInspect(ctx, n)
		if errors.Is(err, docker.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		cs[n] = map[string]any{"id": c.ID, "image": c.Config.Image, "running": c.State != nil && c.State.Running,
			"restart": string(c.HostConfig.RestartPolicy.Name)}
	}
	return providertest.Snapshot{"containers": cs}, nil
}

// realHealthTimeout is the health wait against the real engine. The suite
// runs on a simulated clock, which stands still only while the runner
// waits: the health poll's sleeps take no real time, so the limit is in
// simulated time and must cover the few real seconds a container takes
// to become healthy (polled without pause meanwhile).
const realHealthTimeout = "24h"

// TestConformanceReal runs the suite against the Docker engine, the faults
// injected on the engine's socket by a wrapping dialer: before the effect
// the request to start the new container never reaches the engine; after
// it, the engine starts it and the answer is dropped (held past the step's
// timeout, in mode timeout). About 2 min: each mode starts and
// health-checks real containers.
func TestConformanceReal(t *testing.T) {
	_, eng, imgs := realInstance(t)
	dial := dialEngine(imgs.DockerHost)
	name := uniqueName(t)
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			startBackendNamed(t, eng, name, imgs.V029, "DCMMS_FAIL_RATE=0")
			var cut atomic.Pointer[faultnet.Cut]
			p := &docker.Provider{EngineFactory: func(context.Context, docker.Config) (docker.Engine, error) {
				return docker.NewMobyEngine(imgs.DockerHost, func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := dial(ctx, network, addr)
					if err != nil || cut.Load() == nil {
						return c, err
					}
					return cut.Load().Conn(c), nil
				})
			}}
			return providertest.World{Provider: p,
				Snapshot: func(ctx context.Context) (providertest.Snapshot, error) { return realSnapshot(ctx, eng, name) },
				Inject: func(call string, f fault.Fault) {
					if call != dockerfake.CallContainerStart {
						t.Fatalf("no wire fault for call %q", call)
					}
					cut.Store(&faultnet.Cut{Before: f.Kind == fault.Before, OnFire: f.OnFire, Hold: f.Delay, Match: func(w []byte) bool {
						return bytes.Contains(w, []byte("POST /")) && bytes.Contains(w, []byte("/start HTTP/1.1"))
					}})
				},
			}
		},
		Cases: []providertest.Case{updateCase(name, imgs.V030, imgs.V030, realHealthTimeout, nil)},
		// Mode timeout runs on the real clock: the answer to /start is held
		// until the step's timeout gives up; the retry must then update
		// and health-check within it.
		RealTime:    true,
		StepTimeout: 30 * time.Second,
	}.Run(t)
}
