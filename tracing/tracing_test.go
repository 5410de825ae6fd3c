package tracing_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/tracing"
)

var t0 = time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)

const secret = "s3cr3t-token-7f2a"

func ok(name string) runbook.Step {
	return runbook.Step{Name: name,
		Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			if err := env.Clock().Sleep(ctx, time.Minute); err != nil {
				return nil, err
			}
			return runbook.Outputs{"token": runbook.NewSecret(secret)}, nil
		}),
		Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
			return env.Clock().Sleep(ctx, 30*time.Second)
		})}}
}

// release: a phase with a step retried once, a soak sampled three times,
// then a step failing with the secret in its error: everything before it is
// compensated.
func release(t *testing.T) *runbook.Plan {
	flaky := 0
	b := runbook.NewBuilder("traced")
	b.Phase("prepare", func(b *runbook.Builder) {
		b.Step(ok("backup"))
		s := ok("migrate")
		inner := s.Action
		s.Action = runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			flaky++
			if flaky == 1 {
				return nil, errors.New("connection reset")
			}
			return inner.Do(ctx, env)
		})
		s.Retry = runbook.Retry{Attempts: 2, Delay: time.Second}
		b.Step(s)
	})
	b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Every: time.Minute, Count: 3, Checks: []runbook.Check{{Name: "p95",
		Probe:   runbook.ProbeFunc(func(context.Context, *runbook.Env) (runbook.Sample, error) { return runbook.Sample{Value: 0.1}, nil }),
		Success: runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) { return v.(float64) < 0.2, nil }), Threshold: "< 0.2"}}})
	b.Step(runbook.Step{Name: "switch", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
		return nil, runbook.Permanent(errors.New("refused with token " + secret))
	})})
	p, err := b.Build()
	require.NoError(t, err)
	return p
}

func run(t *testing.T, obs runbook.Observer) *runbook.Result {
	ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Observer: obs, Redactor: runbook.NewRedactor(secret)}
	res, _ := ex.Run(context.Background(), release(t), runbook.RunOptions{RunID: "run-1"})
	return res
}

func TestSpanTree(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	res := run(t, tracing.NewObserver(context.Background(), tp))
	require.Equal(t, runbook.StatusRolledBack, res.Status)
	spans := rec.Ended()
	byID := map[string]sdktrace.ReadOnlySpan{}
	var names []string
	for _, s := range spans {
		byID[s.SpanContext().SpanID().String()] = s
	}
	attr := func(s sdktrace.ReadOnlySpan, k string) string {
		for _, a := range s.Attributes() {
			if string(a.Key) == k {
				return a.Value.String()
			}
		}
		return ""
	}
	find := func(name, node string) sdktrace.ReadOnlySpan {
		for _, s := range spans {
			if s.Name() == name && (node == "" || attr(s, "handrail.node") == node) {
				return s
			}
		}
		t.Fatalf("no span %s %s", name, node)
		return nil
	}
	parent := func(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan { return byID[s.Parent().SpanID().String()] }
	for _, s := range spans {
		names = append(names, s.Name()+" "+attr(s, "handrail.node"))
		// Every span of the run is in one trace, with the run id and plan hash.
		assert.Equal(t, "run-1", attr(s, "handrail.run_id"), s.Name())
		assert.NotEmpty(t, attr(s, "handrail.plan_hash"), s.Name())
	}
	t.Log(names)
	root := find(tracing.SpanRun, "")
	assert.False(t, root.Parent().IsValid(), "the run is the root")
	assert.Equal(t, "rolled_back", attr(root, "handrail.status"))
	assert.Equal(t, t0, root.StartTime(), "spans carry the run's (simulated) times")

	phase := find(tracing.SpanPhase, "")
	assert.Equal(t, root.SpanContext().SpanID(), phase.Parent().SpanID())
	assert.Equal(t, "prepare", attr(phase, "handrail.phase"))
	migrate := find(tracing.SpanStep, "migrate")
	assert.Equal(t, phase.SpanContext().SpanID(), migrate.Parent().SpanID(), "steps of a phase are its children")
	assert.Equal(t, "succeeded", attr(migrate, "handrail.status"))
	var attempts []string
	for _, s := range spans {
		if s.Name() == tracing.SpanAttempt && parent(s) == migrate {
			attempts = append(attempts, attr(s, "handrail.attempt"))
		}
	}
	assert.ElementsMatch(t, []string{"1", "2"}, attempts, "one span per attempt, under the step")

	soak := find(tracing.SpanGate, "soak")
	assert.Equal(t, root.SpanContext().SpanID(), soak.Parent().SpanID())
	var samples, decisions int
	for _, e := range soak.Events() {
		switch e.Name {
		case "gate.sample":
			samples++
		case "gate.decision":
			decisions++
		}
	}
	assert.Equal(t, 3, samples, "every sample is a span event")
	assert.Equal(t, 1, decisions, "the decision is a span event")

	sw := find(tracing.SpanStep, "switch")
	assert.Equal(t, "failed", attr(sw, "handrail.status"))

	rb := find(tracing.SpanRollback, "")
	assert.Equal(t, root.SpanContext().SpanID(), rb.Parent().SpanID())
	var comps []string
	for _, s := range spans {
		if s.Name() == tracing.SpanCompensation {
			assert.Equal(t, rb.SpanContext().SpanID(), s.Parent().SpanID())
			require.Len(t, s.Links(), 1, "linked to the step it undoes")
			assert.Equal(t, attr(s, "handrail.node"), attr(byID[s.Links()[0].SpanContext.SpanID().String()], "handrail.node"))
			assert.Equal(t, 30*time.Second, s.EndTime().Sub(s.StartTime()), "a compensation's span lasts as long as it ran")
			comps = append(comps, attr(s, "handrail.node"))
		}
	}
	assert.Equal(t, []string{"migrate", "backup"}, comps)

	// No secret anywhere: attributes, events, statuses.
	for _, s := range spans {
		blob := s.Name() + s.Status().Description
		for _, a := range s.Attributes() {
			blob += a.Value.String()
		}
		for _, e := range s.Events() {
			for _, a := range e.Attributes {
				blob += a.Value.String()
			}
		}
		assert.False(t, strings.Contains(blob, secret), "secret in span %s: %s", s.Name(), blob)
	}
}
