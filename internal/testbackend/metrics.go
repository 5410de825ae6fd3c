package testbackend

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// durationBuckets are the upper bounds, in seconds, of the
// http_request_duration_seconds histogram (Prometheus' default buckets).
// Never modified.
var durationBuckets = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// DurationBuckets returns the upper bounds, in seconds, of the
// http_request_duration_seconds histogram buckets (Prometheus' default
// buckets; the +Inf bucket is implied).
func DurationBuckets() []float64 { return slices.Clone(durationBuckets[:]) }

// requestKey labels http_requests_total.
type requestKey struct {
	method, path string
	status       int
}

// routeKey labels http_errors_total and http_request_duration_seconds.
type routeKey struct {
	method, path string
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

// metrics holds the traffic counters. It is guarded by Backend.mu.
type metrics struct {
	requests  map[requestKey]uint64
	errors    map[routeKey]uint64
	durations map[routeKey]*histogram
}

func newMetrics() metrics {
	return metrics{
		requests:  make(map[requestKey]uint64),
		errors:    make(map[routeKey]uint64),
		durations: make(map[routeKey]*histogram),
	}
}

// observe records one served request.
func (b *Backend) observe(method, path string, status int, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := &b.metrics
	m.requests[requestKey{method, path, status}]++
	rk := routeKey{method, path}
	// Every route that served traffic has an error series, zero when it never
	// failed, so that error-rate queries answer 0 rather than nothing.
	m.errors[rk] += 0
	if status >= 500 {
		m.errors[rk]++
	}
	h := m.durations[rk]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(durationBuckets))}
		m.durations[rk] = h
	}
	secs := d.Seconds()
	for i, le := range durationBuckets {
		if secs <= le {
			h.counts[i]++
			break
		}
	}
	h.sum += secs
	h.count++
}

// writeMetrics writes the metrics in the Prometheus text exposition format
// (version 0.0.4), series sorted by labels.
func (b *Backend) writeMetrics(w io.Writer) error {
	var sb strings.Builder
	b.mu.Lock()
	m := &b.metrics
	healthy := b.healthy && !b.alwaysUnhealthy

	sb.WriteString("# HELP http_requests_total Total number of HTTP requests served, by method, route and status code.\n")
	sb.WriteString("# TYPE http_requests_total counter\n")
	reqKeys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		reqKeys = append(reqKeys, k)
	}
	slices.SortFunc(reqKeys, func(a, c requestKey) int {
		if r := strings.Compare(a.path, c.path); r != 0 {
			return r
		}
		if r := strings.Compare(a.method, c.method); r != 0 {
			return r
		}
		return a.status - c.status
	})
	for _, k := range reqKeys {
		fmt.Fprintf(&sb, "http_requests_total{method=%s,path=%s,status=\"%d\"} %d\n",
			quote(k.method), quote(k.path), k.status, m.requests[k])
	}

	routes := make([]routeKey, 0, len(m.errors))
	for k := range m.errors {
		routes = append(routes, k)
	}
	slices.SortFunc(routes, func(a, c routeKey) int {
		if r := strings.Compare(a.path, c.path); r != 0 {
			return r
		}
		return strings.Compare(a.method, c.method)
	})

	sb.WriteString("# HELP http_errors_total Total number of HTTP requests answered with a 5xx status, by method and route.\n")
	sb.WriteString("# TYPE http_errors_total counter\n")
	for _, k := range routes {
		fmt.Fprintf(&sb, "http_errors_total{method=%s,path=%s} %d\n", quote(k.method), quote(k.path), m.errors[k])
	}

	sb.WriteString("# HELP http_request_duration_seconds Time taken to serve HTTP requests, by method and route.\n")
	sb.WriteString("# TYPE http_request_duration_seconds histogram\n")
	for _, k := range routes {
		h := m.durations[k]
		if h == nil {
			continue
		}
		labels := "method=" + quote(k.method) + ",path=" + quote(k.path)
		var cum uint64
		for i, le := range durationBuckets {
			cum += h.counts[i]
			fmt.Fprintf(&sb, "http_request_duration_seconds_bucket{%s,le=\"%s\"} %d\n", labels, formatFloat(le), cum)
		}
		fmt.Fprintf(&sb, "http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels, h.count)
		fmt.Fprintf(&sb, "http_request_duration_seconds_sum{%s} %s\n", labels, formatFloat(h.sum))
		fmt.Fprintf(&sb, "http_request_duration_seconds_count{%s} %d\n", labels, h.count)
	}
	b.mu.Unlock()

	sb.WriteString("# HELP dcmms_build_info Build information of the running dcmms-backend; always 1.\n")
	sb.WriteString("# TYPE dcmms_build_info gauge\n")
	fmt.Fprintf(&sb, "dcmms_build_info{version=%s} 1\n", quote(b.version))
	sb.WriteString("# HELP dcmms_healthy Whether the health endpoint currently answers 200 (1) or 503 (0).\n")
	sb.WriteString("# TYPE dcmms_healthy gauge\n")
	if healthy {
		sb.WriteString("dcmms_healthy 1\n")
	} else {
		sb.WriteString("dcmms_healthy 0\n")
	}
	sb.WriteString("# HELP dcmms_start_time_seconds Start time of the service since the Unix epoch in seconds.\n")
	sb.WriteString("# TYPE dcmms_start_time_seconds gauge\n")
	fmt.Fprintf(&sb, "dcmms_start_time_seconds %s\n", formatFloat(float64(b.startedAt.UnixMilli())/1000))

	if _, err := io.WriteString(w, sb.String()); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

func (b *Backend) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	// A failed write means the client went away; there is no one to tell.
	_ = b.writeMetrics(w)
}

// quote renders a label value with the escapes the exposition format needs.
func quote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
