package tracing

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Setup returns a tracer provider that exports spans over OTLP/HTTP
// (protobuf) with an [Exporter] configured by the standard environment
// variables (see [ExporterConfigFromEnv]): OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (default http://localhost:4318),
// OTEL_EXPORTER_OTLP_[TRACES_]HEADERS, _TIMEOUT, _COMPRESSION, _INSECURE,
// _CERTIFICATE, _CLIENT_CERTIFICATE and _CLIENT_KEY, and OTEL_SERVICE_NAME /
// OTEL_RESOURCE_ATTRIBUTES for the resource (service.name defaults to
// "handrail"). Spans are batched (OTEL_BSP_* apply). Call Shutdown on it
// when the run is over: it flushes what is buffered.
func Setup(ctx context.Context) (*sdktrace.TracerProvider, error) {
	cfg, err := ExporterConfigFromEnv(os.Getenv, os.ReadFile)
	if err != nil {
		return nil, err
	}
	exp, err := NewExporter(cfg)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP/HTTP exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", "handrail")), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("tracing: resource from OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}
