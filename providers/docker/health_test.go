package docker_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/docker/dockerfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/require"
)

func TestHealthURLAndNoHealthcheck(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if healthy.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	tests := []struct {
		name      string
		url       string
		healthy   bool
		wantErr   error
		wantState string
	}{
		{name: "no healthcheck, no url: running is enough", wantState: "none"},
		{name: "url answers 200", url: srv.URL, healthy: true, wantState: "none"},
		{name: "url answers 503 until the timeout", url: srv.URL, healthy: false, wantErr: runbook.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			healthy.Store(tt.healthy)
			w := dockerfake.New()
			w.AddImage(dockerfake.Image{Ref: "app:1", NoHealthcheck: true})
			w.AddImage(dockerfake.Image{Ref: "app:2", NoHealthcheck: true})
			_, err := w.RunContainer("app", "app:1", nil)
			require.NoError(t, err)
			a, err := docker.NewServiceUpdate(w.Instance("x"), docker.ServiceUpdate{
				Target: docker.Target{Container: "app"}, Image: "app:2", HealthURL: tt.url, HealthTimeout: 10 * time.Second,
			})
			require.NoError(t, err)
			clock := runbook.NewSimClock(time.Unix(0, 0))
			env := runbook.NewEnv(runbook.EnvConfig{Node: "deploy", Clock: clock})
			done := make(chan struct{})
			var out runbook.Outputs
			go func() {
				defer close(done)
				out, err = a.Do(context.Background(), env)
			}()
			// Outside an executor the simulated clock moves by hand.
			for {
				select {
				case <-done:
				default:
					clock.Advance(time.Second)
					time.Sleep(time.Millisecond)
					continue
				}
				break
			}
			c, _ := w.Container("app")
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorIs(t, err, docker.ErrUnhealthy)
				require.Contains(t, err.Error(), "answered 503")
				require.Equal(t, "app:1", c.Image)
				require.True(t, c.Running)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantState, out["health"])
			require.Equal(t, "app:2", c.Image)
		})
	}
}
