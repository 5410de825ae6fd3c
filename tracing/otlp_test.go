package tracing_test

import (
	"compress/gzip"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/handrail-dev/handrail/tracing"
)

// TestOTLPHTTP sends a run's trace through the OTLP/HTTP exporter, set up
// from the standard environment variables, to an in-process receiver that
// decodes the protobuf as a collector would.
func TestOTLPHTTP(t *testing.T) {
	var mu sync.Mutex
	var names []string
	var service string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want POST /v1/traces with application/x-protobuf", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req collector.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.Resource.Attributes {
				if a.Key == "service.name" {
					service = a.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
		mu.Unlock()
		out, _ := proto.Marshal(&collector.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "release-train")
	tp, err := tracing.Setup(context.Background())
	require.NoError(t, err)
	run(t, tracing.NewObserver(context.Background(), tp))
	require.NoError(t, tp.Shutdown(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "release-train", service, "OTEL_SERVICE_NAME names the service")
	for _, want := range []string{tracing.SpanRun, tracing.SpanPhase, tracing.SpanStep, tracing.SpanGate, tracing.SpanAttempt, tracing.SpanRollback, tracing.SpanCompensation} {
		assert.Contains(t, names, want)
	}
	assert.Len(t, names, 14, "run, phase, 3 steps + 1 gate, 5 attempts, rollback, 2 compensations")
}

// receiver is an in-process OTLP/HTTP receiver that decodes requests with
// the collector's own protobuf types, as a real collector would.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []*collector.ExportTraceServiceRequest
	headers  []http.Header
	paths    []string
	// answer, when set, answers instead of the default 200 for the n-th
	// request (1-based); returning false falls through to the default.
	answer func(n int, w http.ResponseWriter) bool
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	n := len(rc.headers) + 1
	rc.headers = append(rc.headers, r.Header.Clone())
	rc.paths = append(rc.paths, r.URL.Path)
	answer := rc.answer
	rc.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST with application/x-protobuf", http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if answer != nil && answer(n, w) {
		return
	}
	var req collector.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.requests = append(rc.requests, &req)
	rc.mu.Unlock()
	out, _ := proto.Marshal(&collector.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// spansOf records spans of every shape the exporter must encode: a server
// root with attributes of every type under a resource and a versioned
// scope, a child under a remote parent with events, an error status and a
// link, and a span of a second scope.
func spansOf(t *testing.T) []sdktrace.ReadOnlySpan {
	rec := tracetest.NewSpanRecorder()
	res := resource.NewSchemaless(attribute.String("service.name", "release-train"), attribute.Int("host.cpus", 2))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res))
	tr := tp.Tracer("handrail-test", trace.WithInstrumentationVersion("1.2.3"), trace.WithSchemaURL("https://opentelemetry.io/schemas/1.26.0"))
	t1 := time.Date(2026, 12, 5, 20, 0, 0, 123456789, time.UTC)

	ctx, root := tr.Start(context.Background(), "root", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(t1),
		trace.WithAttributes(
			attribute.String("s", "ünïcode"), attribute.Int64("i", -42), attribute.Float64("f", 0.25), attribute.Bool("b", true),
			attribute.StringSlice("ss", []string{"a", "b"}), attribute.Int64Slice("is", []int64{1, -2}),
			attribute.Float64Slice("fs", []float64{1.5}), attribute.BoolSlice("bs", []bool{true, false}),
		))
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{8, 7, 6, 5, 4, 3, 2, 1}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	_, child := tr.Start(trace.ContextWithRemoteSpanContext(context.Background(), remote), "child",
		trace.WithTimestamp(t1.Add(time.Second)), trace.WithLinks(trace.Link{SpanContext: root.SpanContext(), Attributes: []attribute.KeyValue{attribute.String("why", "undoes")}}))
	child.AddEvent("sample", trace.WithTimestamp(t1.Add(1500*time.Millisecond)), trace.WithAttributes(attribute.Float64("value", 0.1), attribute.String("verdict", "pass")))
	child.AddEvent("bare", trace.WithTimestamp(t1.Add(1600*time.Millisecond)))
	child.SetStatus(codes.Error, "connection reset")
	child.End(trace.WithTimestamp(t1.Add(2 * time.Second)))

	_, inner := tr.Start(ctx, "inner", trace.WithTimestamp(t1.Add(3*time.Second)))
	inner.SetStatus(codes.Ok, "")
	inner.End(trace.WithTimestamp(t1.Add(4 * time.Second)))
	_, other := tp.Tracer("other-scope").Start(ctx, "other", trace.WithTimestamp(t1.Add(5*time.Second)))
	other.End(trace.WithTimestamp(t1.Add(6 * time.Second)))
	root.End(trace.WithTimestamp(t1.Add(7 * time.Second)))
	spans := rec.Ended()
	require.Len(t, spans, 4)
	return spans
}

// TestExporterEncoding: every field of every span, decoded by the
// collector's protobuf types, equals what the SDK recorded.
func TestExporterEncoding(t *testing.T) {
	rc := newReceiver(t)
	exp, err := tracing.NewExporter(tracing.ExporterConfig{URL: rc.srv.URL + "/v1/traces"})
	require.NoError(t, err)
	spans := spansOf(t)
	require.NoError(t, exp.ExportSpans(context.Background(), spans))
	require.Len(t, rc.requests, 1)
	req := rc.requests[0]

	require.Len(t, req.ResourceSpans, 1, "one resource")
	rs := req.ResourceSpans[0]
	assert.Equal(t, map[string]any{"service.name": "release-train", "host.cpus": int64(2)}, kvMap(rs.Resource.Attributes))
	require.Len(t, rs.ScopeSpans, 2, "two scopes")
	assert.Equal(t, "handrail-test", rs.ScopeSpans[0].Scope.Name)
	assert.Equal(t, "1.2.3", rs.ScopeSpans[0].Scope.Version)
	assert.Equal(t, "https://opentelemetry.io/schemas/1.26.0", rs.ScopeSpans[0].SchemaUrl)
	assert.Equal(t, "other-scope", rs.ScopeSpans[1].Scope.Name)

	got := map[string]*tracepb.Span{}
	for _, ss := range rs.ScopeSpans {
		for _, s := range ss.Spans {
			got[s.Name] = s
		}
	}
	require.Len(t, got, len(spans))
	for _, want := range spans {
		s := got[want.Name()]
		require.NotNil(t, s, want.Name())
		tid, sid := want.SpanContext().TraceID(), want.SpanContext().SpanID()
		assert.Equal(t, tid[:], s.TraceId, "%s trace id", want.Name())
		assert.Equal(t, sid[:], s.SpanId, "%s span id", want.Name())
		if p := want.Parent().SpanID(); p.IsValid() {
			assert.Equal(t, p[:], s.ParentSpanId, "%s parent", want.Name())
		} else {
			assert.Empty(t, s.ParentSpanId, "%s has no parent", want.Name())
		}
		assert.Equal(t, uint64(want.StartTime().UnixNano()), s.StartTimeUnixNano, "%s start", want.Name())
		assert.Equal(t, uint64(want.EndTime().UnixNano()), s.EndTimeUnixNano, "%s end", want.Name())
		assert.Equal(t, kvMap(keyValuesOf(want.Attributes())), kvMap(s.Attributes), "%s attributes", want.Name())
		assert.Equal(t, want.Status().Description, s.Status.GetMessage(), "%s status message", want.Name())
		require.Len(t, s.Events, len(want.Events()), "%s events", want.Name())
		for i, ev := range want.Events() {
			assert.Equal(t, ev.Name, s.Events[i].Name)
			assert.Equal(t, uint64(ev.Time.UnixNano()), s.Events[i].TimeUnixNano)
			assert.Equal(t, kvMap(keyValuesOf(ev.Attributes)), kvMap(s.Events[i].Attributes))
		}
	}
	root, child, inner := got["root"], got["child"], got["inner"]
	assert.Equal(t, tracepb.Span_SPAN_KIND_SERVER, root.Kind)
	assert.Equal(t, tracepb.Span_SPAN_KIND_INTERNAL, child.Kind)
	assert.Equal(t, map[string]any{"s": "ünïcode", "i": int64(-42), "f": 0.25, "b": true,
		"ss": []any{"a", "b"}, "is": []any{int64(1), int64(-2)}, "fs": []any{1.5}, "bs": []any{true, false}}, kvMap(root.Attributes))
	assert.Equal(t, tracepb.Status_STATUS_CODE_ERROR, child.Status.Code)
	assert.Equal(t, "connection reset", child.Status.Message)
	assert.Equal(t, tracepb.Status_STATUS_CODE_OK, inner.Status.Code)
	assert.Equal(t, tracepb.Status_STATUS_CODE_UNSET, root.Status.GetCode())
	assert.Equal(t, []byte{8, 7, 6, 5, 4, 3, 2, 1}, child.ParentSpanId)
	assert.Equal(t, root.SpanId, inner.ParentSpanId)
	assert.Equal(t, root.TraceId, inner.TraceId)
	assert.Equal(t, uint64(time.Date(2026, 12, 5, 20, 0, 0, 123456789, time.UTC).UnixNano()), root.StartTimeUnixNano)
	assert.Equal(t, map[string]any{"value": 0.1, "verdict": "pass"}, kvMap(child.Events[0].Attributes))
	assert.Equal(t, uint32(0x301), child.Flags, "sampled, parent known to be remote")
	assert.Equal(t, uint32(0x101), root.Flags, "sampled, parent known not remote")
	require.Len(t, child.Links, 1)
	assert.Equal(t, root.SpanId, child.Links[0].SpanId)
	assert.Equal(t, root.TraceId, child.Links[0].TraceId)
	assert.Equal(t, map[string]any{"why": "undoes"}, kvMap(child.Links[0].Attributes))
}

func keyValuesOf(kvs []attribute.KeyValue) []*commonpb.KeyValue {
	out := make([]*commonpb.KeyValue, len(kvs))
	for i, kv := range kvs {
		var v any
		switch kv.Value.Type() {
		case attribute.STRINGSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.BOOLSLICE:
			t := reflectSlice(kv.Value.AsInterface())
			arr := make([]*commonpb.AnyValue, len(t))
			for j, e := range t {
				arr[j] = anyOf(e)
			}
			out[i] = &commonpb.KeyValue{Key: string(kv.Key), Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: arr}}}}
			continue
		default:
			v = kv.Value.AsInterface()
		}
		out[i] = &commonpb.KeyValue{Key: string(kv.Key), Value: anyOf(v)}
	}
	return out
}

func reflectSlice(v any) []any {
	var out []any
	switch s := v.(type) {
	case []string:
		for _, e := range s {
			out = append(out, e)
		}
	case []int64:
		for _, e := range s {
			out = append(out, e)
		}
	case []float64:
		for _, e := range s {
			out = append(out, e)
		}
	case []bool:
		for _, e := range s {
			out = append(out, e)
		}
	}
	return out
}

func anyOf(v any) *commonpb.AnyValue {
	switch v := v.(type) {
	case string:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}
	case int64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}
	case float64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v}}
	case bool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}}
	}
	return &commonpb.AnyValue{}
}

// kvMap turns decoded attributes into plain Go values for comparison.
func kvMap(kvs []*commonpb.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		m[kv.Key] = plain(kv.Value)
	}
	return m
}

func plain(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_ArrayValue:
		var out []any
		for _, e := range x.ArrayValue.Values {
			out = append(out, plain(e))
		}
		return out
	}
	return fmt.Sprintf("unexpected %T", v.GetValue())
}

// TestExporterEnv: the standard variables configure the exporter — the
// generic endpoint gets /v1/traces, headers are URL-decoded, the traces
// variables win, gzip is sent when asked for.
func TestExporterEnv(t *testing.T) {
	rc := newReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rc.srv.URL+"/base/")
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20abc%3D%3D , x-team = sre")
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")
	cfg, err := tracing.ExporterConfigFromEnv(os.Getenv, os.ReadFile)
	require.NoError(t, err)
	assert.Equal(t, rc.srv.URL+"/base/v1/traces", cfg.URL)
	assert.Equal(t, map[string]string{"authorization": "Bearer abc==", "x-team": "sre"}, cfg.Headers)
	assert.True(t, cfg.Gzip)
	assert.Equal(t, 2500*time.Millisecond, cfg.Timeout)
	exp, err := tracing.NewExporter(cfg)
	require.NoError(t, err)
	require.NoError(t, exp.ExportSpans(context.Background(), spansOf(t)))
	require.Len(t, rc.requests, 1)
	assert.Equal(t, "/base/v1/traces", rc.paths[0])
	assert.Equal(t, "Bearer abc==", rc.headers[0].Get("Authorization"))
	assert.Equal(t, "gzip", rc.headers[0].Get("Content-Encoding"))
	assert.Len(t, rc.requests[0].ResourceSpans[0].ScopeSpans[0].Spans, 3)

	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://traces.example:4318/custom")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-other=1")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "100")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none")
	cfg, err = tracing.ExporterConfigFromEnv(os.Getenv, os.ReadFile)
	require.NoError(t, err)
	assert.Equal(t, "https://traces.example:4318/custom", cfg.URL, "the traces endpoint is used as-is")
	assert.Equal(t, map[string]string{"x-other": "1"}, cfg.Headers, "the traces headers replace the generic ones")
	assert.Equal(t, 100*time.Millisecond, cfg.Timeout)
	assert.False(t, cfg.Gzip)

	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces.example:4318")
	cfg, err = tracing.ExporterConfigFromEnv(os.Getenv, os.ReadFile)
	require.NoError(t, err)
	assert.Equal(t, "http://traces.example:4318/", cfg.URL, "an empty path is /")
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "false")
	cfg, err = tracing.ExporterConfigFromEnv(os.Getenv, os.ReadFile)
	require.NoError(t, err)
	assert.Equal(t, "https://traces.example:4318/", cfg.URL, "INSECURE=false forces https")

	none := func(string) string { return "" }
	cfg, err = tracing.ExporterConfigFromEnv(none, os.ReadFile)
	require.NoError(t, err)
	assert.Equal(t, tracing.DefaultEndpoint, cfg.URL)
	assert.Equal(t, tracing.DefaultTimeout, cfg.Timeout)

	for name, env := range map[string]map[string]string{
		"bad header":   {"OTEL_EXPORTER_OTLP_HEADERS": "api-key"},
		"bad header 2": {"OTEL_EXPORTER_OTLP_HEADERS": "api key=SECRET-VALUE-1"},
		"bad escape":   {"OTEL_EXPORTER_OTLP_HEADERS": "api-key=SECRET%zz"},
		"bad timeout":  {"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"},
		"bad scheme":   {"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"},
		"grpc":         {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
		"json":         {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
		"compression":  {"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
		"missing CA":   {"OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"},
		"key only":     {"OTEL_EXPORTER_OTLP_CLIENT_KEY": "/nonexistent/key.pem"},
	} {
		_, err := tracing.ExporterConfigFromEnv(func(k string) string { return env[k] }, os.ReadFile)
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), "SECRET", name)
	}
}

// TestExporterTLS: an https endpoint with OTEL_EXPORTER_OTLP_CERTIFICATE
// naming the receiver's CA.
func TestExporterTLS(t *testing.T) {
	var got int
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got++
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	env := map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": srv.URL + "/v1/traces"}
	cfg, err := tracing.ExporterConfigFromEnv(func(k string) string { return env[k] }, os.ReadFile)
	require.NoError(t, err)
	exp, err := tracing.NewExporter(cfg)
	require.NoError(t, err)
	require.Error(t, exp.ExportSpans(context.Background(), spansOf(t)), "the test CA is not trusted by default")

	env["OTEL_EXPORTER_OTLP_CERTIFICATE"] = ca
	cfg, err = tracing.ExporterConfigFromEnv(func(k string) string { return env[k] }, os.ReadFile)
	require.NoError(t, err)
	exp, err = tracing.NewExporter(cfg)
	require.NoError(t, err)
	require.NoError(t, exp.ExportSpans(context.Background(), spansOf(t)))
	assert.Equal(t, 1, got)

	env["OTEL_EXPORTER_OTLP_INSECURE"] = "true"
	_, err = tracing.ExporterConfigFromEnv(func(k string) string { return env[k] }, os.ReadFile)
	require.Error(t, err, "a certificate with a plain-http endpoint")
}

// TestExporterErrors: a refusal is an error naming the status and the
// receiver's message but never a header value; 503 and 429 are retried
// after Retry-After; a wait past the deadline is not attempted; a partial
// success is an error; the context is honoured.
func TestExporterErrors(t *testing.T) {
	const key = "KEY-abcdef123456"
	rc := newReceiver(t)
	newExp := func(timeout time.Duration) *tracing.Exporter {
		exp, err := tracing.NewExporter(tracing.ExporterConfig{URL: rc.srv.URL + "/v1/traces", Timeout: timeout,
			Headers: map[string]string{"api-key": key}})
		require.NoError(t, err)
		return exp
	}
	spans := spansOf(t)

	rc.answer = func(n int, w http.ResponseWriter) bool {
		http.Error(w, "invalid api-key "+key, http.StatusUnauthorized)
		return true
	}
	err := newExp(0).ExportSpans(context.Background(), spans)
	var xe *tracing.ExportError
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, http.StatusUnauthorized, xe.StatusCode)
	assert.Contains(t, err.Error(), "401")
	assert.Contains(t, err.Error(), "invalid api-key")
	assert.NotContains(t, err.Error(), key, "a header value echoed by the receiver is redacted")
	assert.Len(t, rc.headers, 1, "401 is not retried")

	rc.headers = nil
	rc.answer = func(n int, w http.ResponseWriter) bool {
		switch n {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		case 2:
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}
	require.NoError(t, newExp(0).ExportSpans(context.Background(), spans), "503 and 429 are retried")
	assert.Len(t, rc.headers, 3)

	rc.headers = nil
	rc.answer = func(n int, w http.ResponseWriter) bool {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	start := time.Now()
	err = newExp(2*time.Second).ExportSpans(context.Background(), spans)
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, http.StatusTooManyRequests, xe.StatusCode)
	assert.Less(t, time.Since(start), time.Second, "a Retry-After past the deadline is not waited for")
	assert.Len(t, rc.headers, 1)

	rc.headers = nil
	rc.answer = func(n int, w http.ResponseWriter) bool {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusBadGateway)
		return true
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	err = newExp(0).ExportSpans(ctx, spans)
	require.ErrorIs(t, err, context.Canceled, "the wait before a retry ends with the context")
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, http.StatusBadGateway, xe.StatusCode)
	assert.Less(t, time.Since(start), 900*time.Millisecond)
	assert.Len(t, rc.headers, 1)

	rc.answer = func(n int, w http.ResponseWriter) bool {
		out, _ := proto.Marshal(&collector.ExportTraceServiceResponse{PartialSuccess: &collector.ExportTracePartialSuccess{RejectedSpans: 2, ErrorMessage: "too old"}})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
		return true
	}
	err = newExp(0).ExportSpans(context.Background(), spans)
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, int64(2), xe.Rejected)
	assert.Contains(t, err.Error(), "too old")

	exp := newExp(0)
	require.NoError(t, exp.Shutdown(context.Background()))
	rc.headers = nil
	require.NoError(t, exp.ExportSpans(context.Background(), spans), "spans after Shutdown are dropped")
	assert.Empty(t, rc.headers)
}

// TestExporterURLCredentials: a password or query in the endpoint (some
// vendors take the API key there) appears in no error.
func TestExporterURLCredentials(t *testing.T) {
	rc := newReceiver(t)
	u := strings.Replace(rc.srv.URL, "http://", "http://user:PASSWORD-1@", 1) + "/v1/traces?api_key=QUERYKEY-1"
	rc.answer = func(_ int, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	}
	exp, err := tracing.NewExporter(tracing.ExporterConfig{URL: u})
	require.NoError(t, err)
	err = exp.ExportSpans(context.Background(), spansOf(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "500")
	assert.NotContains(t, err.Error(), "PASSWORD-1")
	assert.NotContains(t, err.Error(), "QUERYKEY-1")

	rc.srv.Close()
	err = exp.ExportSpans(context.Background(), spansOf(t))
	require.Error(t, err, "nobody listens")
	assert.NotContains(t, err.Error(), "PASSWORD-1")
	assert.NotContains(t, err.Error(), "QUERYKEY-1")

	_, err = tracing.ExporterConfigFromEnv(func(k string) string {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://user:PASSWORD-1@host/"}[k]
	}, os.ReadFile)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "PASSWORD-1")
}
