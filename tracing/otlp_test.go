package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
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
