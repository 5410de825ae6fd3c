// Package tracing turns a run's events into OpenTelemetry traces: a run is a
// trace, with a span per phase, step or gate, attempt, and — when the run
// rolls back — a rollback span with a span per compensation attempt, linked
// to the step it undoes. Gate samples and decisions are span events.
//
// The [Observer] needs nothing but the events, so every runner that emits
// the core's events (the local executor and the Temporal runner) produces
// the same span names and tree. Spans carry the events' own times, so a
// rehearsal on the simulated clock shows the release's timeline as it
// would unfold, not the milliseconds it took.
//
// Tracing is off unless asked for: with no Observer attached the executor
// does no tracing work at all. [Setup] builds a tracer provider with this
// package's OTLP/HTTP [Exporter] (protobuf; it links no gRPC), configured by
// the standard OTEL_EXPORTER_OTLP_* and OTEL_SERVICE_NAME environment
// variables.
package tracing

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/handrail-dev/handrail/runbook"
)

// Span names. They are the same for every runner.
const (
	SpanRun          = "handrail.run"
	SpanPhase        = "handrail.phase"
	SpanStep         = "handrail.step"
	SpanGate         = "handrail.gate"
	SpanAttempt      = "handrail.attempt"
	SpanRollback     = "handrail.rollback"
	SpanCompensation = "handrail.compensation"
)

// Attribute keys.
const (
	AttrRunID    = attribute.Key("handrail.run_id")
	AttrRunbook  = attribute.Key("handrail.runbook")
	AttrPlanHash = attribute.Key("handrail.plan_hash")
	AttrMode     = attribute.Key("handrail.mode")
	AttrNode     = attribute.Key("handrail.node")
	AttrKind     = attribute.Key("handrail.kind")
	AttrPhase    = attribute.Key("handrail.phase")
	AttrStatus   = attribute.Key("handrail.status")
	AttrAttempt  = attribute.Key("handrail.attempt")
	AttrFallback = attribute.Key("handrail.fallback")
)

// Observer is a [runbook.Observer] that records spans with a tracer. It is
// safe for concurrent use (parallel nodes emit concurrently).
type Observer struct {
	tracer trace.Tracer
	ctx    context.Context

	mu   sync.Mutex
	runs map[string]*runSpans
}

var _ runbook.Observer = (*Observer)(nil)

// NewObserver returns an observer that records with tp's tracer. Spans of
// a run are children of the span in ctx, if any.
func NewObserver(ctx context.Context, tp trace.TracerProvider) *Observer {
	return &Observer{tracer: tp.Tracer("github.com/handrail-dev/handrail"), ctx: ctx, runs: map[string]*runSpans{}}
}

// runSpans is the state of one run's trace.
type runSpans struct {
	ctx      context.Context
	run      trace.Span
	common   []attribute.KeyValue
	phases   map[string]*phaseSpan
	nodes    map[string]*nodeSpan
	rollback trace.Span
	rbCtx    context.Context
	// now is the time of the event being observed.
	now time.Time
	// cursor is when the last compensation ended.
	cursor time.Time
	// stepSpans links a compensation to the span of the step it undoes.
	stepSpans map[string]trace.SpanContext
}

type phaseSpan struct {
	span trace.Span
	ctx  context.Context
	open int
	// last is when its last node ended.
	last time.Time
}

type nodeSpan struct {
	span    trace.Span
	ctx     context.Context
	attempt trace.Span
	phase   string
}

// Observe records ev.
func (o *Observer) Observe(ev runbook.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	h := ev.EventHeader()
	at := trace.WithTimestamp(h.Time)
	if e, ok := ev.(runbook.RunStarted); ok {
		common := []attribute.KeyValue{AttrRunID.String(h.Run), AttrPlanHash.String(e.PlanHash)}
		ctx, span := o.tracer.Start(o.ctx, SpanRun, at, trace.WithAttributes(append(common, AttrRunbook.String(e.Runbook), AttrMode.String(e.Mode))...))
		o.runs[h.Run] = &runSpans{ctx: ctx, run: span, common: common, phases: map[string]*phaseSpan{}, nodes: map[string]*nodeSpan{}, stepSpans: map[string]trace.SpanContext{}}
		return
	}
	r := o.runs[h.Run]
	if r == nil {
		return
	}
	r.now = h.Time
	switch e := ev.(type) {
	case runbook.NodeStarted:
		o.nodeStarted(r, e, at)
	case runbook.NodeRetrying:
		if n := r.nodes[h.Node]; n != nil && n.attempt != nil {
			n.attempt.SetStatus(codes.Error, e.Error)
			n.attempt.End(at)
			n.attempt = nil
		}
	case runbook.NodeSucceeded:
		o.nodeEnded(r, h.Node, at, "succeeded", "")
	case runbook.NodeFailed:
		if !e.Final {
			if n := r.nodes[h.Node]; n != nil && n.attempt != nil {
				n.attempt.SetStatus(codes.Error, e.Error)
				n.attempt.End(at)
				n.attempt = nil
			}
			return
		}
		o.nodeEnded(r, h.Node, at, "failed", e.Error)
	case runbook.NodeSkipped:
		o.nodeSkipped(r, e, at)
	case runbook.GateSampled:
		if n := r.nodes[h.Node]; n != nil {
			s := e.Sample
			attrs := []attribute.KeyValue{attribute.String("check", s.Check), attribute.Int("seq", s.Seq),
				attribute.String("verdict", string(s.Verdict)), attribute.String("value", fmt.Sprint(s.Value))}
			if s.Error != "" {
				attrs = append(attrs, attribute.String("error", s.Error))
			}
			if s.DryRun {
				attrs = append(attrs, attribute.Bool("dry_run", true))
			}
			n.span.AddEvent("gate.sample", at, trace.WithAttributes(attrs...))
		}
	case runbook.GatePassed:
		o.decision(r, h.Node, e.Decision, at)
	case runbook.GateFailed:
		o.decision(r, h.Node, e.Decision, at)
		if n := r.nodes[h.Node]; n != nil {
			n.span.AddEvent("gate.failed", at, trace.WithAttributes(attribute.String("outcome", string(e.Outcome)),
				attribute.String("reason", e.Reason), attribute.String("policy", string(e.Policy))))
		}
	case runbook.ApprovalDecided:
		if n := r.nodes[h.Node]; n != nil {
			n.span.AddEvent("approval.decided", at, trace.WithAttributes(attribute.Bool("approved", e.Decision.Approved),
				attribute.String("by", e.Decision.By), attribute.Bool("timed_out", e.Decision.TimedOut)))
		}
	case runbook.RollbackStarted:
		o.closePhases(r, at)
		r.rbCtx, r.rollback = o.tracer.Start(r.ctx, SpanRollback, at, trace.WithAttributes(append(r.common,
			attribute.String("reason", e.Reason), attribute.StringSlice("pending", e.Pending))...))
		r.cursor = h.Time
	case runbook.StepCompensated:
		o.compensation(r, h, e.Attempt, e.Fallback, "compensated", "")
	case runbook.CompensationFailed:
		o.compensation(r, h, e.Attempt, e.Fallback, "failed", e.Error)
	case runbook.RunFinished:
		o.runFinished(r, e, at)
		delete(o.runs, h.Run)
	}
}

func (o *Observer) nodeStarted(r *runSpans, e runbook.NodeStarted, at trace.SpanEventOption) {
	n := r.nodes[e.Node]
	if n == nil {
		r.leavePhases(e.Phase)
		parent := r.ctx
		if e.Phase != "" {
			p := r.phases[e.Phase]
			if p == nil {
				pctx, span := o.tracer.Start(r.ctx, SpanPhase, at, trace.WithAttributes(append(r.common, AttrPhase.String(e.Phase))...))
				p = &phaseSpan{span: span, ctx: pctx}
				r.phases[e.Phase] = p
			}
			p.open++
			parent = p.ctx
		}
		name, kind := SpanStep, "step"
		if e.NodeKind == "gate" {
			name, kind = SpanGate, "gate"
		}
		attrs := append(append([]attribute.KeyValue{}, r.common...), AttrNode.String(e.Node), AttrKind.String(kind))
		if e.Phase != "" {
			attrs = append(attrs, AttrPhase.String(e.Phase))
		}
		ctx, span := o.tracer.Start(parent, name, at, trace.WithAttributes(attrs...))
		n = &nodeSpan{span: span, ctx: ctx, phase: e.Phase}
		r.stepSpans[e.Node] = span.SpanContext()
		r.nodes[e.Node] = n
	}
	if n.attempt != nil {
		n.attempt.End(at)
	}
	_, n.attempt = o.tracer.Start(n.ctx, SpanAttempt, at, trace.WithAttributes(append(r.common,
		AttrNode.String(e.Node), AttrAttempt.Int(e.Attempt))...))
}

func (o *Observer) nodeEnded(r *runSpans, node string, at trace.SpanEventOption, status, errText string) {
	n := r.nodes[node]
	if n == nil {
		return
	}
	ts := at
	for _, s := range []trace.Span{n.attempt, n.span} {
		if s == nil {
			continue
		}
		s.SetAttributes(AttrStatus.String(status))
		if errText != "" {
			s.SetStatus(codes.Error, errText)
		}
		s.End(ts)
	}
	n.attempt = nil
	delete(r.nodes, node)
	r.finished(n.phase)
}

func (o *Observer) nodeSkipped(r *runSpans, e runbook.NodeSkipped, at trace.SpanEventOption) {
	if n := r.nodes[e.Node]; n != nil {
		o.nodeEnded(r, e.Node, at, "skipped", "")
		return
	}
	_, span := o.tracer.Start(r.ctx, SpanStep, at, trace.WithAttributes(append(r.common, AttrNode.String(e.Node), AttrStatus.String("skipped"))...))
	span.End(at)
}

// finished notes that a node of a phase ended. The phase's span ends when
// a node of another phase starts while none of its own runs, or when the
// run rolls back or finishes.
func (r *runSpans) finished(phase string) {
	if p := r.phases[phase]; p != nil {
		p.open--
		p.last = r.now
	}
}

// leavePhases ends the spans of phases other than keep with no node
// running.
func (r *runSpans) leavePhases(keep string) {
	for name, p := range r.phases {
		if name != keep && p.open <= 0 {
			p.span.End(trace.WithTimestamp(p.last))
			delete(r.phases, name)
		}
	}
}

func (o *Observer) closePhases(r *runSpans, at trace.SpanEventOption) {
	for name, p := range r.phases {
		if p.open <= 0 && !p.last.IsZero() {
			p.span.End(trace.WithTimestamp(p.last))
		} else {
			p.span.End(at)
		}
		delete(r.phases, name)
	}
}

func (o *Observer) decision(r *runSpans, node string, d *runbook.GateDecision, at trace.SpanEventOption) {
	n := r.nodes[node]
	if n == nil || d == nil {
		return
	}
	for _, c := range d.Checks {
		n.span.AddEvent("gate.decision", at, trace.WithAttributes(attribute.String("check", c.Check),
			attribute.String("outcome", string(c.Outcome)), attribute.String("rule", c.Rule),
			attribute.String("explanation", c.Explanation), attribute.String("threshold", c.Threshold),
			attribute.String("query", c.Query), attribute.Int("samples", c.Tally.Samples), attribute.Int("breaches", c.Tally.Breaches)))
	}
	n.span.SetAttributes(attribute.String("handrail.gate.outcome", string(d.Outcome)), attribute.String("handrail.gate.decider", d.Decider))
}

// compensation records one compensation attempt. Compensations run one at
// a time, so an attempt began when the previous one (or the rollback)
// ended: its span starts there, and a retry's delay counts in the attempt
// that follows it.
func (o *Observer) compensation(r *runSpans, h runbook.Header, attempt, fallback int, status, errText string) {
	parent := r.rbCtx
	if parent == nil {
		parent, r.cursor = r.ctx, h.Time
	}
	start := r.cursor
	if start.IsZero() || start.After(h.Time) {
		start = h.Time
	}
	attrs := append(append([]attribute.KeyValue{}, r.common...), AttrNode.String(h.Node), AttrAttempt.Int(attempt),
		AttrFallback.Int(fallback), AttrStatus.String(status))
	opts := []trace.SpanStartOption{trace.WithTimestamp(start), trace.WithAttributes(attrs...)}
	if sc, ok := r.stepSpans[h.Node]; ok {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	_, span := o.tracer.Start(parent, SpanCompensation, opts...)
	if errText != "" {
		span.SetStatus(codes.Error, errText)
	}
	span.End(trace.WithTimestamp(h.Time))
	r.cursor = h.Time
}

func (o *Observer) runFinished(r *runSpans, e runbook.RunFinished, at trace.SpanEventOption) {
	ts := at
	for name, n := range r.nodes {
		for _, s := range []trace.Span{n.attempt, n.span} {
			if s != nil {
				s.SetAttributes(AttrStatus.String("unfinished"))
				s.End(ts)
			}
		}
		delete(r.nodes, name)
	}
	o.closePhases(r, at)
	if r.rollback != nil {
		r.rollback.End(ts)
	}
	r.run.SetAttributes(AttrStatus.String(string(e.Status)))
	if e.Error != "" {
		r.run.SetStatus(codes.Error, e.Error)
	}
	if len(e.Pending) > 0 {
		r.run.SetAttributes(attribute.StringSlice("handrail.pending", e.Pending))
	}
	r.run.End(ts)
}
