package temporal

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// Input is the workflow's input: the plan's shape (pinned by its hash) and
// the run's settings. Build it with [NewInput] or let [Client.Start] do it.
type Input struct {
	Shape Shape `json:"shape"`
	// RunID names the run in events (default: the workflow ID).
	RunID string `json:"run_id,omitempty"`
	// Inputs are the run's variables, sensitive ones without value.
	Inputs []runbook.Input `json:"inputs,omitempty"`
	// Parallelism bounds the nodes running at once (default 10).
	Parallelism int `json:"parallelism,omitempty"`
	// StepTimeout bounds each attempt of a step that sets no timeout of its
	// own: Temporal needs one (default 24h).
	StepTimeout time.Duration `json:"step_timeout,omitempty"`
	// HeartbeatTimeout is how soon a lost worker is noticed and a
	// cancellation delivered (default 1m; negative disables heartbeats).
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout,omitempty"`
	// RollbackTimeout and RollbackRetry are the defaults for compensations
	// (10m; 3 attempts 1s apart, doubling), as in runbook.Executor.
	RollbackTimeout time.Duration  `json:"rollback_timeout,omitempty"`
	RollbackRetry   *runbook.Retry `json:"rollback_retry,omitempty"`
	// OnlyUsedOutputs sends each activity the outputs of the nodes its node
	// declares in Uses (HCL finds them from references), instead of the
	// outputs of every node completed so far: smaller activity inputs and
	// history for long runbooks. Go plans whose actions read outputs they do
	// not declare in Uses must leave it false.
	OnlyUsedOutputs bool `json:"only_used_outputs,omitempty"`
}

// NewInput returns the input of a run of p.
func NewInput(p *runbook.Plan) (Input, error) {
	s, err := ShapeOf(p)
	if err != nil {
		return Input{}, err
	}
	return Input{Shape: s}, nil
}

// Result is what the workflow returns: how the run ended, as the local
// executor's [runbook.Result] says it, with errors as text.
type Result struct {
	Run         string                `json:"run"`
	Runbook     string                `json:"runbook"`
	PlanHash    string                `json:"plan_hash"`
	Status      runbook.Status        `json:"status"`
	Error       string                `json:"error,omitempty"`
	Completed   []string              `json:"completed,omitempty"`
	Compensated []string              `json:"compensated,omitempty"`
	Pending     []string              `json:"pending,omitempty"`
	Warnings    []string              `json:"warnings,omitempty"`
	Nodes       map[string]NodeResult `json:"nodes"`
}

// NodeResult is what happened to one node.
type NodeResult struct {
	Status   runbook.NodeState `json:"status"`
	Attempts int               `json:"attempts,omitempty"`
	Outcome  engine.Outcome    `json:"outcome,omitempty"`
	Outputs  runbook.Outputs   `json:"outputs,omitempty"`
	Error    string            `json:"error,omitempty"`
	Decision *runbook.Decision `json:"decision,omitempty"`
}

// ApprovalSignal is the payload of [SignalDecision]: the answer to what a
// node waits for (an approval gate, a pause, an inconclusive gate).
type ApprovalSignal struct {
	Node     string `json:"node"`
	Approved bool   `json:"approved"`
	By       string `json:"by"`
	Comment  string `json:"comment,omitempty"`
	// Choice answers questions with choices (in-doubt steps).
	Choice string `json:"choice,omitempty"`
}

// Waiting is one question the run waits on, as [QueryWaiting] returns it.
type Waiting struct {
	runbook.ApprovalRequest
	Since time.Time `json:"since"`
	// Deadline is when the default answer is taken (zero: none).
	Deadline time.Time `json:"deadline,omitempty"`
}

type nodeEnd struct {
	Idx      int
	State    runbook.NodeState
	Err      string
	Policy   runbook.Policy
	Outputs  runbook.Outputs
	Attempts int
	Outcome  engine.Outcome
	// OwnRollback: the failed step's own rollback runs (an in-doubt step
	// someone decided to compensate).
	OwnRollback bool
}

// maxLostWorkerReruns bounds how often an idempotent step whose worker was
// lost is run again (a step that kills its worker must not loop forever).
const maxLostWorkerReruns = 5

// workerLost reports a heartbeat timeout: the worker running the activity
// stopped heartbeating (the runner heartbeats while actions run).
func workerLost(err error) bool {
	var te *sdktemporal.TimeoutError
	return errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT
}

type wfRun struct {
	r     *Runner
	ctx   workflow.Context
	in    Input
	nodes []NodeShape
	idx   map[string]int
	info  runbook.RunInfo

	outputs     map[string]runbook.Outputs
	res         []NodeResult
	done        []int
	ownFail     []int
	ponr        bool
	failed      bool
	failErr     string
	failPol     runbook.Policy
	warnings    []string
	compensated []string
	status      runbook.Status

	waiting   map[string]*Waiting
	decisions map[string]ApprovalSignal
	ignored   []string
}

func (r *Runner) workflow(ctx workflow.Context, in Input) (*Result, error) {
	if err := in.Shape.validate(); err != nil {
		return nil, sdktemporal.NewNonRetryableApplicationError(err.Error(), "handrail.InvalidInput", nil)
	}
	w := &wfRun{r: r, ctx: ctx, in: in, nodes: in.Shape.Nodes, idx: map[string]int{},
		outputs: map[string]runbook.Outputs{}, waiting: map[string]*Waiting{}, decisions: map[string]ApprovalSignal{}}
	for i, n := range w.nodes {
		w.idx[n.Name] = i
	}
	w.res = make([]NodeResult, len(w.nodes))
	for i := range w.res {
		w.res[i].Status = runbook.StatePending
	}
	id := in.RunID
	if id == "" {
		id = workflow.GetInfo(ctx).WorkflowExecution.ID
	}
	w.info = runbook.RunInfo{ID: id, Runbook: in.Shape.Runbook, StartedAt: workflow.Now(ctx)}
	if err := w.handlers(); err != nil {
		return nil, err
	}
	w.emit(runbook.RunStarted{Header: w.header(""), Runbook: in.Shape.Runbook, PlanHash: in.Shape.Hash, Mode: "run"})
	w.forward()
	return w.finish(), nil
}

func (w *wfRun) handlers() error {
	if err := workflow.SetQueryHandler(w.ctx, QueryWaiting, func() ([]Waiting, error) {
		out := make([]Waiting, 0, len(w.waiting))
		for _, wt := range w.waiting {
			out = append(out, *wt)
		}
		sort.Slice(out, func(i, j int) bool { return w.idx[out[i].Node] < w.idx[out[j].Node] })
		return out, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(w.ctx, QueryProgress, func() (*Result, error) {
		return w.result(w.status, nil), nil
	}); err != nil {
		return err
	}
	ch := workflow.GetSignalChannel(w.ctx, SignalDecision)
	workflow.Go(w.ctx, func(c workflow.Context) {
		for {
			var s ApprovalSignal
			if more := ch.Receive(c, &s); !more {
				return
			}
			wt, ok := w.waiting[s.Node]
			switch {
			case !ok:
				w.ignore(s, "nothing waits on this node now")
			case len(wt.Approvers) > 0 && !containsString(wt.Approvers, s.By):
				w.ignore(s, fmt.Sprintf("%q is not one of its approvers %v", s.By, wt.Approvers))
			case len(wt.Choices) > 0 && !containsString(wt.Choices, s.Choice):
				w.ignore(s, fmt.Sprintf("choice %q is not one of %v", s.Choice, wt.Choices))
			default:
				if _, dup := w.decisions[s.Node]; !dup {
					w.decisions[s.Node] = s
				}
			}
		}
	})
	return nil
}

func (w *wfRun) ignore(s ApprovalSignal, why string) {
	msg := fmt.Sprintf("decision for %s by %s ignored: %s", s.Node, s.By, why)
	w.ignored = append(w.ignored, msg)
	workflow.GetLogger(w.ctx).Warn(msg)
	w.emit(runbook.Note{Header: w.header(s.Node), Message: msg})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// emit sends an event to the worker's observer, except while the workflow
// replays its history (the event was sent when the code first ran).
func (w *wfRun) emit(ev runbook.Event) {
	if workflow.IsReplaying(w.ctx) {
		return
	}
	w.r.obs.Observe(ev)
}

func (w *wfRun) header(node string) runbook.Header {
	return runbook.Header{Run: w.info.ID, Node: node, Time: workflow.Now(w.ctx)}
}

// ref identifies node for an activity. Outputs is the run's map itself:
// ExecuteActivity encodes its input when it is called.
func (w *wfRun) ref(c workflow.Context, node string) nodeRef {
	outs := w.outputs
	if w.in.OnlyUsedOutputs {
		outs = map[string]runbook.Outputs{}
		for _, u := range w.nodes[w.idx[node]].Uses {
			if o, ok := w.outputs[u]; ok {
				outs[u] = o
			}
		}
	}
	return nodeRef{Runbook: w.in.Shape.Runbook, Hash: w.in.Shape.Hash, Run: w.info.ID, StartedAt: w.info.StartedAt,
		Node: node, Time: workflow.Now(c), Outputs: outs}
}

func (w *wfRun) heartbeat() time.Duration {
	switch hb := w.in.HeartbeatTimeout; {
	case hb < 0:
		return 0
	case hb == 0:
		return time.Minute
	default:
		return hb
	}
}

// retryPolicy maps a runbook retry onto Temporal's: the same attempts, and
// the local executor's first wait, backoff and cap (the engine's Backoff).
// Temporal has no jitter, and needs a backoff of at least 1 and a cap no
// lower than the first wait.
func retryPolicy(r runbook.Retry) *sdktemporal.RetryPolicy {
	n := r.MaxAttempts()
	initial := r.DelayAfter(1)
	factor := engine.Backoff{Delay: r.Delay, Factor: r.Backoff}.Resolved().Factor
	return &sdktemporal.RetryPolicy{InitialInterval: initial, BackoffCoefficient: max(factor, 1),
		MaximumInterval: max(r.DelayAfter(max(n-1, 1)), initial), MaximumAttempts: int32(n),
		NonRetryableErrorTypes: []string{errTypePermanent, errTypePlanMismatch, errTypeCancelled}}
}

// forward runs the nodes in dependency order until all are done or one
// fails; then the nodes in flight are cancelled and awaited. It only
// walks: the engine's Scheduler (the same as the local executor's) decides
// which node starts when, runNode runs it.
func (w *wfRun) forward() {
	w.status = "running"
	wk := w.newWalk()
	defer wk.cancelRun()
	for {
		for {
			i, ok := wk.sched.Next()
			if !ok {
				break
			}
			wk.start(i)
		}
		finished, endGuards := wk.sched.Drained()
		if finished {
			break
		}
		if endGuards {
			wk.endSpans(slices.Sorted(maps.Keys(wk.guardStop)))
		}
		wk.await()
	}
	if !w.failed && w.ctx.Err() != nil {
		wk.fail("run cancelled: the workflow was cancelled", runbook.PolicyRollback)
	}
}

// wfWalk is the state of the forward walk.
type wfWalk struct {
	w          *wfRun
	sched      *engine.Scheduler
	runCtx     workflow.Context
	cancelRun  func()
	results    workflow.Channel
	guardStop  map[int]func()
	cancelSeen bool
}

func (w *wfRun) newWalk() *wfWalk {
	par := w.in.Parallelism
	if par <= 0 {
		par = 10
	}
	sn := make([]engine.Node, len(w.nodes))
	for i, n := range w.nodes {
		sn[i] = engine.Node{Deps: make([]int, len(n.Deps)), Until: -1}
		for k, d := range n.Deps {
			sn[i].Deps[k] = w.idx[d]
		}
		if g := n.Gate; g != nil && g.Kind == runbook.GateGuard {
			sn[i].Guard = true
			if u, ok := w.idx[g.Until]; ok {
				sn[i].Until = u
			}
		}
	}
	wk := &wfWalk{w: w, sched: engine.NewScheduler(sn, nil, par), results: workflow.NewBufferedChannel(w.ctx, len(w.nodes)),
		guardStop: map[int]func(){}}
	wk.runCtx, wk.cancelRun = workflow.WithCancel(w.ctx)
	return wk
}

// start runs node i in a coroutine; a guard gets a context of its own,
// cancelled when its span ends.
func (wk *wfWalk) start(i int) {
	w := wk.w
	w.res[i].Status = runbook.StateRunning
	if g := w.nodes[i].Gate; g != nil && g.Kind == runbook.GateGuard {
		gctx, gcancel := workflow.WithCancel(wk.runCtx)
		st := &gateState{}
		wk.guardStop[i] = func() { st.spanEnded = true; gcancel() }
		workflow.Go(gctx, func(c workflow.Context) {
			wk.results.SendAsync(w.runNode(c, i, st))
		})
		return
	}
	workflow.Go(wk.runCtx, func(c workflow.Context) {
		wk.results.SendAsync(w.runNode(c, i, nil))
	})
}

// endSpans ends the spans of the given guards, in the order given (the
// order of the commands must not depend on map iteration).
func (wk *wfWalk) endSpans(guards []int) {
	for _, g := range guards {
		if stop, ok := wk.guardStop[g]; ok {
			stop()
		}
	}
}

// fail stops the walk for the first failure.
func (wk *wfWalk) fail(err string, pol runbook.Policy) {
	w := wk.w
	if w.failed {
		return
	}
	w.failed, w.failErr, w.failPol = true, err, pol
	wk.sched.Stop()
	wk.cancelRun()
}

// await takes the next node's end, or the workflow's cancellation.
func (wk *wfWalk) await() {
	w := wk.w
	var end nodeEnd
	got := false
	sel := workflow.NewSelector(w.ctx)
	sel.AddReceive(wk.results, func(ch workflow.ReceiveChannel, _ bool) {
		ch.Receive(w.ctx, &end)
		got = true
	})
	if !wk.cancelSeen {
		sel.AddReceive(w.ctx.Done(), func(workflow.ReceiveChannel, bool) { wk.cancelSeen = true })
	}
	sel.Select(w.ctx)
	if !got {
		wk.fail("run cancelled: the workflow was cancelled", runbook.PolicyRollback)
		return
	}
	delete(wk.guardStop, end.Idx)
	w.record(end)
	ok := end.State == runbook.StateSucceeded || end.State == runbook.StateSkipped || end.State == runbook.StateWarned
	wk.endSpans(wk.sched.Ended(end.Idx, ok))
	switch end.State {
	case runbook.StateFailed:
		wk.fail(end.Err, end.Policy)
	case runbook.StateCancelled:
		wk.fail(end.Err, runbook.PolicyRollback)
	}
}

func (w *wfRun) record(end nodeEnd) {
	n := w.nodes[end.Idx]
	res := &w.res[end.Idx]
	res.Status, res.Error = end.State, end.Err
	if end.Attempts > 0 {
		res.Attempts = end.Attempts
	}
	res.Outcome = end.Outcome
	if end.Outputs != nil {
		res.Outputs = end.Outputs
	}
	switch end.State {
	case runbook.StateSucceeded, runbook.StateWarned:
		if n.Gate != nil && n.Gate.Kind == runbook.GateGuard {
			return
		}
		w.outputs[n.Name] = end.Outputs
		w.done = append(w.done, end.Idx)
		if n.Step != nil && n.Step.PointOfNoReturn {
			w.ponr = true
		}
		if end.State == runbook.StateWarned && end.Err != "" {
			w.warnings = append(w.warnings, end.Err)
		}
	case runbook.StateFailed, runbook.StateCancelled:
		if n.Step != nil && (n.Step.RollbackOnFailure || end.OwnRollback) {
			w.ownFail = append(w.ownFail, end.Idx)
		}
	}
}

// runNode runs one node; st is the span state of a guard (nil otherwise).
func (w *wfRun) runNode(c workflow.Context, i int, st *gateState) nodeEnd {
	if w.nodes[i].Step != nil {
		return w.runStep(c, i)
	}
	if st == nil {
		st = &gateState{}
	}
	return w.runGate(c, i, st)
}

func (w *wfRun) runStep(c workflow.Context, i int) nodeEnd {
	n := w.nodes[i]
	s := n.Step
	end := nodeEnd{Idx: i}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = w.in.StepTimeout
	}
	if timeout <= 0 {
		timeout = 24 * time.Hour
	}
	rp := retryPolicy(s.Retry)
	rerunnable := s.Idempotent || s.ReadOnly
	if !rerunnable {
		// A lost worker leaves a step in doubt: it may have taken effect.
		// Temporal must not run a non-idempotent step again by itself.
		rp.NonRetryableErrorTypes = append(rp.NonRetryableErrorTypes, "TemporalTimeout:Heartbeat")
	}
	actx := workflow.WithActivityOptions(c, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    w.heartbeat(),
		WaitForCancellation: true,
		RetryPolicy:         rp,
	})
	var out StepOutput
	var err error
	for reruns := 0; ; reruns++ {
		out = StepOutput{}
		err = workflow.ExecuteActivity(actx, ActivityStep, StepInput{nodeRef: w.ref(c, n.Name), MaxAttempts: s.Retry.MaxAttempts()}).Get(actx, &out)
		if err == nil || !workerLost(err) || c.Err() != nil {
			break
		}
		// In doubt, as after a crash of the local executor: an idempotent
		// step runs again; otherwise a person decides.
		if rerunnable && reruns < maxLostWorkerReruns {
			w.emit(runbook.Note{Header: w.header(n.Name), Message: "in doubt after its worker was lost: running it again (idempotent)"})
			continue
		}
		if rerunnable {
			break
		}
		d, aerr := w.ask(c, runbook.ApprovalRequest{Node: n.Name, Kind: "in-doubt", Choices: []string{"rerun", "compensate", "done"},
			Message: fmt.Sprintf("step %s was started but its worker was lost before it finished, and it is not idempotent. Did it take effect? Choose rerun (run it again), compensate (treat it as done and roll the run back) or done (treat it as done and go on).", n.Name)}, 0, false)
		if aerr != nil {
			break
		}
		switch d.Choice {
		case "rerun":
			continue
		case "done":
			end.State, end.Outputs = runbook.StateSucceeded, runbook.Outputs{}
			return end
		default: // compensate
			end.State, end.Policy, end.OwnRollback = runbook.StateFailed, runbook.PolicyRollback, true
			end.Err = fmt.Sprintf("%s: %v: compensated by decision of %s", n.Name, runbook.ErrInDoubt, d.By)
			return end
		}
	}
	if err == nil {
		end.Attempts = out.Attempt
		if out.Skipped {
			end.State = runbook.StateSkipped
			return end
		}
		end.State, end.Outputs = runbook.StateSucceeded, out.Outputs
		if end.Outputs == nil {
			end.Outputs = runbook.Outputs{}
		}
		return end
	}
	msg, cancelled, attempt := w.failure(c, n.Name, s.Timeout, err)
	end.Attempts = attempt
	if cancelled {
		end.State, end.Err = runbook.StateCancelled, msg
		return end
	}
	end.Err, end.Policy = msg, policyOf(s.OnFail)
	return w.applyPolicy(c, end, n.Name, end.Policy, "step failed")
}

// failure turns an activity's error into the node's error text; it reports
// whether the node was cancelled, and the attempt that failed.
func (w *wfRun) failure(c workflow.Context, node string, timeout time.Duration, err error) (string, bool, int) {
	attempt := 0
	var appErr *sdktemporal.ApplicationError
	if errors.As(err, &appErr) && appErr.HasDetails() {
		_ = appErr.Details(&attempt)
	}
	var canceled *sdktemporal.CanceledError
	if errors.As(err, &canceled) || (appErr != nil && appErr.Type() == errTypeCancelled) || c.Err() != nil {
		return fmt.Sprintf("%s: %v: the run is stopping", node, runbook.ErrCancelled), true, attempt
	}
	var te *sdktemporal.TimeoutError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: %v after %s (%s timeout: the attempt did not finish, or its worker was lost)", node, runbook.ErrTimeout, timeout, strings.ToLower(te.TimeoutType().String())), false, attempt
	}
	if appErr != nil {
		return appErr.Message(), false, attempt
	}
	return fmt.Sprintf("%s: %v", node, err), false, attempt
}

// applyPolicy turns a final failure into the node's end: continue warns,
// pause asks, rollback and abort fail.
func (w *wfRun) applyPolicy(c workflow.Context, end nodeEnd, node string, pol runbook.Policy, what string) nodeEnd {
	switch pol {
	case runbook.PolicyContinue:
		end.State = runbook.StateWarned
		return end
	case runbook.PolicyPause:
		d, err := w.ask(c, runbook.ApprovalRequest{Node: node, Kind: "pause", Message: fmt.Sprintf("%s: %s. Approve to go on, deny to roll back.", what, end.Err)}, 0, false)
		if err == nil && d.Approved {
			end.State = runbook.StateWarned
			return end
		}
		if err != nil {
			end.Err = fmt.Sprintf("%s (and the pause could not be answered: %v)", end.Err, err)
		}
		end.State, end.Policy = runbook.StateFailed, runbook.PolicyRollback
		return end
	default:
		end.State, end.Policy = runbook.StateFailed, pol
		return end
	}
}

// ask waits for a decision signal for req.Node, or for the timeout.
func (w *wfRun) ask(c workflow.Context, req runbook.ApprovalRequest, timeout time.Duration, onTimeout bool) (runbook.Decision, error) {
	req.Run = w.info.ID
	now := workflow.Now(c)
	wt := &Waiting{ApprovalRequest: req, Since: now}
	if timeout > 0 {
		wt.Deadline = now.Add(timeout)
	}
	w.waiting[req.Node] = wt
	delete(w.decisions, req.Node)
	w.emit(runbook.ApprovalRequested{Header: w.header(req.Node), Request: req})
	cond := func() bool { _, ok := w.decisions[req.Node]; return ok }
	ok := true
	var err error
	if timeout > 0 {
		ok, err = workflow.AwaitWithTimeout(c, timeout, cond)
	} else {
		err = workflow.Await(c, cond)
	}
	delete(w.waiting, req.Node)
	sig, answered := w.decisions[req.Node]
	delete(w.decisions, req.Node)
	if err != nil && !answered {
		return runbook.Decision{}, fmt.Errorf("%s: approval: %w", req.Node, runbook.ErrCancelled)
	}
	var d runbook.Decision
	if ok && answered {
		d = runbook.Decision{Approved: sig.Approved, Choice: sig.Choice, By: sig.By, Comment: w.r.red.Redact(sig.Comment), At: workflow.Now(c)}
	} else {
		d = runbook.Decision{Approved: onTimeout, By: "timeout", TimedOut: true, At: workflow.Now(c)}
	}
	w.emit(runbook.ApprovalDecided{Header: w.header(req.Node), Decision: d})
	return d, nil
}

func (w *wfRun) runGate(c workflow.Context, i int, st *gateState) nodeEnd {
	n := w.nodes[i]
	g := n.Gate
	end := nodeEnd{Idx: i, Attempts: 1}
	w.emit(runbook.NodeStarted{Header: w.header(n.Name), NodeKind: "gate", Phase: n.Phase, Attempt: 1})
	start := workflow.Now(c)
	var outcome engine.Outcome
	var reason string
	var outputs runbook.Outputs
	if g.Kind == runbook.GateApproval {
		outcome, reason, outputs = w.runApproval(c, i)
	} else {
		outcome, reason, outputs = w.runChecks(c, i, st)
	}
	if c.Err() != nil && !st.spanEnded {
		end.State, end.Err = runbook.StateCancelled, fmt.Sprintf("%s: %v: the run is stopping", n.Name, runbook.ErrCancelled)
		w.emit(runbook.NodeFailed{Header: w.header(n.Name), Attempt: 1, Error: end.Err, Final: true})
		return end
	}
	outputs["outcome"] = string(outcome)
	end.Outcome = outcome
	if outcome == engine.OutcomePassed {
		w.emit(runbook.GatePassed{Header: w.header(n.Name), Outcome: outcome})
		w.emit(runbook.NodeSucceeded{Header: w.header(n.Name), Attempt: 1, Duration: workflow.Now(c).Sub(start), Outputs: w.r.red.RedactOutputs(outputs)})
		end.State, end.Outputs = runbook.StateSucceeded, outputs
		return end
	}
	pol := runbook.Policy(engine.FailurePolicy(outcome, string(g.OnFail), string(g.OnInconclusive)))
	cause := runbook.ErrGateFailed
	switch {
	case outcome == engine.OutcomeInconclusive:
		cause = runbook.ErrGateInconclusive
	case outcome == engine.OutcomeFailed && g.Kind == runbook.GateApproval:
		cause = runbook.ErrDenied
	}
	end.Err = fmt.Sprintf("%s: %v: %s", n.Name, cause, reason)
	w.emit(runbook.GateFailed{Header: w.header(n.Name), Outcome: outcome, Reason: w.r.red.Redact(reason), Policy: pol})
	w.emit(runbook.NodeFailed{Header: w.header(n.Name), Attempt: 1, Error: w.r.red.Redact(end.Err), Final: true, Policy: pol})
	end.Outputs, end.Policy = outputs, pol
	return w.applyPolicy(c, end, n.Name, pol, fmt.Sprintf("gate %s %s", n.Name, outcome))
}

func (w *wfRun) runApproval(c workflow.Context, i int) (engine.Outcome, string, runbook.Outputs) {
	n := w.nodes[i]
	a := n.Gate.Approval
	out := runbook.Outputs{}
	if a == nil {
		return engine.OutcomeError, "approval gate has no approval settings", out
	}
	d, err := w.ask(c, runbook.ApprovalRequest{Node: n.Name, Kind: "approval", Message: a.Message, Approvers: a.Approvers, Evidence: w.evidence()}, a.Timeout, a.OnTimeout)
	if err != nil {
		return engine.OutcomeError, err.Error(), out
	}
	out["approved"] = d.Approved
	out["by"] = d.By
	w.res[i].Decision = &d
	if d.Approved {
		return engine.OutcomePassed, "", out
	}
	return engine.OutcomeFailed, engine.DenialReason(d.By, d.TimedOut, a.Timeout, d.Comment), out
}

func (w *wfRun) evidence() []string {
	var ev []string
	for _, i := range w.done {
		ev = append(ev, fmt.Sprintf("%s %s", w.nodes[i].Name, w.res[i].Status))
	}
	return ev
}

type checkEnd struct {
	Check   int
	Outcome engine.Outcome
	Reason  string
	Last    any
}

// runChecks runs every check of a check or soak gate at once; the first
// check that does not pass decides the gate.
func (w *wfRun) runChecks(c workflow.Context, i int, st *gateState) (engine.Outcome, string, runbook.Outputs) {
	g := w.nodes[i].Gate
	timeout := engine.GateTimeout(string(g.Kind), g.Timeout)
	gctx, cancel := workflow.WithCancel(c)
	defer cancel()
	if timeout > 0 {
		workflow.Go(gctx, func(tc workflow.Context) {
			if workflow.Sleep(tc, timeout) == nil {
				st.timedOut = true
				cancel()
			}
		})
	}
	ends := workflow.NewBufferedChannel(c, len(g.Checks))
	for k := range g.Checks {
		workflow.Go(gctx, func(cc workflow.Context) {
			ends.SendAsync(w.runCheck(cc, i, k, st))
		})
	}
	outs := make([]checkEnd, len(g.Checks))
	ge := engine.NewGateEnd()
	for range g.Checks {
		var e checkEnd
		ends.Receive(c, &e)
		outs[e.Check] = e
		if ge.Add(e.Check, e.Outcome, e.Reason) {
			st.decided = true
			cancel()
		}
	}
	result, reason := ge.Outcome, ge.Reason
	out := runbook.Outputs{}
	for k, e := range outs {
		if name := g.Checks[k].Name; name != "" {
			out[name] = e.Last
		}
		if k == 0 {
			out["value"] = e.Last
		}
	}
	return result, reason, out
}

// gateState is why a gate's checks were stopped.
type gateState struct {
	timedOut  bool
	decided   bool
	spanEnded bool // a guard's span ended: it passed
}

// checkSpec is check k of gate g for the engine.
func checkSpec(g *GateShape, k int) engine.CheckSpec {
	ch := &g.Checks[k]
	return engine.CheckSpec{Kind: string(g.Kind), Index: k, Name: ch.Name, Every: ch.Every, InitialDelay: ch.InitialDelay, Count: ch.Count,
		GateEvery: g.Every, GateInitialDelay: g.InitialDelay, GateCount: g.Count, Duration: g.Duration, Timeout: g.Timeout,
		Limits: engine.Limits{FailureLimit: ch.FailureLimit, Tolerate: ch.Tolerate, InconclusiveLimit: ch.InconclusiveLimit,
			ErrorLimit: ch.ErrorLimit, DryRun: ch.DryRun},
		Threshold: ch.Threshold, Message: ch.Message}
}

// runCheck drives check k of gate node i through the engine's machine:
// each sample is an activity (which classifies it), each wait a durable
// timer; the machine decides.
func (w *wfRun) runCheck(c workflow.Context, i, k int, st *gateState) checkEnd {
	n := w.nodes[i]
	m := engine.NewCheck(checkSpec(n.Gate, k), workflow.Now(c))
	sampleTimeout := max(m.Every(), time.Minute)
	actx := workflow.WithActivityOptions(c, workflow.ActivityOptions{
		StartToCloseTimeout: sampleTimeout,
		HeartbeatTimeout:    w.heartbeat(),
		WaitForCancellation: false,
		RetryPolicy:         &sdktemporal.RetryPolicy{MaximumAttempts: 1},
	})
	var last any
	wait := m.InitialDelay()
	for {
		if wait > 0 && workflow.Sleep(c, wait) != nil {
			m.Stop(st.stop(), runbook.ErrCancelled.Error())
			break
		}
		var s SampleOutput
		err := workflow.ExecuteActivity(actx, ActivitySample, SampleInput{nodeRef: w.ref(c, n.Name), Check: k, Seq: m.Seq()}).Get(actx, &s)
		if c.Err() != nil {
			m.Stop(st.stop(), runbook.ErrCancelled.Error())
			break
		}
		if err != nil {
			msg, _, _ := w.failure(c, n.Name, sampleTimeout, err)
			s = SampleOutput{Verdict: engine.VerdictError, Error: msg}
		}
		last = s.Value
		var done bool
		if done, wait = m.Observe(s.Verdict, s.Value, s.Error, workflow.Now(c)); done {
			break
		}
	}
	return checkEnd{Check: k, Outcome: m.Outcome(), Reason: m.Reason(), Last: last}
}

// stop says why the gate's checks were stopped.
func (st *gateState) stop() engine.Stop {
	switch {
	case st.decided:
		return engine.StopDecided
	case st.spanEnded:
		return engine.StopSpanEnded
	case st.timedOut:
		return engine.StopTimeout
	}
	return engine.StopCancelled
}

// finish compensates if needed and builds the result.
func (w *wfRun) finish() *Result {
	var status runbook.Status
	var pending []string
	switch {
	case !w.failed:
		status = runbook.StatusSucceeded
	case w.failPol == runbook.PolicyAbort:
		status = runbook.StatusAborted
		pending = w.pendingNames(w.compensationOrder())
	case w.ponr:
		status = runbook.StatusHalted
		pending = w.pendingNames(w.compensationOrder())
	default:
		status, pending = w.compensate(w.compensationOrder(), w.failErr)
	}
	w.status = status
	res := w.result(status, pending)
	w.emit(runbook.RunFinished{Header: w.header(""), Status: status, Error: w.r.red.Redact(res.Error), Pending: pending})
	return res
}

func (w *wfRun) result(status runbook.Status, pending []string) *Result {
	res := &Result{Run: w.info.ID, Runbook: w.in.Shape.Runbook, PlanHash: w.in.Shape.Hash, Status: status,
		Pending: pending, Warnings: w.warnings, Compensated: w.compensated, Nodes: make(map[string]NodeResult, len(w.nodes))}
	if w.failed {
		res.Error = w.r.red.Redact(w.failErr)
	}
	for i, n := range w.nodes {
		res.Nodes[n.Name] = w.res[i]
	}
	for _, i := range w.done {
		res.Completed = append(res.Completed, w.nodes[i].Name)
	}
	return res
}

// compensationOrder: the failed steps that opted into their own rollback,
// then completed steps in reverse completion order.
func (w *wfRun) compensationOrder() []int {
	return engine.CompensationOrder(w.ownFail, w.done)
}

// pendingNames names the compensations of order that are still owed: those
// the engine would run.
func (w *wfRun) pendingNames(order []int) []string {
	_, names, _ := engine.Compensations(order, w.undo)
	if len(names) == 0 {
		return nil
	}
	return names
}

// undo describes node i to the engine's choice of compensations.
func (w *wfRun) undo(i int) engine.Undo {
	n := w.nodes[i]
	if n.Step == nil {
		return engine.Undo{Name: n.Name}
	}
	return engine.Undo{Name: n.Name, Rollbacks: n.Step.Rollbacks, Irreversible: n.Step.Irreversible}
}

// compensate runs the rollbacks in order, best effort, on a context the
// run's cancellation does not reach.
func (w *wfRun) compensate(order []int, reason string) (runbook.Status, []string) {
	w.status = "rolling_back"
	ctx, _ := workflow.NewDisconnectedContext(w.ctx)
	todo, names, warnings := engine.Compensations(order, w.undo)
	w.warnings = append(w.warnings, warnings...)
	w.emit(runbook.RollbackStarted{Header: w.header(""), Reason: w.r.red.Redact(reason), Pending: names})
	var left []string
	for _, i := range todo {
		if !w.compensateOne(ctx, i) {
			left = append(left, w.nodes[i].Name)
		}
	}
	if len(left) > 0 {
		return runbook.StatusRollbackIncomplete, left
	}
	return runbook.StatusRolledBack, nil
}

func (w *wfRun) compensateOne(ctx workflow.Context, i int) bool {
	n := w.nodes[i]
	s := n.Step
	retry := engine.Override(runbook.Retry{Attempts: engine.DefaultRollbackAttempts, Delay: engine.DefaultRollbackDelay, Backoff: engine.DefaultRollbackBackoff},
		w.in.RollbackRetry, s.RollbackRetry)
	timeout := engine.RollbackTimeout(w.in.RollbackTimeout, s.RollbackTimeout)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    w.heartbeat(),
		RetryPolicy:         retryPolicy(retry),
	})
	base := 0
	for fb := 0; fb < s.Rollbacks; fb++ {
		in := CompensateInput{nodeRef: w.ref(ctx, n.Name), Self: w.outputs[n.Name], Fallback: fb, Fallbacks: s.Rollbacks,
			MaxAttempts: retry.MaxAttempts(), AttemptBase: base}
		if err := workflow.ExecuteActivity(actx, ActivityCompensate, in).Get(actx, nil); err == nil {
			w.compensated = append(w.compensated, n.Name)
			w.res[i].Status = runbook.StateCompensated
			return true
		}
		base += retry.MaxAttempts()
	}
	w.res[i].Status = runbook.StateCompensationFailed
	return false
}
