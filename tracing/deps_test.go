package tracing_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCLILinksNoGRPC: the CLI binary links neither gRPC nor the OTLP
// collector service package (issue #22: their initialisers cost every
// start). The exporter encodes the request envelope itself; only tests
// decode with the collector's types.
func TestCLILinksNoGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "list", "-deps", "./cmd/handrail")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..")
	out, err := cmd.Output()
	require.NoError(t, err)
	pkgs := strings.Fields(string(out))
	require.Contains(t, pkgs, "github.com/handrail-dev/handrail/tracing")
	for _, p := range pkgs {
		assert.False(t, strings.HasPrefix(p, "google.golang.org/grpc"), "the CLI links %s", p)
		assert.False(t, strings.HasPrefix(p, "go.opentelemetry.io/proto/otlp/collector/"), "the CLI links %s", p)
	}
}
