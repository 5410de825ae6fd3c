package main

import (
	"context"
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/tracing"
)

const otelUsage = "export an OpenTelemetry trace of the run over OTLP/HTTP, configured by the OTEL_EXPORTER_OTLP_* and OTEL_SERVICE_NAME variables (default endpoint http://localhost:4318)"

// tracer returns the observer that exports the run's trace, and arranges for
// the trace to be flushed when the command ends. A trace that cannot be set
// up is a warning: tracing never stops a release.
func (a *app) tracer() runbook.Observer {
	tp, err := tracing.Setup(context.Background())
	if err != nil {
		a.warnf("no trace: %v", err)
		return nil
	}
	a.closers = append(a.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			a.warnf("the trace could not be sent: %v", err)
		}
	})
	return tracing.NewObserver(context.Background(), tp)
}

func (a *app) warnf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "Warning: "+format+"\n", args...)
}
