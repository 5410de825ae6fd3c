package http_test

import (
	"context"
	"encoding/json"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"testing"
	"time"

	httpprov "github.com/handrail-dev/handrail/providers/http"
	"github.com/handrail-dev/handrail/providers/http/httpfake"
	"github.com/handrail-dev/handrail/runbook"
)

const benchBody = `{"status":"healthy","version":"0.3.0","database":"connected","uptime":12.5}`

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, benchBody)
	}))
	b.Cleanup(srv.Close)
	return srv
}

var benchExpect = []httpprov.Expectation{
	httpprov.Equal("status", "healthy"), httpprov.Equal("version", "0.3.0"), httpprov.Equal("database", "connected"),
}

// BenchmarkAnchorRawGET is the floor: a keep-alive GET with net/http, the
// body read and decoded into a map, the three fields compared by hand.
func BenchmarkAnchorRawGET(b *testing.B) {
	srv := benchServer(b)
	client := &nethttp.Client{Transport: nethttp.DefaultTransport.(*nethttp.Transport).Clone()}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(srv.URL + "/api/v1/health")
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			b.Fatal(err)
		}
		if m["status"] != "healthy" || m["version"] != "0.3.0" || m["database"] != "connected" {
			b.Fatal("unexpected body")
		}
	}
}

// BenchmarkCheckSample is one gate sample of http_check with three
// expectations against the same server.
func BenchmarkCheckSample(b *testing.B) {
	srv := benchServer(b)
	inst, err := (&httpprov.Provider{}).NewInstance("app", httpprov.Config{BaseURL: srv.URL, Headers: map[string]string{"Authorization": "Bearer bench-token"}})
	if err != nil {
		b.Fatal(err)
	}
	chk, err := httpprov.NewCheck(inst, httpprov.Request{URL: "/api/v1/health", Expect: benchExpect})
	if err != nil {
		b.Fatal(err)
	}
	env := runbook.NewEnv(runbook.EnvConfig{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, err := chk.Sample(ctx, env)
		if err != nil || s.Outputs["ok"] != true {
			b.Fatal(err, s.Outputs["failures"])
		}
	}
}

// BenchmarkCheckStep is http_check as a step (Do).
func BenchmarkCheckStep(b *testing.B) {
	srv := benchServer(b)
	inst, err := (&httpprov.Provider{}).NewInstance("app", httpprov.Config{BaseURL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	chk, err := httpprov.NewCheck(inst, httpprov.Request{URL: "/api/v1/health", Expect: benchExpect})
	if err != nil {
		b.Fatal(err)
	}
	env := runbook.NewEnv(runbook.EnvConfig{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := chk.Do(ctx, env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckSampleFake is the same sample against httpfake in process
// (no network): what a sandbox run pays per probe.
func BenchmarkCheckSampleFake(b *testing.B) {
	w := httpfake.New()
	w.Route("GET", "/api/v1/health").Reply(httpfake.Response{Status: 200, Body: benchBody})
	inst, err := w.Provider().(*httpprov.Provider).NewInstance("app", httpprov.Config{BaseURL: "https://dcmms.com"})
	if err != nil {
		b.Fatal(err)
	}
	chk, err := httpprov.NewCheck(inst, httpprov.Request{URL: "/api/v1/health", Expect: benchExpect})
	if err != nil {
		b.Fatal(err)
	}
	env := runbook.NewEnv(runbook.EnvConfig{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := chk.Sample(ctx, env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPaired alternates the anchor (raw GET + decode + compare) and an
// http_check sample in one loop, so both see the same machine load, and
// reports each one's mean and the difference: the probe's overhead.
func BenchmarkPaired(b *testing.B) {
	srv := benchServer(b)
	client := &nethttp.Client{Transport: nethttp.DefaultTransport.(*nethttp.Transport).Clone()}
	inst, err := (&httpprov.Provider{}).NewInstance("app", httpprov.Config{BaseURL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	chk, err := httpprov.NewCheck(inst, httpprov.Request{URL: "/api/v1/health", Expect: benchExpect})
	if err != nil {
		b.Fatal(err)
	}
	env := runbook.NewEnv(runbook.EnvConfig{})
	ctx := context.Background()
	var raw, probe time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		resp, err := client.Get(srv.URL + "/api/v1/health")
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil || m["status"] != "healthy" || m["version"] != "0.3.0" || m["database"] != "connected" {
			b.Fatal("unexpected body", err)
		}
		t1 := time.Now()
		if s, err := chk.Sample(ctx, env); err != nil || s.Outputs["ok"] != true {
			b.Fatal(err)
		}
		probe += time.Since(t1)
		raw += t1.Sub(t0)
		n++
	}
	b.ReportMetric(float64(raw.Nanoseconds())/float64(n), "raw-ns/op")
	b.ReportMetric(float64(probe.Nanoseconds())/float64(n), "check-ns/op")
	b.ReportMetric(float64((probe-raw).Nanoseconds())/float64(n), "overhead-ns/op")
}
