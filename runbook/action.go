package runbook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Outputs are the values a step returns. Values must be JSON-compatible
// (nil, bool, float64 or any integer type, string, []any, map[string]any) or
// a [Secret]. Later steps and rollbacks read them through [Env].
type Outputs map[string]any

// Action is what a step does to the world. Do must honour ctx: when ctx is
// done, Do must stop and return promptly. Do may be called more than once for
// one step (retries, resume of an idempotent step).
//
// Do may return outputs together with an error: what it changed before
// failing (the version a migration started from). They are journaled and
// become [Env.Self] of the step's own rollback when the step has
// [Step.RollbackOnFailure].
type Action interface {
	Do(ctx context.Context, env *Env) (Outputs, error)
}

// ActionFunc adapts a function to [Action].
type ActionFunc func(ctx context.Context, env *Env) (Outputs, error)

// Do calls f.
func (f ActionFunc) Do(ctx context.Context, env *Env) (Outputs, error) { return f(ctx, env) }

// Rollback is a compensation. It runs at rollback time with the step's own
// outputs available as [Env.Self]. Compensate runs under a context that is not
// cancelled when the run is (only its own timeout applies).
type Rollback interface {
	Compensate(ctx context.Context, env *Env) error
}

// RollbackFunc adapts a function to [Rollback].
type RollbackFunc func(ctx context.Context, env *Env) error

// Compensate calls f.
func (f RollbackFunc) Compensate(ctx context.Context, env *Env) error { return f(ctx, env) }

// ReadOnly is implemented by actions that never change the world (probes,
// queries). A read-only step needs neither a rollback nor [Step.Irreversible].
type ReadOnly interface {
	ReadOnly() bool
}

// Describer is implemented by actions and rollbacks that can say what they
// are, for plans, graphs and reports.
type Describer interface {
	Describe() Description
}

// Description says what an action or rollback is: the provider instance
// that runs it, the action's name, and a short human summary. It must never
// contain a secret.
type Description struct {
	Provider string `json:"provider,omitempty"`
	Action   string `json:"action,omitempty"`
	Summary  string `json:"summary,omitempty"`
}

// Describe returns the description of a, or an empty one.
func Describe(a any) Description {
	if d, ok := a.(Describer); ok {
		return d.Describe()
	}
	return Description{}
}

// Secret is a sensitive string. It prints, logs and marshals as
// "(sensitive)"; only [Secret.Reveal] returns the value. Store secrets in
// [Outputs] as Secret so that no journal, event or report shows them.
type Secret struct{ v string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the sensitive value. Call it only at the boundary of the
// system that needs it.
func (s Secret) Reveal() string { return s.v }

// String returns "(sensitive)".
func (s Secret) String() string { return "(sensitive)" }

// GoString returns "(sensitive)".
func (s Secret) GoString() string { return "(sensitive)" }

// LogValue keeps the secret out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue("(sensitive)") }

// MarshalJSON marshals the placeholder, never the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal("(sensitive)") }

// Format keeps the value out of every fmt verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("(sensitive)")) }

// RunInfo identifies a run.
type RunInfo struct {
	ID        string    `json:"id"`
	Runbook   string    `json:"runbook"`
	StartedAt time.Time `json:"started_at"`
}

// Env is what an action, rollback, probe or condition sees of the run: who it
// is, the outputs of earlier steps, the clock, and where to report. An Env is
// valid only during the call it is passed to.
type Env struct {
	run      RunInfo
	node     string
	attempt  int
	self     Outputs
	lookup   func(name string) (Outputs, bool)
	clock    Clock
	emit     func(Event)
	logger   *slog.Logger
	redactor *Redactor
	approver Approver
	// r is set for environments built by the executor: lookups, events and
	// questions go to the run (without a closure per call).
	r *run
	// checkpoint and prior serve environments built with NewEnv, as do
	// recordProgress, progress and rollsBackFailure.
	checkpoint       func(ctx context.Context, outs Outputs) error
	prior            Outputs
	recordProgress   func(ctx context.Context, items Outputs) error
	progressMu       sync.Mutex // actions may record progress concurrently
	progress         Outputs
	rollsBackFailure bool
}

// EnvConfig configures [NewEnv]. Executors build environments; other
// runners (for example a Temporal worker) build them with NewEnv.
type EnvConfig struct {
	Run      RunInfo
	Node     string
	Attempt  int
	Self     Outputs
	Lookup   func(name string) (Outputs, bool)
	Clock    Clock
	Observer Observer
	Logger   *slog.Logger
	Redactor *Redactor
	Approver Approver
	// Checkpoint, if set, makes Env.Checkpoint durable (a runner's journal).
	Checkpoint func(ctx context.Context, outs Outputs) error
	// Checkpointed is what Env.Checkpointed returns: the checkpoint of an
	// earlier attempt or process.
	Checkpointed Outputs
	// RecordProgress, if set, makes Env.RecordProgress durable (a runner's
	// journal).
	RecordProgress func(ctx context.Context, items Outputs) error
	// Progress is what Env.Progress starts from: the progress the step
	// recorded in earlier attempts or processes.
	Progress Outputs
	// RollsBackFailure is what Env.RollsBackFailure returns.
	RollsBackFailure bool
}

// NewEnv returns an Env. Zero fields get working defaults: the real clock, no
// observer, a discarding logger, an empty redactor.
func NewEnv(c EnvConfig) *Env {
	e := &Env{run: c.Run, node: c.Node, attempt: c.Attempt, self: c.Self, lookup: c.Lookup,
		checkpoint: c.Checkpoint, prior: c.Checkpointed,
		recordProgress: c.RecordProgress, progress: copyOutputs(c.Progress), rollsBackFailure: c.RollsBackFailure,
		clock: c.Clock, logger: c.Logger, redactor: c.Redactor, approver: c.Approver}
	if e.clock == nil {
		e.clock = RealClock{}
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.redactor == nil {
		e.redactor = NewRedactor()
	}
	if c.Observer != nil {
		obs := c.Observer
		e.emit = obs.Observe
	} else {
		e.emit = func(Event) {}
	}
	return e
}

// Run returns the run this call belongs to.
func (e *Env) Run() RunInfo { return e.run }

// Node returns the name of the node being run or compensated.
func (e *Env) Node() string { return e.node }

// Attempt returns the attempt number, starting at 1.
func (e *Env) Attempt() int { return e.attempt }

// Self returns the node's own outputs. It is set for rollbacks (the outputs
// of the step being compensated) and for gate conditions (the sample).
func (e *Env) Self() Outputs { return e.self }

// Output returns the outputs of a step that has completed in this run.
func (e *Env) Output(step string) (Outputs, bool) {
	if e.r != nil {
		return e.r.lookup(step)
	}
	if e.lookup == nil {
		return nil, false
	}
	return e.lookup(step)
}

// Clock returns the run's clock. Actions that wait must wait on it, so that
// simulated runs stay simulated.
func (e *Env) Clock() Clock { return e.clock }

// Logger returns a logger whose records carry the run and node. It redacts
// registered secrets.
func (e *Env) Logger() *slog.Logger {
	return slog.New(redactHandler{h: e.logger.Handler(), r: e.redactor}).With("run", e.run.ID, "node", e.node)
}

// Approver returns the run's approver, or nil.
func (e *Env) Approver() Approver { return e.approver }

// Ask asks the run's approver and records the decision in the events and
// the journal. The caller stays busy while the approver decides: under a
// simulated clock an approver that answers at once takes no simulated time,
// and one that waits must wait on the run's clock (ctx carries the run's
// clock state). It returns an error wrapping [ErrNoApprover] when the run
// has none.
func (e *Env) Ask(ctx context.Context, req ApprovalRequest) (Decision, error) {
	if e.r != nil {
		if req.Node == "" {
			req.Node = e.node
		}
		return e.r.ask(ctx, req, 0, false)
	}
	if e.approver == nil {
		return Decision{}, fmt.Errorf("%s: %w", e.node, ErrNoApprover)
	}
	if req.Node == "" {
		req.Node = e.node
	}
	if req.Run == "" {
		req.Run = e.run.ID
	}
	return e.approver.Approve(ctx, req)
}

// Redact returns s with every registered secret replaced by "(sensitive)".
func (e *Env) Redact(s string) string { return e.redactor.Redact(s) }

// AddSecret registers a sensitive string: from now on it is replaced by
// "(sensitive)" in every event, log line, journal record and error message of
// the run. It returns the value wrapped as a [Secret].
//
// A secret shorter than [MinSecretLen] bytes cannot be redacted: it is
// still wrapped, and a warning (without the value) is logged.
func (e *Env) AddSecret(s string) Secret {
	if err := CheckSecret(s); err != nil {
		e.Logger().Warn("a secret is too short to be redacted from output", "error", err.Error())
	}
	e.redactor.Add(s)
	return NewSecret(s)
}

// Line reports one line of output of the node (stdout, stderr, progress) as
// an [OutputLine] event, redacted.
func (e *Env) Line(stream, line string) {
	e.send(OutputLine{Header: e.header(), Stream: stream, Line: e.redactor.Redact(line)})
}

// Emit reports a provider-specific event as a [Note] event, redacted.
func (e *Env) Emit(message string, attrs map[string]string) {
	red := make(map[string]string, len(attrs))
	for k, v := range attrs {
		red[k] = e.redactor.Redact(v)
	}
	e.send(Note{Header: e.header(), Message: e.redactor.Redact(message), Attrs: red})
}

func (e *Env) send(ev Event) {
	if e.r != nil {
		e.r.emit(ev)
		return
	}
	if e.emit != nil {
		e.emit(ev)
	}
}

func (e *Env) header() Header {
	return Header{Run: e.run.ID, Node: e.node, Time: e.clock.Now()}
}

// Checkpoint durably records outputs of the step before it changes the world
// (the weights it is about to replace, the version a migration starts
// from): the record is in the journal when Checkpoint returns, so that if
// the process dies in the middle of the change, a resumed attempt and the
// step's own rollback still know what the world looked like. Checkpointed
// outputs are merged under the outputs Do returns, and become the partial
// outputs of a failed attempt. If Checkpoint returns an error, the action
// must not go on with the change.
func (e *Env) Checkpoint(ctx context.Context, outs Outputs) error {
	if e.r != nil {
		return e.r.checkpoint(ctx, e.node, e.attempt, outs)
	}
	if e.checkpoint != nil {
		return e.checkpoint(ctx, outs)
	}
	if e.prior == nil {
		e.prior = Outputs{}
	}
	for k, v := range outs {
		e.prior[k] = v
	}
	return nil
}

// Checkpointed returns what this step checkpointed in an earlier attempt or
// an earlier process (a resumed run), or nil. An action that captures state
// before changing it should prefer the checkpointed capture: the world may
// already be half changed by the attempt that died.
func (e *Env) Checkpointed() Outputs {
	if e.r != nil {
		return e.r.checkpointOf(e.node)
	}
	return e.prior
}
