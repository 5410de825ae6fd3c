package docker_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/faultnet"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/docker/dockerfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// updateThenFail is the shape of the ambiguous failure: a service update
// with a retry, then a step that fails, so the update must be compensated.
func updateThenFail(t *testing.T, update runbook.Action, seen *runbook.Outputs) *runbook.Plan {
	t.Helper()
	plan, err := runbook.NewBuilder("release-2").
		Step(runbook.Step{Name: "deploy", Action: update, Retry: runbook.Retry{Attempts: 2, Delay: 10 * time.Millisecond}}).
		Step(runbook.Step{Name: "smoke", Irreversible: true, Action: runbook.ActionFunc(func(_ context.Context, env *runbook.Env) (runbook.Outputs, error) {
			*seen, _ = env.Output("deploy")
			return nil, errors.New("smoke test failed")
		})}).
		Build()
	require.NoError(t, err)
	return plan
}

// The update replaces the container and removes the previous one
// (remove_previous); the engine removes it and the answer is lost. The
// retry finds the service already on 0.3.0. A later step fails: the
// rollback must bring 0.2.9 back, from what the step checkpointed before
// its first attempt.
func TestFakeServiceUpdateLostAnswerRetriedThenRolledBack(t *testing.T) {
	t.Parallel()
	w := fakeWorld(t)
	w.Inject(dockerfake.CallContainerRemove, fault.Fault{Kind: fault.After})
	a, err := docker.NewServiceUpdate(w.Instance("app"), docker.ServiceUpdate{Target: docker.Target{Container: backendName}, Image: img030, RemovePrevious: true})
	require.NoError(t, err)
	var seen runbook.Outputs
	res, err := (&runbook.Executor{Clock: runbook.NewSimClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}).
		Run(context.Background(), updateThenFail(t, a, &seen), runbook.RunOptions{})
	require.ErrorContains(t, err, "smoke test failed")
	require.Equal(t, 1, w.Faults().Fired(dockerfake.CallContainerRemove))
	assert.Equal(t, 2, res.Nodes["deploy"].Attempts, "the lost answer was retried")
	assert.Equal(t, img029, seen["previous_image"], "the retry reports the image before the first attempt")
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	c, ok := w.Container(backendName)
	require.True(t, ok)
	assert.Equal(t, img029, c.Image, "the service is back on 0.2.9")
	assert.True(t, c.Running)
}

// The fake follows the image's health-check interval and retries on the
// world's clock: the update waits one interval for health, and an
// unhealthy image is declared so only after its retries.
func TestFakeHealthFollowsIntervalAndRetries(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		unhealthy bool
		want      time.Duration
	}{{"healthy after one interval", false, 30 * time.Second}, {"unhealthy after interval x retries", true, 90 * time.Second}} {
		t.Run(tc.name, func(t *testing.T) {
			clock := runbook.NewSimClock(start)
			w := fakeWorld(t)
			w.SetClock(clock.Now)
			w.AddImage(dockerfake.Image{Ref: img030, HealthInterval: 30 * time.Second, HealthRetries: 3})
			if tc.unhealthy {
				w.SetUnhealthy(img030)
			}
			a, err := docker.NewServiceUpdate(w.Instance("app"), docker.ServiceUpdate{Target: docker.Target{Container: backendName}, Image: img030, HealthTimeout: 5 * time.Minute})
			require.NoError(t, err)
			plan, err := runbook.NewBuilder("release-2").Step(runbook.Step{Name: "deploy", Action: a}).Build()
			require.NoError(t, err)
			res, err := (&runbook.Executor{Clock: clock}).Run(context.Background(), plan, runbook.RunOptions{})
			took := res.Nodes["deploy"].End.Sub(res.Nodes["deploy"].Start)
			if tc.unhealthy {
				require.ErrorIs(t, err, docker.ErrUnhealthy)
			} else {
				require.NoError(t, err)
			}
			assert.GreaterOrEqual(t, took, tc.want)
			assert.Less(t, took, tc.want+time.Second, "polled every 250ms, it notices within one poll")
		})
	}
}

// unixOrTCP dials the engine of a DOCKER_HOST value.
func dialEngine(host string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	switch {
	case strings.HasPrefix(host, "unix://"):
		path := strings.TrimPrefix(host, "unix://")
		return func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "unix", path) }
	default:
		addr := strings.TrimPrefix(host, "tcp://")
		return func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
}

// On the real engine: the same, with the answer to DELETE
// /containers/<previous> dropped by a wrapping dialer on the engine's
// socket after the engine removed the container.
func TestRealServiceUpdateLostAnswerRetriedThenRolledBack(t *testing.T) {
	t.Parallel()
	_, eng, imgs := realInstance(t)
	ctx := context.Background()
	name := startBackend(t, eng, imgs.V029, "DCMMS_FAIL_RATE=0")
	prev, err := eng.ContainerInspect(ctx, name)
	require.NoError(t, err)

	cut := &faultnet.Cut{Match: func(w []byte) bool {
		return bytes.Contains(w, []byte("DELETE /")) && bytes.Contains(w, []byte("/containers/"+prev.ID))
	}}
	dial := dialEngine(imgs.DockerHost)
	cutEng, err := docker.NewMobyEngine(imgs.DockerHost, func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return cut.Conn(c), nil
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cutEng.Close() })
	inst := docker.NewInstanceWithEngine("test", cutEng)
	a, err := docker.NewServiceUpdate(inst, docker.ServiceUpdate{Target: docker.Target{Container: name}, Image: imgs.V030,
		RemovePrevious: true, HealthTimeout: 20 * time.Second, StopTimeout: 2 * time.Second})
	require.NoError(t, err)
	var seen runbook.Outputs
	rec := &recorder{}
	res, err := (&runbook.Executor{Observer: rec}).Run(ctx, updateThenFail(t, a, &seen), runbook.RunOptions{})
	rec.timeline(t)
	require.ErrorContains(t, err, "smoke test failed")
	require.Equal(t, 1, cut.Fired(), "the answer to the removal of the previous container was dropped")
	assert.Equal(t, 2, res.Nodes["deploy"].Attempts, "the lost answer was retried")
	assert.Equal(t, imgs.V029, seen["previous_image"], "the retry reports the image before the first attempt")
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, "0.2.9", servedVersion(t, eng, name), "the service is back on 0.2.9")
}
