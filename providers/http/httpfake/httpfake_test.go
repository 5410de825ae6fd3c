package httpfake_test

import (
	"context"
	"errors"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/fault"
	httpprov "github.com/handrail-dev/handrail/providers/http"
	"github.com/handrail-dev/handrail/providers/http/httpfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

func configure(t *testing.T, w *httpfake.World) (provider.ActionType, provider.Instance) {
	t.Helper()
	p := w.Provider()
	inst, err := p.Configure(context.Background(), "app", cty.ObjectVal(map[string]cty.Value{"base_url": cty.StringVal("https://dcmms.com")}))
	require.NoError(t, err)
	return p.Actions()["http_check"], inst
}

func TestScriptByCalls(t *testing.T) {
	w := httpfake.New()
	w.Route("GET", "/api/v1/health").
		Reply(httpfake.JSON(503, map[string]any{"status": "starting"})).
		FromCall(3, httpfake.JSON(200, map[string]any{"status": "healthy"}))
	at, inst := configure(t, w)
	act, err := at.New(inst, cty.ObjectVal(map[string]cty.Value{"url": cty.StringVal("/api/v1/health"),
		"expect": cty.ObjectVal(map[string]cty.Value{"status": cty.StringVal("healthy")})}))
	require.NoError(t, err)
	env := runbook.NewEnv(runbook.EnvConfig{})
	for i := 1; i <= 2; i++ {
		_, err := act.Do(context.Background(), env)
		assert.ErrorContains(t, err, `status: want "healthy", got "starting"`)
	}
	out, err := act.Do(context.Background(), env)
	require.NoError(t, err)
	assert.Equal(t, 200, out["status_code"])
	assert.Equal(t, 3, w.CallCount("GET", "/api/v1/health"))
	assert.Equal(t, "https://dcmms.com/api/v1/health", w.Calls()[0].URL)
}

// TestUnhealthyDuringSoak: the health endpoint turns unhealthy 9 minutes
// into the soak, on the simulated clock; the soak fails at that minute.
func TestUnhealthyDuringSoak(t *testing.T) {
	start := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)
	clock := runbook.NewSimClock(start)
	w := httpfake.New()
	w.SetClock(clock)
	w.Route("GET", "/api/v1/health").
		Reply(httpfake.JSON(200, map[string]any{"status": "healthy"})).
		AfterNode("soak_50", 9*time.Minute, httpfake.JSON(503, map[string]any{"status": "unhealthy"}))
	_, inst := configure(t, w)
	chk, err := httpprov.NewCheck(inst.(*httpprov.Instance), httpprov.Request{URL: "/api/v1/health", Expect: []httpprov.Expectation{httpprov.Equal("status", "healthy")}})
	require.NoError(t, err)
	b := runbook.NewBuilder("soak")
	b.Step(runbook.Step{Name: "deploy", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
		return nil, env.Clock().Sleep(ctx, 5*time.Minute)
	})})
	b.Gate(runbook.Gate{Name: "soak_50", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: 30 * time.Second,
		Checks: []runbook.Check{{Name: "health", Probe: chk, Success: httpprov.OK()}}})
	plan, err := b.Build()
	require.NoError(t, err)
	res, err := (&runbook.Executor{Clock: clock, Observer: w}).Run(context.Background(), plan, runbook.RunOptions{})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, start.Add(14*time.Minute), clock.Now())
	assert.Equal(t, 19, w.CallCount("GET", "/api/v1/health"))
}

func TestRequireHeaderAndLatency(t *testing.T) {
	clock := runbook.NewSimClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	w := httpfake.New()
	w.SetClock(clock)
	w.Route("POST", "/api/v1/auth/login").Reply(httpfake.JSON(200, map[string]any{"token": "tok-123"}))
	orders := w.Route("GET", "/api/v1/work-orders").RequireHeader("Authorization", "Bearer tok-123")
	orders.Reply(httpfake.Response{Status: 200, Body: `{"data":[]}`, Latency: 120 * time.Millisecond})
	_, inst := configure(t, w)
	i := inst.(*httpprov.Instance)
	anon, err := httpprov.NewCheck(i, httpprov.Request{URL: "/api/v1/work-orders"})
	require.NoError(t, err)
	_, err = anon.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Clock: clock}))
	assert.ErrorContains(t, err, "status: want 2xx, got 401")

	authed, err := httpprov.NewCheck(i, httpprov.Request{URL: "/api/v1/work-orders", Headers: map[string]string{"Authorization": "Bearer tok-123"}})
	require.NoError(t, err)
	// Move the clock by hand while the fake sleeps.
	done := make(chan runbook.Outputs)
	go func() {
		out, err := authed.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Clock: clock}))
		assert.NoError(t, err)
		done <- out
	}()
	var out runbook.Outputs
	for out == nil {
		select {
		case out = <-done:
		case <-time.After(time.Millisecond):
			clock.Advance(10 * time.Millisecond)
		}
	}
	assert.InDelta(t, 120, out["latency_ms"], 10)
	assert.Equal(t, 2, orders.Calls())
	_, err = mustCheck(t, i, "/nope").Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	assert.ErrorContains(t, err, "status: want 2xx, got 404")
}

func mustCheck(t *testing.T, i *httpprov.Instance, url string) *httpprov.Check {
	c, err := httpprov.NewCheck(i, httpprov.Request{URL: url})
	require.NoError(t, err)
	return c
}

func TestFaultLosesTheAnswerAfterTheEndpointSawTheRequest(t *testing.T) {
	w := httpfake.New()
	w.Route("POST", "/api/cache/purge").Reply(httpfake.Text(200, "purged"))
	w.Faults().Arm("POST /api/cache/purge", fault.Fault{Kind: fault.After})
	req, err := http.NewRequest("POST", "http://app.internal/api/cache/purge", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Do(req); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("want a connection reset, got %v", err)
	}
	if n := w.CallCount("POST", "/api/cache/purge"); n != 1 {
		t.Fatalf("the endpoint saw %d requests, want 1 (the answer is lost, not the request)", n)
	}
	w.Faults().Arm("POST /api/cache/purge", fault.Fault{Kind: fault.Before})
	if _, err := w.Do(req); !errors.Is(err, fault.ErrInjected) {
		t.Fatalf("want an injected failure, got %v", err)
	}
	if n := w.CallCount("POST", "/api/cache/purge"); n != 1 {
		t.Fatalf("a request failed before reaching the endpoint was seen: %d", n)
	}
}
