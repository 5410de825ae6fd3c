package main_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestApplyOTel: `apply -otel` sends the run's trace to the OTLP/HTTP
// endpoint named by OTEL_EXPORTER_OTLP_ENDPOINT; without -otel nothing is
// sent.
func TestApplyOTel(t *testing.T) {
	var mu sync.Mutex
	spans := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collector.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans[s.Name]++
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

	dir := t.TempDir()
	rb := writeFile(t, dir, "gate-demo.hcl", soakRunbook)
	writeFile(t, dir, "gate-demo.test.hcl", soakWorld)
	r := run(t, dir, "apply", "--sandbox", rb, "-state-dir", filepath.Join(dir, "s1"))
	require.Equal(t, 2, r.code, r.stderr)
	mu.Lock()
	assert.Empty(t, spans, "tracing is off unless asked for")
	mu.Unlock()

	r = run(t, dir, "apply", "--sandbox", rb, "-state-dir", filepath.Join(dir, "s2"), "-otel")
	require.Equal(t, 2, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "Warning")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, spans["handrail.run"])
	assert.Equal(t, 1, spans["handrail.gate"])
	assert.Equal(t, 1, spans["handrail.attempt"])
}
