package prometheus_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/runbook"
)

const vectorBody = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795662000.123,"0.0042"]}]}}`

func vectorServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, vectorBody)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkAnchorRawQuery is the floor: a form POST to /api/v1/query and
// the envelope decoded into a generic map.
func BenchmarkAnchorRawQuery(b *testing.B) {
	srv := vectorServer(b)
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	form := url.Values{"query": {`sum(rate(http_errors_total[1m]))`}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post(srv.URL+"/api/v1/query", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil || m["status"] != "success" {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuerySample is one gate sample of prometheus_query.
func BenchmarkQuerySample(b *testing.B) {
	srv := vectorServer(b)
	inst, err := (&prometheus.Provider{}).NewInstance("main", prometheus.Config{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	q, err := prometheus.NewQuery(inst, `sum(rate(http_errors_total[1m]))`)
	if err != nil {
		b.Fatal(err)
	}
	env := runbook.NewEnv(runbook.EnvConfig{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, err := q.Sample(ctx, env)
		if err != nil || s.Value != 0.0042 {
			b.Fatal(err, s.Value)
		}
	}
}

// BenchmarkPaired alternates the anchor (raw POST + decode) and a
// prometheus_query sample in one loop and reports both and the difference.
func BenchmarkPaired(b *testing.B) {
	srv := vectorServer(b)
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	form := url.Values{"query": {`sum(rate(http_errors_total[1m]))`}}.Encode()
	inst, err := (&prometheus.Provider{}).NewInstance("main", prometheus.Config{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	q, err := prometheus.NewQuery(inst, `sum(rate(http_errors_total[1m]))`)
	if err != nil {
		b.Fatal(err)
	}
	env := runbook.NewEnv(runbook.EnvConfig{})
	ctx := context.Background()
	var raw, probe time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		resp, err := client.Post(srv.URL+"/api/v1/query", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil || m["status"] != "success" {
			b.Fatal(err)
		}
		t1 := time.Now()
		if s, err := q.Sample(ctx, env); err != nil || s.Value != 0.0042 {
			b.Fatal(err)
		}
		probe += time.Since(t1)
		raw += t1.Sub(t0)
		n++
	}
	b.ReportMetric(float64(raw.Nanoseconds())/float64(n), "raw-ns/op")
	b.ReportMetric(float64(probe.Nanoseconds())/float64(n), "query-ns/op")
	b.ReportMetric(float64((probe-raw).Nanoseconds())/float64(n), "overhead-ns/op")
}
