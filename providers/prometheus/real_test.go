package prometheus_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/testbackend"
	"github.com/handrail-dev/handrail/internal/testenv"
	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const errorRate = `sum(rate(http_errors_total[5s])) / sum(rate(http_requests_total[5s]))`

// startPrometheus runs the prometheus binary on a free loopback port,
// scraping target every second, and returns its URL once it is ready.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: backend
    static_configs:
      - targets: [%q]
`, target)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	log, err := os.Create(filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log.Close()
	})
	u := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(u + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return u
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Fatalf("prometheus not ready after 10s: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// traffic calls the backend's API every few milliseconds until stopped.
func traffic(t *testing.T, base string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				resp, err := http.Get(base + "/api/v1/compliance/reports")
				if err == nil {
					resp.Body.Close()
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func soakPlan(t *testing.T, q *prometheus.Query, name string) *runbook.Plan {
	t.Helper()
	b := runbook.NewBuilder(name)
	b.Gate(runbook.Gate{Name: name, Kind: runbook.GateSoak, Every: time.Second, Duration: 6 * time.Second,
		Checks: []runbook.Check{{Name: "error_rate", Probe: q, Threshold: "< 0.05", ErrorLimit: 0,
			Success: runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) { return v.(float64) < 0.05, nil })}}})
	p, err := b.Build()
	require.NoError(t, err)
	return p
}

// TestRealPrometheus: a soak gate on the real clock passes while the
// backend is healthy and fails within one interval of it starting to fail.
func TestRealPrometheus(t *testing.T) {
	bin := testenv.PrometheusBin(t)
	backend := testbackend.New(testbackend.Options{})
	srv := httptest.NewServer(backend)
	defer srv.Close()
	target, err := url.Parse(srv.URL)
	require.NoError(t, err)
	t0 := time.Now()
	promURL := startPrometheus(t, bin, target.Host)
	t.Logf("prometheus ready after %s", time.Since(t0).Round(time.Millisecond))
	traffic(t, srv.URL)

	inst, err := (&prometheus.Provider{}).NewInstance("main", prometheus.Config{URL: promURL, Timeout: 5 * time.Second})
	require.NoError(t, err)
	q, err := prometheus.NewQuery(inst, errorRate)
	require.NoError(t, err)

	// Wait until the error rate has data (two scrapes in the window).
	env := runbook.NewEnv(runbook.EnvConfig{})
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := q.Sample(context.Background(), env)
		require.NoError(t, err)
		if !s.NoData {
			assert.Equal(t, 0.0, s.Value)
			break
		}
		require.False(t, time.Now().After(deadline), "no error-rate data after 10s")
		time.Sleep(200 * time.Millisecond)
	}

	t.Logf("error-rate data after %s", time.Since(t0).Round(time.Millisecond))

	// A baseline of the request rate over the last 2 seconds.
	base, err := prometheus.NewBaseline(inst, prometheus.BaselineConfig{Query: `sum(rate(http_requests_total[5s]))`, Window: 2 * time.Second, Step: time.Second, Reduce: prometheus.ReduceMax})
	require.NoError(t, err)
	out, err := base.Do(context.Background(), env)
	require.NoError(t, err)
	assert.Greater(t, out["value"].(float64), 10.0, "requests per second")

	ex := &runbook.Executor{}
	start := time.Now()
	res, err := ex.Run(context.Background(), soakPlan(t, q, "soak_healthy"), runbook.RunOptions{})
	require.NoError(t, err, "healthy soak")
	assert.Equal(t, runbook.StatusSucceeded, res.Status)
	assert.GreaterOrEqual(t, time.Since(start), 6*time.Second)

	// Start failing 2 s into the second soak.
	failedAt := make(chan time.Time, 1)
	timer := time.AfterFunc(2*time.Second, func() {
		require.NoError(t, backend.SetFailureRate(0.5))
		failedAt <- time.Now()
	})
	defer timer.Stop()
	res, err = ex.Run(context.Background(), soakPlan(t, q, "soak_failing"), runbook.RunOptions{})
	ended := time.Now()
	require.Error(t, err)
	assert.ErrorIs(t, err, runbook.ErrGateFailed)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	detect := ended.Sub(<-failedAt)
	t.Logf("breach detected %s after the backend started failing (scrape 1s, every 1s)", detect.Round(time.Millisecond))
	// One sampling interval, plus one scrape interval for the failure to
	// reach Prometheus, plus slack for a loaded CI machine.
	assert.Less(t, detect, 2*time.Second+750*time.Millisecond)
	samples := res.Nodes["soak_failing"].Samples
	require.NotEmpty(t, samples)
	last := samples[len(samples)-1]
	assert.Equal(t, engine.VerdictFail, last.Verdict)
	t.Logf("last sample: %v", last.Value)
}
