package temporal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// Names under which the workflow, activities, signal and queries are
// registered. They are part of the wire contract between clients and
// workers: changing one strands the runs in flight.
const (
	WorkflowName       = "handrail.Run"
	ActivityStep       = "handrail.Step"
	ActivitySample     = "handrail.Sample"
	ActivityCompensate = "handrail.Compensate"
	// SignalDecision carries an [ApprovalSignal] to a waiting approval gate,
	// pause or inconclusive gate.
	SignalDecision = "handrail.decision"
	// QueryWaiting returns the []Waiting of the run: what waits for whom.
	QueryWaiting = "handrail.waiting"
	// QueryProgress returns the run's [Result] so far.
	QueryProgress = "handrail.progress"
)

// Error types of the application errors the activities return.
const (
	errTypePermanent    = "handrail.Permanent"
	errTypePlanMismatch = "handrail.PlanMismatch"
	errTypeTimeout      = "handrail.Timeout"
	errTypeCancelled    = "handrail.Cancelled"
)

// ErrPlanMismatch is returned by a worker asked to run a node of a plan it
// does not hold (another hash): it refuses rather than running different
// code than the run was started with.
var ErrPlanMismatch = errors.New("temporal: the worker does not hold the plan this run was started with")

// PlanSource returns the compiled plan of the named runbook with the given
// hash. It lets one worker serve several runbooks, and several versions of
// one. Returning a plan with another hash is refused.
type PlanSource func(ctx context.Context, runbook, hash string) (*runbook.Plan, error)

// Plans returns a PlanSource serving the given plans.
func Plans(plans ...*runbook.Plan) PlanSource {
	byHash := make(map[string]*runbook.Plan, len(plans))
	for _, p := range plans {
		if p != nil {
			byHash[p.Hash()] = p
		}
	}
	return func(_ context.Context, name, hash string) (*runbook.Plan, error) {
		p, ok := byHash[hash]
		if !ok || p.Name != name {
			return nil, fmt.Errorf("%w: runbook %q with plan hash %.12s is not loaded on this worker", ErrPlanMismatch, name, hash)
		}
		return p, nil
	}
}

// Options configure a [Runner].
type Options struct {
	// Observer receives the core's events, emitted from the worker: node
	// and sample events from the activities, run, gate, approval and
	// rollback events from the workflow (never while it replays). It is
	// called from workflow code too: it must return quickly (queue slow
	// sinks), or Temporal's deadlock detection fails the workflow task.
	Observer runbook.Observer
	// Logger receives the runner's diagnostics and is the base of Env.Logger
	// (default: discard).
	Logger *slog.Logger
	// Redactor knows the secrets to keep out of errors, events and the
	// workflow history (default: a new, empty one).
	Redactor *runbook.Redactor
	// Clock is what actions sleep on inside activities (default the wall
	// clock). Env.Clock().Now() reads the workflow's time at the start of
	// the activity plus the time elapsed on this clock since.
	Clock runbook.Clock
	// Approver answers the questions actions ask themselves inside an
	// activity (Env.Ask: a manual checklist), for example through chat.
	// Approval gates, pauses and inconclusive gates do not use it: they
	// wait in the workflow for a [SignalDecision]. Nil: such questions fail
	// with runbook.ErrNoApprover.
	Approver runbook.Approver
}

// Runner holds what a worker needs to run plans: where plans come from, and
// where events go. Register it on a worker with [Runner.Register].
type Runner struct {
	src   PlanSource
	obs   runbook.Observer
	log   *slog.Logger
	red   *runbook.Redactor
	clock runbook.Clock
	appr  runbook.Approver
}

// NewRunner returns a runner serving the plans of src.
func NewRunner(src PlanSource, opts Options) (*Runner, error) {
	if src == nil {
		return nil, errors.New("temporal: NewRunner needs a plan source: use temporal.Plans(plan) for plans built in Go or loaded from HCL")
	}
	r := &Runner{src: src, obs: opts.Observer, log: opts.Logger, red: opts.Redactor, clock: opts.Clock, appr: opts.Approver}
	if r.obs == nil {
		r.obs = runbook.NopObserver{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.red == nil {
		r.red = runbook.NewRedactor()
	}
	if r.clock == nil {
		r.clock = runbook.RealClock{}
	}
	return r, nil
}

// WorkflowRegistry is where the workflow is registered: a worker, a test
// environment or a replayer.
type WorkflowRegistry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// Registry is where the workflow and the activities are registered: a
// worker.Worker or a testsuite environment.
type Registry interface {
	WorkflowRegistry
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Register registers the workflow and the activities on reg.
func (r *Runner) Register(reg Registry) {
	r.RegisterWorkflow(reg)
	reg.RegisterActivityWithOptions(r.stepActivity, activity.RegisterOptions{Name: ActivityStep})
	reg.RegisterActivityWithOptions(r.sampleActivity, activity.RegisterOptions{Name: ActivitySample})
	reg.RegisterActivityWithOptions(r.compensateActivity, activity.RegisterOptions{Name: ActivityCompensate})
}

// RegisterWorkflow registers the workflow only (for a replayer).
func (r *Runner) RegisterWorkflow(reg WorkflowRegistry) {
	reg.RegisterWorkflowWithOptions(r.workflow, workflow.RegisterOptions{Name: WorkflowName})
}

// NewWorker returns a Temporal worker on taskQueue with the workflow and the
// activities of a runner serving src registered. Start it with Run or Start.
func NewWorker(c client.Client, taskQueue string, src PlanSource, opts Options, wopts worker.Options) (worker.Worker, error) {
	r, err := NewRunner(src, opts)
	if err != nil {
		return nil, err
	}
	if taskQueue == "" {
		return nil, errors.New("temporal: NewWorker needs a task queue name")
	}
	w := worker.New(c, taskQueue, wopts)
	r.Register(w)
	return w, nil
}

// nodeRef identifies a node of a run in an activity's input.
type nodeRef struct {
	Runbook   string    `json:"runbook"`
	Hash      string    `json:"hash"`
	Run       string    `json:"run"`
	StartedAt time.Time `json:"started_at"`
	Node      string    `json:"node"`
	// Time is the workflow's time when it scheduled the activity.
	Time time.Time `json:"time"`
	// Outputs are the outputs of the nodes completed so far.
	Outputs map[string]runbook.Outputs `json:"outputs,omitempty"`
}

// StepInput is the input of the step activity.
type StepInput struct {
	nodeRef
	MaxAttempts int `json:"max_attempts"`
}

// StepOutput is the result of the step activity.
type StepOutput struct {
	Skipped bool            `json:"skipped,omitempty"`
	Outputs runbook.Outputs `json:"outputs,omitempty"`
	Attempt int             `json:"attempt"`
}

// SampleInput is the input of the sample activity.
type SampleInput struct {
	nodeRef
	Check int `json:"check"`
	Seq   int `json:"seq"`
}

// SampleOutput is one classified sample.
type SampleOutput struct {
	Verdict engine.Verdict `json:"verdict"`
	Value   any            `json:"value,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// CompensateInput is the input of the compensate activity.
type CompensateInput struct {
	nodeRef
	Self        runbook.Outputs `json:"self,omitempty"`
	Fallback    int             `json:"fallback"`
	Fallbacks   int             `json:"fallbacks"`
	MaxAttempts int             `json:"max_attempts"`
	// AttemptBase is the number of attempts spent on earlier fallbacks.
	AttemptBase int `json:"attempt_base"`
}

func (r *Runner) plan(ctx context.Context, ref nodeRef) (*runbook.Plan, *runbook.Node, error) {
	p, err := r.src(ctx, ref.Runbook, ref.Hash)
	if err != nil {
		if !errors.Is(err, ErrPlanMismatch) {
			err = fmt.Errorf("%w: %w", ErrPlanMismatch, err)
		}
		return nil, nil, sdktemporal.NewNonRetryableApplicationError(r.red.Redact(err.Error()), errTypePlanMismatch, nil)
	}
	if p == nil || p.Hash() != ref.Hash {
		got := ""
		if p != nil {
			got = p.Hash()
		}
		err := fmt.Errorf("%w: run %s of %q was started from plan %.12s, this worker holds %.12s", ErrPlanMismatch, ref.Run, ref.Runbook, ref.Hash, got)
		return nil, nil, sdktemporal.NewNonRetryableApplicationError(err.Error(), errTypePlanMismatch, nil)
	}
	n, ok := p.Node(ref.Node)
	if !ok {
		err := fmt.Errorf("%w: plan %.12s has no node %q", ErrPlanMismatch, ref.Hash, ref.Node)
		return nil, nil, sdktemporal.NewNonRetryableApplicationError(err.Error(), errTypePlanMismatch, nil)
	}
	return p, n, nil
}

// env builds the Env an action, rollback, probe or condition sees.
func (r *Runner) env(ref nodeRef, attempt int, self runbook.Outputs) *runbook.Env {
	outs := ref.Outputs
	return runbook.NewEnv(runbook.EnvConfig{
		Run:     runbook.RunInfo{ID: ref.Run, Runbook: ref.Runbook, StartedAt: ref.StartedAt},
		Node:    ref.Node,
		Attempt: attempt,
		Self:    self,
		Lookup: func(name string) (runbook.Outputs, bool) {
			o, ok := outs[name]
			return o, ok
		},
		Clock:    &anchoredClock{base: r.clock, at: ref.Time, start: r.clock.Now()},
		Observer: r.obs,
		Logger:   r.log,
		Redactor: r.red,
		Approver: r.appr,
	})
}

func (r *Runner) header(ref nodeRef, clock runbook.Clock) runbook.Header {
	return runbook.Header{Run: ref.Run, Node: ref.Node, Time: clock.Now()}
}

// heartbeat records heartbeats while an activity runs, so that the server
// notices a lost worker within the heartbeat timeout and can deliver a
// cancellation.
func heartbeat(ctx context.Context) func() {
	info := activity.GetInfo(ctx)
	every := info.HeartbeatTimeout / 4
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (r *Runner) stepActivity(ctx context.Context, in StepInput) (StepOutput, error) {
	_, n, err := r.plan(ctx, in.nodeRef)
	if err != nil {
		return StepOutput{}, err
	}
	s := n.Step
	if s == nil {
		return StepOutput{}, sdktemporal.NewNonRetryableApplicationError(fmt.Sprintf("temporal: node %s is a gate, not a step", n.Name), errTypePlanMismatch, nil)
	}
	attempt := int(activity.GetInfo(ctx).Attempt)
	env := r.env(in.nodeRef, attempt, nil)
	clock := env.Clock()
	stop := heartbeat(ctx)
	defer stop()
	if s.When != nil && attempt == 1 {
		ok, err := s.When(ctx, env)
		if err != nil {
			serr := &runbook.StepError{Node: n.Name, Attempt: 1, Err: fmt.Errorf("when: %w", err)}
			msg := r.red.Redact(serr.Error())
			r.obs.Observe(runbook.NodeFailed{Header: r.header(in.nodeRef, clock), Attempt: 1, Error: msg, Final: true, Policy: policyOf(s.OnFail)})
			return StepOutput{}, sdktemporal.NewNonRetryableApplicationError(msg, errTypePermanent, nil, 1)
		}
		if !ok {
			r.obs.Observe(runbook.NodeSkipped{Header: r.header(in.nodeRef, clock), Reason: "condition is false"})
			return StepOutput{Skipped: true, Attempt: 1}, nil
		}
	}
	start := clock.Now()
	r.obs.Observe(runbook.NodeStarted{Header: runbook.Header{Run: in.Run, Node: n.Name, Time: start}, NodeKind: "step", Phase: n.Phase, Attempt: attempt})
	out, err := safeDo(ctx, s.Action, env)
	if err == nil {
		red := r.red.RedactOutputs(out)
		now := clock.Now()
		r.obs.Observe(runbook.NodeSucceeded{Header: runbook.Header{Run: in.Run, Node: n.Name, Time: now}, Attempt: attempt, Duration: now.Sub(start), Outputs: red})
		return StepOutput{Outputs: out, Attempt: attempt}, nil
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The run is stopping: report a cancellation, which the workflow
		// tells apart from a failure.
		cerr := &runbook.StepError{Node: n.Name, Attempt: attempt, Err: fmt.Errorf("%w: %w", runbook.ErrCancelled, err)}
		msg := r.red.Redact(cerr.Error())
		r.obs.Observe(runbook.NodeFailed{Header: r.header(in.nodeRef, clock), Attempt: attempt, Error: msg, Final: true})
		return StepOutput{}, fmt.Errorf("%s: %w", msg, context.Canceled)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, runbook.ErrTimeout) {
		err = fmt.Errorf("%w after %s: %w", runbook.ErrTimeout, activity.GetInfo(ctx).StartToCloseTimeout, err)
	}
	serr := &runbook.StepError{Node: n.Name, Attempt: attempt, Err: err}
	msg := r.red.Redact(serr.Error())
	final := attempt >= in.MaxAttempts || runbook.IsPermanent(err)
	if final {
		r.obs.Observe(runbook.NodeFailed{Header: r.header(in.nodeRef, clock), Attempt: attempt, Error: msg, Final: true, Policy: policyOf(s.OnFail)})
		return StepOutput{}, sdktemporal.NewNonRetryableApplicationError(msg, errTypePermanent, nil, attempt)
	}
	r.obs.Observe(runbook.NodeFailed{Header: r.header(in.nodeRef, clock), Attempt: attempt, Error: msg})
	r.obs.Observe(runbook.NodeRetrying{Header: r.header(in.nodeRef, clock), Attempt: attempt, Delay: s.Retry.DelayAfter(attempt), Error: r.red.Redact(err.Error())})
	return StepOutput{}, sdktemporal.NewApplicationError(msg, "handrail.StepFailed", attempt)
}

func (r *Runner) sampleActivity(ctx context.Context, in SampleInput) (SampleOutput, error) {
	_, n, err := r.plan(ctx, in.nodeRef)
	if err != nil {
		return SampleOutput{}, err
	}
	g := n.Gate
	if g == nil || in.Check < 0 || in.Check >= len(g.Checks) {
		return SampleOutput{}, sdktemporal.NewNonRetryableApplicationError(fmt.Sprintf("temporal: node %s has no check #%d", n.Name, in.Check), errTypePlanMismatch, nil)
	}
	c := &g.Checks[in.Check]
	stop := heartbeat(ctx)
	defer stop()
	env := r.env(in.nodeRef, in.Seq, nil)
	s, perr := safeSample(ctx, c.Probe, env)
	verdict, value, errText := c.Classify(g.Kind, r.env(in.nodeRef, in.Seq, nil), s, perr)
	name := c.Name
	if name == "" {
		name = fmt.Sprintf("check%d", in.Check+1)
	}
	rec := runbook.SampleRecord{Gate: n.Name, Check: name, Seq: in.Seq, Time: in.Time, Value: r.red.RedactValue(value),
		Verdict: verdict, Error: r.red.Redact(errText), DryRun: c.DryRun, Threshold: c.Threshold}
	r.obs.Observe(runbook.GateSampled{Header: runbook.Header{Run: in.Run, Node: n.Name, Time: in.Time}, Sample: rec})
	return SampleOutput{Verdict: verdict, Value: rec.Value, Error: rec.Error}, nil
}

func (r *Runner) compensateActivity(ctx context.Context, in CompensateInput) error {
	p, n, err := r.plan(ctx, in.nodeRef)
	if err != nil {
		return err
	}
	rbs := p.Rollbacks(n.Name)
	if in.Fallback < 0 || in.Fallback >= len(rbs) {
		return sdktemporal.NewNonRetryableApplicationError(fmt.Sprintf("temporal: step %s has no rollback #%d", n.Name, in.Fallback), errTypePlanMismatch, nil)
	}
	rb := rbs[in.Fallback]
	a := int(activity.GetInfo(ctx).Attempt)
	attempt := in.AttemptBase + a
	env := r.env(in.nodeRef, attempt, in.Self)
	clock := env.Clock()
	stop := heartbeat(ctx)
	defer stop()
	err = safeCompensate(ctx, rb, env)
	if err == nil {
		r.obs.Observe(runbook.StepCompensated{Header: r.header(in.nodeRef, clock), Attempt: attempt, Fallback: in.Fallback, Via: runbook.Describe(rb).String()})
		return nil
	}
	final := in.Fallback == in.Fallbacks-1 && a >= in.MaxAttempts
	msg := r.red.Redact((&runbook.StepError{Node: n.Name, Attempt: attempt, Err: fmt.Errorf("rollback: %w", err)}).Error())
	r.obs.Observe(runbook.CompensationFailed{Header: r.header(in.nodeRef, clock), Attempt: attempt, Fallback: in.Fallback, Error: msg, Final: final})
	if a >= in.MaxAttempts {
		return sdktemporal.NewNonRetryableApplicationError(msg, errTypePermanent, nil)
	}
	return sdktemporal.NewApplicationError(msg, "handrail.RollbackFailed")
}

func policyOf(p runbook.Policy) runbook.Policy {
	if p == "" {
		return runbook.PolicyRollback
	}
	return p
}

// anchoredClock reads the workflow's time at the start of an activity plus
// the time elapsed on the base clock since; it sleeps on the base clock.
type anchoredClock struct {
	base  runbook.Clock
	at    time.Time
	start time.Time
}

func (c *anchoredClock) Now() time.Time {
	if c.at.IsZero() {
		return c.base.Now()
	}
	return c.at.Add(c.base.Now().Sub(c.start))
}

func (c *anchoredClock) Sleep(ctx context.Context, d time.Duration) error {
	return c.base.Sleep(ctx, d)
}
