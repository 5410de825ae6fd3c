package runbook

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/runbook/engine"
)

// Event is something that happened in a run. The set is sealed: every event
// is one of the types in this package. Events never carry a secret: values
// are redacted before they are built.
type Event interface {
	// EventHeader returns the run, node and time of the event.
	EventHeader() Header
	// Kind returns the event's stable name, as in the JSON-lines format.
	Kind() string
	sealed()
}

// Header is common to every event.
type Header struct {
	Run  string    `json:"run"`
	Node string    `json:"node,omitempty"`
	Time time.Time `json:"time"`
}

// EventHeader returns h.
func (h Header) EventHeader() Header { return h }
func (Header) sealed()               {}

// RunStarted: a run began (or resumed, or began rolling back later).
type RunStarted struct {
	Header
	Runbook  string `json:"runbook"`
	PlanHash string `json:"plan_hash"`
	Mode     string `json:"mode"` // "run", "resume" or "rollback"
	// StartedBy is the person who started the run, if known.
	StartedBy string `json:"started_by,omitempty"`
	// PrevPlanHash is set when a resume or rollback goes on with another
	// version of the plan (or from a node): the version it replaces;
	// Reason is the one given.
	PrevPlanHash string `json:"prev_plan_hash,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// NodeStarted: an attempt of a step or gate began.
type NodeStarted struct {
	Header
	NodeKind string `json:"node_kind"`
	Phase    string `json:"phase,omitempty"`
	Attempt  int    `json:"attempt"`
}

// NodeSucceeded: a step or gate succeeded.
type NodeSucceeded struct {
	Header
	Attempt  int           `json:"attempt"`
	Duration time.Duration `json:"duration"`
	Outputs  Outputs       `json:"outputs,omitempty"`
}

// NodeFailed: an attempt failed. Final tells whether the node has failed for
// good (no retry follows).
type NodeFailed struct {
	Header
	Attempt int    `json:"attempt"`
	Error   string `json:"error"`
	Final   bool   `json:"final"`
	Policy  Policy `json:"policy,omitempty"`
}

// NodeRetrying: a failed attempt will be retried after Delay.
type NodeRetrying struct {
	Header
	Attempt int           `json:"attempt"`
	Delay   time.Duration `json:"delay"`
	Error   string        `json:"error"`
}

// NodeSkipped: a node did not run because its condition was false, or it
// was already done in an earlier process.
type NodeSkipped struct {
	Header
	Reason string `json:"reason"`
}

// OutputLine: one line of a node's output.
type OutputLine struct {
	Header
	Stream string `json:"stream"`
	Line   string `json:"line"`
}

// Note: a provider-specific event (pull progress, a warning).
type Note struct {
	Header
	Message string            `json:"message"`
	Attrs   map[string]string `json:"attrs,omitempty"`
}

// GateSampled: one sample of a gate's check.
type GateSampled struct {
	Header
	Sample SampleRecord `json:"sample"`
}

// GatePassed: a gate let the run go on.
type GatePassed struct {
	Header
	Outcome engine.Outcome `json:"outcome"`
	// Decision explains a check, soak or guard gate's outcome (nil for
	// approvals).
	Decision *GateDecision `json:"decision,omitempty"`
}

// GateFailed: a gate stopped the run (or warned, with policy continue).
type GateFailed struct {
	Header
	Outcome engine.Outcome `json:"outcome"`
	Reason  string         `json:"reason"`
	Policy  Policy         `json:"policy"`
	// Decision explains a check, soak or guard gate's outcome (nil for
	// approvals).
	Decision *GateDecision `json:"decision,omitempty"`
}

// ApprovalRequested: a person or callback is asked to decide.
type ApprovalRequested struct {
	Header
	Request ApprovalRequest `json:"request"`
}

// ApprovalDecided: the decision of an approval (granted or denied).
type ApprovalDecided struct {
	Header
	Decision Decision `json:"decision"`
}

// ApprovalVoted: one approval counted towards a gate's quorum, which is
// not reached yet (Have of Need).
type ApprovalVoted struct {
	Header
	Decision Decision `json:"decision"`
	Have     int      `json:"have"`
	Need     int      `json:"need"`
}

// ApprovalRefused: an answer to an approval did not count (Reason says
// why: not an approver, the starter, another plan's hash, a second vote).
type ApprovalRefused struct {
	Header
	Decision Decision `json:"decision"`
	Reason   string   `json:"reason"`
}

// RollbackStarted: the run is compensating; Pending lists the steps to
// compensate, in the order they will be compensated.
type RollbackStarted struct {
	Header
	Reason  string   `json:"reason"`
	Pending []string `json:"pending"`
}

// StepCompensated: a step's compensation succeeded.
type StepCompensated struct {
	Header
	Attempt  int    `json:"attempt"`
	Fallback int    `json:"fallback"`
	Via      string `json:"via,omitempty"`
}

// CompensationFailed: an attempt at a step's compensation failed. Final
// tells whether every attempt and fallback is spent.
type CompensationFailed struct {
	Header
	Attempt  int    `json:"attempt"`
	Fallback int    `json:"fallback"`
	Error    string `json:"error"`
	Final    bool   `json:"final"`
}

// RunFinished: the run ended.
type RunFinished struct {
	Header
	Status  Status   `json:"status"`
	Error   string   `json:"error,omitempty"`
	Pending []string `json:"pending,omitempty"`
}

// Kind returns "run_started".
func (RunStarted) Kind() string { return "run_started" }

// Kind returns "node_started".
func (NodeStarted) Kind() string { return "node_started" }

// Kind returns "node_succeeded".
func (NodeSucceeded) Kind() string { return "node_succeeded" }

// Kind returns "node_failed".
func (NodeFailed) Kind() string { return "node_failed" }

// Kind returns "node_retrying".
func (NodeRetrying) Kind() string { return "node_retrying" }

// Kind returns "node_skipped".
func (NodeSkipped) Kind() string { return "node_skipped" }

// Kind returns "output_line".
func (OutputLine) Kind() string { return "output_line" }

// Kind returns "note".
func (Note) Kind() string { return "note" }

// Kind returns "gate_sampled".
func (GateSampled) Kind() string { return "gate_sampled" }

// Kind returns "gate_passed".
func (GatePassed) Kind() string { return "gate_passed" }

// Kind returns "gate_failed".
func (GateFailed) Kind() string { return "gate_failed" }

// Kind returns "approval_requested".
func (ApprovalRequested) Kind() string { return "approval_requested" }

// Kind returns "approval_decided".
func (ApprovalDecided) Kind() string { return "approval_decided" }

// Kind returns "approval_voted".
func (ApprovalVoted) Kind() string { return "approval_voted" }

// Kind returns "approval_refused".
func (ApprovalRefused) Kind() string { return "approval_refused" }

// Kind returns "rollback_started".
func (RollbackStarted) Kind() string { return "rollback_started" }

// Kind returns "step_compensated".
func (StepCompensated) Kind() string { return "step_compensated" }

// Kind returns "compensation_failed".
func (CompensationFailed) Kind() string { return "compensation_failed" }

// Kind returns "run_finished".
func (RunFinished) Kind() string { return "run_finished" }

// Observer receives events. Observe is called synchronously from the
// executor's goroutines, possibly concurrently: it must be safe for
// concurrent use and return quickly.
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(Event)

// Observe calls f.
func (f ObserverFunc) Observe(e Event) { f(e) }

// NopObserver discards events.
type NopObserver struct{}

// Observe does nothing.
func (NopObserver) Observe(Event) {}

// MultiObserver sends every event to each observer in turn.
type MultiObserver []Observer

// Observe forwards e.
func (m MultiObserver) Observe(e Event) {
	for _, o := range m {
		o.Observe(e)
	}
}

// SlogObserver writes events to a [slog.Logger].
type SlogObserver struct {
	Logger *slog.Logger
}

// Observe logs e at a level matching its gravity.
func (s SlogObserver) Observe(e Event) {
	h := e.EventHeader()
	level := slog.LevelInfo
	attrs := []slog.Attr{slog.String("run", h.Run)}
	if h.Node != "" {
		attrs = append(attrs, slog.String("node", h.Node))
	}
	switch ev := e.(type) {
	case NodeFailed:
		level = slog.LevelWarn
		if ev.Final {
			level = slog.LevelError
		}
		attrs = append(attrs, slog.Int("attempt", ev.Attempt), slog.String("error", ev.Error))
	case NodeRetrying:
		level = slog.LevelWarn
		attrs = append(attrs, slog.Int("attempt", ev.Attempt), slog.Duration("delay", ev.Delay), slog.String("error", ev.Error))
	case CompensationFailed:
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", ev.Error), slog.Bool("final", ev.Final))
	case GateFailed:
		level = slog.LevelError
		attrs = append(attrs, slog.String("outcome", string(ev.Outcome)), slog.String("reason", ev.Reason))
	case GateSampled:
		level = slog.LevelDebug
		attrs = append(attrs, slog.String("check", ev.Sample.Check), slog.Any("value", ev.Sample.Value), slog.String("verdict", string(ev.Sample.Verdict)))
	case OutputLine:
		level = slog.LevelDebug
		attrs = append(attrs, slog.String("stream", ev.Stream), slog.String("line", ev.Line))
	case RunFinished:
		attrs = append(attrs, slog.String("status", string(ev.Status)))
		if ev.Error != "" {
			attrs = append(attrs, slog.String("error", ev.Error))
		}
	case ApprovalDecided:
		attrs = append(attrs, slog.Bool("approved", ev.Decision.Approved), slog.String("by", ev.Decision.By))
	case ApprovalRefused:
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("by", ev.Decision.By), slog.String("reason", ev.Reason))
	case RollbackStarted:
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("reason", ev.Reason), slog.Any("pending", ev.Pending))
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger.LogAttrs(context.Background(), level, e.Kind(), attrs...)
}

// JSONObserver writes one JSON object per event and line to W, with a
// "type" member naming the event kind. It is safe for concurrent use.
type JSONObserver struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

// NewJSONObserver returns a JSONObserver writing to w.
func NewJSONObserver(w io.Writer) *JSONObserver { return &JSONObserver{w: w} }

// Observe writes e as one line.
func (j *JSONObserver) Observe(e Event) {
	b, err := MarshalEvent(e)
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		j.err = err
		return
	}
	b = append(b, '\n')
	if _, err := j.w.Write(b); err != nil && j.err == nil {
		j.err = err
	}
}

// Err returns the first error met while writing.
func (j *JSONObserver) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// MarshalEvent encodes e as a JSON object with a "type" member.
func MarshalEvent(e Event) ([]byte, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	kind, _ := json.Marshal(e.Kind())
	out := make([]byte, 0, len(body)+len(kind)+9)
	out = append(out, `{"type":`...)
	out = append(out, kind...)
	if len(body) > 2 {
		out = append(out, ',')
		out = append(out, body[1:]...)
	} else {
		out = append(out, '}')
	}
	return out, nil
}
