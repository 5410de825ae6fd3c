package testbackend_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/testbackend"
)

type client struct {
	t   *testing.T
	srv *httptest.Server
}

func newServer(t *testing.T, opts testbackend.Options) (*testbackend.Backend, client) {
	t.Helper()
	b := testbackend.New(opts)
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	return b, client{t: t, srv: srv}
}

// do sends a request and returns the status and body.
func (c client) do(method, path, token, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, string(b)
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v
}

type health struct {
	Status, Version, Database string
}

func TestHealth(t *testing.T) {
	b, c := newServer(t, testbackend.Options{Version: "0.2.9"})
	code, body := c.do("GET", "/api/v1/health", "", "")
	if code != 200 {
		t.Fatalf("status %d, body %s", code, body)
	}
	if h := decode[health](t, body); h != (health{"healthy", "0.2.9", "connected"}) {
		t.Errorf("health = %+v", h)
	}

	if code, _ := c.do("POST", "/control/unhealthy", "", ""); code != 200 {
		t.Fatalf("control/unhealthy: %d", code)
	}
	code, body = c.do("GET", "/api/v1/health", "", "")
	if code != 503 || decode[health](t, body).Status != "unhealthy" {
		t.Errorf("after unhealthy: %d %s", code, body)
	}
	if b.Healthy() {
		t.Error("Healthy() = true after /control/unhealthy")
	}

	c.do("POST", "/control/healthy", "", "")
	if code, body := c.do("GET", "/api/v1/health", "", ""); code != 200 {
		t.Errorf("after healthy: %d %s", code, body)
	}

	b.SetHealthy(false)
	if code, _ := c.do("GET", "/api/v1/health", "", ""); code != 503 {
		t.Errorf("after SetHealthy(false): %d", code)
	}
}

func TestStartUnhealthyAndAlwaysUnhealthy(t *testing.T) {
	_, c := newServer(t, testbackend.Options{Unhealthy: true})
	if code, _ := c.do("GET", "/api/v1/health", "", ""); code != 503 {
		t.Errorf("Unhealthy start: %d", code)
	}
	c.do("POST", "/control/healthy", "", "")
	if code, _ := c.do("GET", "/api/v1/health", "", ""); code != 200 {
		t.Errorf("Unhealthy start then reset: %d", code)
	}

	b, c := newServer(t, testbackend.Options{AlwaysUnhealthy: true})
	c.do("POST", "/control/healthy", "", "")
	b.Reset()
	b.SetHealthy(true)
	if code, body := c.do("GET", "/api/v1/health", "", ""); code != 503 {
		t.Errorf("AlwaysUnhealthy: %d %s", code, body)
	}
	if b.State().Healthy {
		t.Error("State().Healthy = true for AlwaysUnhealthy")
	}
}

func TestLoginAndWorkOrders(t *testing.T) {
	b, c := newServer(t, testbackend.Options{Password: "s3cret"})
	if code, _ := c.do("POST", "/api/v1/auth/login", "", `{"email":"a@b.c","password":"wrong"}`); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	if code, _ := c.do("POST", "/api/v1/auth/login", "", `{not json`); code != 400 {
		t.Errorf("bad JSON: %d", code)
	}
	if code, _ := c.do("POST", "/api/v1/auth/login", "", `{"password":"s3cret"}`); code != 400 {
		t.Errorf("missing email: %d", code)
	}
	code, body := c.do("POST", "/api/v1/auth/login", "", `{"email":"a@b.c","password":"s3cret"}`)
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	token := decode[struct{ Token string }](t, body).Token
	if token == "" || token != b.Token("a@b.c") {
		t.Fatalf("token %q, Token() %q", token, b.Token("a@b.c"))
	}

	if code, _ := c.do("GET", "/api/v1/work-orders", "", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _ := c.do("GET", "/api/v1/work-orders", token+"x", ""); code != 401 {
		t.Errorf("bad token: %d", code)
	}
	if code, _ := c.do("GET", "/api/v1/work-orders", testbackend.New(testbackend.Options{}).Token("a@b.c"), ""); code != 401 {
		t.Errorf("token of another backend: %d", code)
	}

	type page struct {
		Data       []map[string]any
		Pagination struct {
			Page       int `json:"page"`
			PerPage    int `json:"per_page"`
			Total      int `json:"total"`
			TotalPages int `json:"total_pages"`
		}
	}
	code, body = c.do("GET", "/api/v1/work-orders?page=3&per_page=20", token, "")
	if code != 200 {
		t.Fatalf("work orders: %d %s", code, body)
	}
	p := decode[page](t, body)
	if len(p.Data) != 2 || p.Pagination.Total != testbackend.DefaultWorkOrders || p.Pagination.TotalPages != 3 || p.Pagination.Page != 3 {
		t.Errorf("page 3 = %d items, pagination %+v", len(p.Data), p.Pagination)
	}
	if p.Data[0]["id"] != "WO-00041" {
		t.Errorf("first id on page 3 = %v", p.Data[0]["id"])
	}
	_, body = c.do("GET", "/api/v1/work-orders?page=9", token, "")
	if p := decode[page](t, body); p.Data == nil || len(p.Data) != 0 {
		t.Errorf("page past the end: %s", body)
	}
	_, body = c.do("GET", "/api/v1/work-orders?status=open&per_page=100", token, "")
	for _, wo := range decode[page](t, body).Data {
		if wo["status"] != "open" {
			t.Errorf("status filter let through %v", wo)
		}
	}
	if code, _ := c.do("GET", "/api/v1/work-orders?per_page=0", token, ""); code != 400 {
		t.Errorf("per_page=0: %d", code)
	}
}

func TestComplianceAndPredict(t *testing.T) {
	_, c := newServer(t, testbackend.Options{})
	code, body := c.do("GET", "/api/v1/compliance/reports", "", "")
	if code != 200 || len(decode[struct{ Data []any }](t, body).Data) == 0 {
		t.Errorf("compliance: %d %s", code, body)
	}

	type prediction struct {
		Anomaly bool
		Score   float64
	}
	code, body = c.do("POST", "/api/v1/ml/predict/anomaly", "", `{"sensor_id":"s1","values":[10,11,10,9,10,11,10,50]}`)
	if p := decode[prediction](t, body); code != 200 || !p.Anomaly || p.Score <= 3 {
		t.Errorf("spike: %d %s", code, body)
	}
	code, body = c.do("POST", "/api/v1/ml/predict/anomaly", "", `{"readings":[10,11,10,9,10,11,10,10.5]}`)
	if p := decode[prediction](t, body); code != 200 || p.Anomaly {
		t.Errorf("normal: %d %s", code, body)
	}
	code, body = c.do("POST", "/api/v1/ml/predict/anomaly", "", `{"values":[5,5,5,6]}`)
	if p := decode[prediction](t, body); code != 200 || !p.Anomaly {
		t.Errorf("flat then change: %d %s", code, body)
	}
	if code, _ := c.do("POST", "/api/v1/ml/predict/anomaly", "", `{"values":[]}`); code != 400 {
		t.Errorf("no values: %d", code)
	}
	if code, _ := c.do("GET", "/api/v1/ml/predict/anomaly", "", ""); code != 405 {
		t.Errorf("GET on predict: %d", code)
	}
}

func TestFailureInjection(t *testing.T) {
	b, c := newServer(t, testbackend.Options{})
	if code, body := c.do("POST", "/control/fail?rate=0.5", "", ""); code != 200 {
		t.Fatalf("control/fail: %d %s", code, body)
	}
	var fails int
	for range 10 {
		if code, _ := c.do("GET", "/api/v1/compliance/reports", "", ""); code == 500 {
			fails++
		} else if code != 200 {
			t.Fatalf("unexpected status %d", code)
		}
	}
	if fails != 5 {
		t.Errorf("rate 0.5: %d of 10 failed", fails)
	}
	// Health is not subject to injected failures.
	if code, _ := c.do("GET", "/api/v1/health", "", ""); code != 200 {
		t.Errorf("health under failure injection: %d", code)
	}
	for _, bad := range []string{"1.5", "-0.1", "abc", "", "NaN"} {
		if code, _ := c.do("POST", "/control/fail?rate="+bad, "", ""); code != 400 {
			t.Errorf("rate=%q: %d", bad, code)
		}
	}
	if err := b.SetFailureRate(2); !errors.Is(err, testbackend.ErrInvalidRate) {
		t.Errorf("SetFailureRate(2) = %v", err)
	}
	if err := b.SetFailureRate(1); err != nil {
		t.Fatal(err)
	}
	if code, _ := c.do("POST", "/api/v1/auth/login", "", `{"email":"a","password":"`+b.Password()+`"}`); code != 500 {
		t.Errorf("rate 1: %d", code)
	}
	c.do("POST", "/control/healthy", "", "")
	if b.FailureRate() != 0 {
		t.Errorf("FailureRate after reset = %v", b.FailureRate())
	}
	if code, _ := c.do("GET", "/api/v1/compliance/reports", "", ""); code != 200 {
		t.Errorf("after reset: %d", code)
	}
}

func TestLatency(t *testing.T) {
	b, c := newServer(t, testbackend.Options{})
	if code, body := c.do("POST", "/control/latency?ms=60", "", ""); code != 200 {
		t.Fatalf("control/latency: %d %s", code, body)
	}
	if b.Latency() != 60*time.Millisecond {
		t.Errorf("Latency() = %s", b.Latency())
	}
	start := time.Now()
	c.do("GET", "/api/v1/health", "", "")
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("health took %s with 60ms latency", d)
	}
	for _, bad := range []string{"-1", "x", "", "600001"} {
		if code, _ := c.do("POST", "/control/latency?ms="+bad, "", ""); code != 400 {
			t.Errorf("ms=%q: %d", bad, code)
		}
	}
	if err := b.SetLatency(-time.Second); !errors.Is(err, testbackend.ErrInvalidLatency) {
		t.Errorf("SetLatency(-1s) = %v", err)
	}
	metrics := scrape(t, c)
	if n := metrics[`http_request_duration_seconds_bucket{method="GET",path="/api/v1/health",le="0.05"}`]; n != 0 {
		t.Errorf("le=0.05 bucket = %v, want 0 with 60ms latency", n)
	}
	if n := metrics[`http_request_duration_seconds_bucket{method="GET",path="/api/v1/health",le="+Inf"}`]; n != 1 {
		t.Errorf("+Inf bucket = %v, want 1", n)
	}
}

func TestControlState(t *testing.T) {
	_, c := newServer(t, testbackend.Options{Version: "9.9.9"})
	c.do("POST", "/control/fail?rate=0.25", "", "")
	c.do("POST", "/control/latency?ms=5", "", "")
	code, body := c.do("GET", "/control/state", "", "")
	s := decode[testbackend.State](t, body)
	if code != 200 || s.Version != "9.9.9" || s.FailureRate != 0.25 || s.LatencyMS != 5 || !s.Healthy {
		t.Errorf("state: %d %+v", code, s)
	}
	if code, _ := c.do("GET", "/control/fail", "", ""); code != 405 {
		t.Errorf("GET /control/fail: %d", code)
	}
}

// scrape parses /metrics into series → value, checking the format loosely.
func scrape(t *testing.T, c client) map[string]float64 {
	t.Helper()
	resp, err := c.srv.Client().Get(c.srv.URL + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", ct)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("bad metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad value in %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read metrics: %v", err)
	}
	return out
}

func TestMetricsReflectTraffic(t *testing.T) {
	b, c := newServer(t, testbackend.Options{Version: "0.3.0"})
	for range 3 {
		c.do("GET", "/api/v1/health", "", "")
	}
	c.do("GET", "/api/v1/work-orders", "", "") // 401
	if err := b.SetFailureRate(1); err != nil {
		t.Fatal(err)
	}
	c.do("GET", "/api/v1/compliance/reports", "", "") // 500
	c.do("GET", "/nope", "", "")                      // 404, unmatched
	c.do("POST", "/control/healthy", "", "")          // not counted
	c.do("GET", "/metrics", "", "")                   // not counted

	m := scrape(t, c)
	want := map[string]float64{
		`http_requests_total{method="GET",path="/api/v1/health",status="200"}`:             3,
		`http_requests_total{method="GET",path="/api/v1/work-orders",status="401"}`:        1,
		`http_requests_total{method="GET",path="/api/v1/compliance/reports",status="500"}`: 1,
		`http_requests_total{method="GET",path="unmatched",status="404"}`:                  1,
		`http_errors_total{method="GET",path="/api/v1/health"}`:                            0,
		`http_errors_total{method="GET",path="/api/v1/compliance/reports"}`:                1,
		`http_request_duration_seconds_count{method="GET",path="/api/v1/health"}`:          3,
		`http_request_duration_seconds_bucket{method="GET",path="/api/v1/health",le="10"}`: 3,
		`dcmms_build_info{version="0.3.0"}`:                                                1,
		`dcmms_healthy`:                                                                    1,
	}
	for k, v := range want {
		got, ok := m[k]
		if !ok {
			t.Errorf("missing series %s", k)
		} else if got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	for k := range m {
		if strings.Contains(k, "/control/") || strings.Contains(k, `"/metrics"`) {
			t.Errorf("control or metrics request counted: %s", k)
		}
	}
	if s := b.State(); s.Requests != 6 || s.Errors != 1 {
		t.Errorf("State() requests=%d errors=%d, want 6 and 1", s.Requests, s.Errors)
	}
	if got := testbackend.DurationBuckets(); len(got) == 0 || got[len(got)-1] != 10 {
		t.Errorf("DurationBuckets() = %v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	b, c := newServer(t, testbackend.Options{})
	if err := b.SetFailureRate(0.1); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 25 {
				resp, err := c.srv.Client().Get(c.srv.URL + "/api/v1/compliance/reports")
				if err != nil {
					t.Errorf("get: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if j%5 == 0 {
					b.SetHealthy(i%2 == 0)
					_ = b.SetLatency(time.Duration(j%2) * time.Millisecond)
					_ = b.State()
				}
			}
		}()
	}
	wg.Wait()
	if s := b.State(); s.Requests != 200 || s.Errors != 20 {
		t.Errorf("requests=%d errors=%d, want 200 and 20", s.Requests, s.Errors)
	}
}
