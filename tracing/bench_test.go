package tracing_test

import (
	"context"
	"fmt"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/tracing"
)

// BenchmarkTracing runs a 100-step plan with tracing off (no observer, as
// the CLI runs without -otel) and on (spans recorded by the SDK, exported
// nowhere). "off" is the executor alone: tracing adds nothing unless asked.
func BenchmarkTracing(b *testing.B) {
	nb := runbook.NewBuilder("bench")
	for i := range 100 {
		nb.Step(runbook.Step{Name: fmt.Sprintf("s%d", i), Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil }),
			Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(context.Context, *runbook.Env) error { return nil })}})
	}
	plan, err := nb.Build()
	if err != nil {
		b.Fatal(err)
	}
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			ex := &runbook.Executor{}
			if on {
				ex.Observer = tracing.NewObserver(context.Background(), sdktrace.NewTracerProvider())
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ex.Run(context.Background(), plan, runbook.RunOptions{RunID: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/step")
		})
	}
}
