package temporal

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/handrail-dev/handrail/runbook"
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
	Outcome  runbook.Outcome   `json:"outcome,omitempty"`
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
	Outcome  runbook.Outcome
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

// retryPolicy maps a runbook retry onto Temporal's: same attempts, first
// delay, backoff and cap. Temporal has no jitter, and needs a backoff of at
// least 1.
func retryPolicy(r runbook.Retry) *sdktemporal.RetryPolicy {
	n := r.MaxAttempts()
	initial := r.Delay
	if initial <= 0 {
		initial = time.Second
	}
	b := r.Backoff
	if b <= 0 {
		b = 2
	}
	if b < 1 {
		b = 1
	}
	maxDelay := r.DelayAfter(max(n-1, 1))
	if maxDelay < initial {
		maxDelay = initial
	}
	return &sdktemporal.RetryPolicy{InitialInterval: initial, BackoffCoefficient: b, MaximumInterval: maxDelay,
		MaximumAttempts: int32(n), NonRetryableErrorTypes: []string{errTypePermanent, errTypePlanMismatch, errTypeCancelled}}
}

// forward runs the nodes in dependency order, lowest declaration index
// first among the ready ones, at most Parallelism at once, until all are
// done or one fails; then the nodes in flight are cancelled and awaited.
func (w *wfRun) forward() {
	w.status = "running"
	par := w.in.Parallelism
	if par <= 0 {
		par = 10
	}
	remaining := make([]int, len(w.nodes))
	outs := make([][]int, len(w.nodes))
	// Guards take no parallelism slot: they wait apart, start as soon as
	// their From node is done, and end when their Until node is.
	var ready, readyGuards intHeap
	isGuard := func(i int) bool { g := w.nodes[i].Gate; return g != nil && g.Kind == runbook.GateGuard }
	push := func(i int) {
		if isGuard(i) {
			readyGuards.push(i)
		} else {
			ready.push(i)
		}
	}
	pendingCount := 0
	until := map[int][]int{}
	for i, n := range w.nodes {
		for _, d := range n.Deps {
			remaining[i]++
			outs[w.idx[d]] = append(outs[w.idx[d]], i)
		}
		if !isGuard(i) {
			pendingCount++
		} else if u, ok := w.idx[n.Gate.Until]; ok {
			until[u] = append(until[u], i)
		}
		if remaining[i] == 0 {
			push(i)
		}
	}
	runCtx, cancelRun := workflow.WithCancel(w.ctx)
	defer cancelRun()
	results := workflow.NewBufferedChannel(w.ctx, len(w.nodes))
	inflight, guards := 0, 0
	guardStop := map[int]func(){}
	// endGuards ends the spans of the given guards, in declaration order
	// (the order of the commands must not depend on map iteration).
	endGuards := func(list []int) {
		sort.Ints(list)
		for _, g := range list {
			if stop, ok := guardStop[g]; ok {
				stop()
			}
		}
	}
	cancelSeen := false
	fail := func(idx int, err string, pol runbook.Policy) {
		if w.failed {
			return
		}
		w.failed, w.failErr, w.failPol = true, err, pol
		cancelRun()
	}
	for {
		for !w.failed && readyGuards.Len() > 0 {
			i := readyGuards.pop()
			guards++
			w.res[i].Status = runbook.StateRunning
			gctx, gcancel := workflow.WithCancel(runCtx)
			st := &gateState{}
			guardStop[i] = func() { st.spanEnded = true; gcancel() }
			workflow.Go(gctx, func(c workflow.Context) {
				results.SendAsync(w.runNode(c, i, st))
			})
		}
		for !w.failed && ready.Len() > 0 && inflight < par {
			i := ready.pop()
			inflight++
			w.res[i].Status = runbook.StateRunning
			workflow.Go(runCtx, func(c workflow.Context) {
				results.SendAsync(w.runNode(c, i, nil))
			})
		}
		if inflight == 0 && (guards == 0 || pendingCount == 0 || w.failed) {
			if guards == 0 {
				break
			}
			var all []int
			for g := range guardStop {
				all = append(all, g)
			}
			endGuards(all)
		}
		var end nodeEnd
		got := false
		sel := workflow.NewSelector(w.ctx)
		sel.AddReceive(results, func(ch workflow.ReceiveChannel, _ bool) {
			ch.Receive(w.ctx, &end)
			got = true
		})
		if !cancelSeen {
			sel.AddReceive(w.ctx.Done(), func(workflow.ReceiveChannel, bool) { cancelSeen = true })
		}
		sel.Select(w.ctx)
		if !got {
			fail(-1, "run cancelled: the workflow was cancelled", runbook.PolicyRollback)
			continue
		}
		guard := isGuard(end.Idx)
		if guard {
			guards--
			delete(guardStop, end.Idx)
		} else {
			inflight--
			pendingCount--
		}
		w.record(end)
		switch end.State {
		case runbook.StateSucceeded, runbook.StateSkipped, runbook.StateWarned:
			if guard {
				break
			}
			endGuards(append([]int(nil), until[end.Idx]...))
			for _, o := range outs[end.Idx] {
				remaining[o]--
				if remaining[o] == 0 {
					push(o)
				}
			}
		case runbook.StateFailed:
			fail(end.Idx, end.Err, end.Policy)
		case runbook.StateCancelled:
			fail(end.Idx, end.Err, runbook.PolicyRollback)
		}
	}
	if !w.failed && w.ctx.Err() != nil {
		fail(-1, "run cancelled: the workflow was cancelled", runbook.PolicyRollback)
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
	var outcome runbook.Outcome
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
	if outcome == runbook.OutcomePassed {
		w.emit(runbook.GatePassed{Header: w.header(n.Name), Outcome: outcome})
		w.emit(runbook.NodeSucceeded{Header: w.header(n.Name), Attempt: 1, Duration: workflow.Now(c).Sub(start), Outputs: w.r.red.RedactOutputs(outputs)})
		end.State, end.Outputs = runbook.StateSucceeded, outputs
		return end
	}
	pol := g.OnFail
	cause := runbook.ErrGateFailed
	switch outcome {
	case runbook.OutcomeInconclusive:
		pol, cause = g.OnInconclusive, runbook.ErrGateInconclusive
		if pol == "" {
			pol = runbook.PolicyPause
		}
	case runbook.OutcomeFailed:
		if g.Kind == runbook.GateApproval {
			cause = runbook.ErrDenied
		}
	}
	pol = policyOf(pol)
	end.Err = fmt.Sprintf("%s: %v: %s", n.Name, cause, reason)
	w.emit(runbook.GateFailed{Header: w.header(n.Name), Outcome: outcome, Reason: w.r.red.Redact(reason), Policy: pol})
	w.emit(runbook.NodeFailed{Header: w.header(n.Name), Attempt: 1, Error: w.r.red.Redact(end.Err), Final: true, Policy: pol})
	end.Outputs, end.Policy = outputs, pol
	return w.applyPolicy(c, end, n.Name, pol, fmt.Sprintf("gate %s %s", n.Name, outcome))
}

func (w *wfRun) runApproval(c workflow.Context, i int) (runbook.Outcome, string, runbook.Outputs) {
	n := w.nodes[i]
	a := n.Gate.Approval
	out := runbook.Outputs{}
	if a == nil {
		return runbook.OutcomeError, "approval gate has no approval settings", out
	}
	d, err := w.ask(c, runbook.ApprovalRequest{Node: n.Name, Kind: "approval", Message: a.Message, Approvers: a.Approvers, Evidence: w.evidence()}, a.Timeout, a.OnTimeout)
	if err != nil {
		return runbook.OutcomeError, err.Error(), out
	}
	out["approved"] = d.Approved
	out["by"] = d.By
	w.res[i].Decision = &d
	if d.Approved {
		return runbook.OutcomePassed, "", out
	}
	who := d.By
	if who == "" {
		who = "the approver"
	}
	reason := fmt.Sprintf("denied by %s", who)
	if d.TimedOut {
		reason = fmt.Sprintf("no answer within %s", a.Timeout)
	}
	if d.Comment != "" {
		reason += ": " + d.Comment
	}
	return runbook.OutcomeFailed, reason, out
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
	Outcome runbook.Outcome
	Reason  string
	Last    any
}

// runChecks runs every check of a check or soak gate at once; the first
// check that does not pass decides the gate.
func (w *wfRun) runChecks(c workflow.Context, i int, st *gateState) (runbook.Outcome, string, runbook.Outputs) {
	g := w.nodes[i].Gate
	timeout := g.Timeout
	if g.Kind == runbook.GateCheck && timeout <= 0 {
		timeout = 5 * time.Minute
	}
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
	result, reason := runbook.OutcomePassed, ""
	for range g.Checks {
		var e checkEnd
		ends.Receive(c, &e)
		outs[e.Check] = e
		if e.Outcome != runbook.OutcomePassed && result == runbook.OutcomePassed {
			result, reason = e.Outcome, e.Reason
			st.decided = true
			cancel()
		}
	}
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

func (w *wfRun) runCheck(c workflow.Context, i, k int, st *gateState) checkEnd {
	n := w.nodes[i]
	g := n.Gate
	ch := &g.Checks[k]
	end := checkEnd{Check: k, Outcome: runbook.OutcomePassed}
	every := ch.Every
	if every <= 0 {
		every = g.Every
	}
	if every <= 0 {
		every = 30 * time.Second
		if g.Kind == runbook.GateCheck {
			every = 10 * time.Second
		}
	}
	delay := ch.InitialDelay
	if delay <= 0 {
		delay = g.InitialDelay
	}
	count := ch.Count
	if count <= 0 {
		count = g.Count
	}
	name := ch.Name
	if name == "" {
		name = fmt.Sprintf("check%d", k+1)
	}
	start := workflow.Now(c)
	stopped := func() checkEnd {
		switch {
		case st.decided, st.spanEnded:
			return end
		case st.timedOut:
			limit := g.Timeout
			if limit <= 0 {
				limit = 5 * time.Minute
			}
			end.Outcome = runbook.OutcomeFailed
			end.Reason = fmt.Sprintf("check %s did not hold within %s", name, limit)
			if ch.Message != "" {
				end.Reason += ": " + ch.Message
			}
			if ch.DryRun {
				end.Outcome = runbook.OutcomePassed
			}
			return end
		}
		end.Outcome = runbook.OutcomeError
		end.Reason = fmt.Sprintf("check %s stopped: %v", name, runbook.ErrCancelled)
		return end
	}
	if delay > 0 {
		if workflow.Sleep(c, delay) != nil {
			return stopped()
		}
	}
	sampleTimeout := max(every, time.Minute)
	actx := workflow.WithActivityOptions(c, workflow.ActivityOptions{
		StartToCloseTimeout: sampleTimeout,
		HeartbeatTimeout:    w.heartbeat(),
		WaitForCancellation: false,
		RetryPolicy:         &sdktemporal.RetryPolicy{MaximumAttempts: 1},
	})
	var fails, consec, inconc, consecErr int
	for seq := 1; ; seq++ {
		var s SampleOutput
		err := workflow.ExecuteActivity(actx, ActivitySample, SampleInput{nodeRef: w.ref(c, n.Name), Check: k, Seq: seq}).Get(actx, &s)
		if c.Err() != nil {
			return stopped()
		}
		if err != nil {
			msg, _, _ := w.failure(c, n.Name, sampleTimeout, err)
			s = SampleOutput{Verdict: runbook.VerdictError, Error: msg}
		}
		end.Last = s.Value
		if !ch.DryRun {
			switch s.Verdict {
			case runbook.VerdictPass:
				consec, consecErr = 0, 0
				if g.Kind == runbook.GateCheck {
					return end
				}
			case runbook.VerdictFail:
				fails++
				consec++
				consecErr = 0
				if fails > ch.FailureLimit && consec > ch.Tolerate {
					end.Outcome = runbook.OutcomeFailed
					end.Reason = fmt.Sprintf("check %s breached: value %v", name, displayValue(s.Value))
					if ch.Threshold != "" {
						end.Reason += ", want " + ch.Threshold
					}
					if ch.Message != "" {
						end.Reason += ": " + ch.Message
					}
					return end
				}
			case runbook.VerdictInconclusive:
				inconc++
				consecErr = 0
				if inconc > ch.InconclusiveLimit {
					end.Outcome = runbook.OutcomeInconclusive
					end.Reason = fmt.Sprintf("check %s inconclusive %d times (limit %d)", name, inconc, ch.InconclusiveLimit)
					return end
				}
			case runbook.VerdictError:
				consecErr++
				if consecErr > ch.ErrorLimit {
					end.Outcome = runbook.OutcomeError
					end.Reason = fmt.Sprintf("check %s: probe failed %d times in a row: %s", name, consecErr, s.Error)
					return end
				}
			}
		} else if g.Kind == runbook.GateCheck {
			return end
		}
		if g.Kind != runbook.GateCheck {
			if count > 0 && seq >= count {
				return end
			}
			if g.Duration > 0 && !workflow.Now(c).Before(start.Add(g.Duration)) {
				return end
			}
		}
		wait := every
		if g.Kind != runbook.GateCheck && g.Duration > 0 {
			if rest := start.Add(g.Duration).Sub(workflow.Now(c)); rest < wait && count <= 0 {
				wait = rest
			}
		}
		if workflow.Sleep(c, wait) != nil {
			return stopped()
		}
	}
}

func displayValue(v any) string {
	if v == nil {
		return "(none)"
	}
	return fmt.Sprint(v)
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
	var out []int
	for k := len(w.ownFail) - 1; k >= 0; k-- {
		out = append(out, w.ownFail[k])
	}
	for k := len(w.done) - 1; k >= 0; k-- {
		out = append(out, w.done[k])
	}
	return out
}

func (w *wfRun) pendingNames(order []int) []string {
	var out []string
	for _, i := range order {
		if n := w.nodes[i]; n.Step != nil && n.Step.Rollbacks > 0 {
			out = append(out, n.Name)
		}
	}
	return out
}

// compensate runs the rollbacks in order, best effort, on a context the
// run's cancellation does not reach.
func (w *wfRun) compensate(order []int, reason string) (runbook.Status, []string) {
	w.status = "rolling_back"
	ctx, _ := workflow.NewDisconnectedContext(w.ctx)
	var todo []int
	for _, i := range order {
		n := w.nodes[i]
		if n.Step == nil {
			continue
		}
		if n.Step.Rollbacks == 0 {
			if n.Step.Irreversible {
				w.warnings = append(w.warnings, fmt.Sprintf("%s: irreversible, not compensated", n.Name))
			}
			continue
		}
		todo = append(todo, i)
	}
	names := make([]string, len(todo))
	for k, i := range todo {
		names[k] = w.nodes[i].Name
	}
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
	retry := runbook.Retry{Attempts: 3, Delay: time.Second, Backoff: 2}
	if w.in.RollbackRetry != nil {
		retry = *w.in.RollbackRetry
	}
	if s.RollbackRetry != nil {
		retry = *s.RollbackRetry
	}
	timeout := w.in.RollbackTimeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	if s.RollbackTimeout > 0 {
		timeout = s.RollbackTimeout
	}
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

// intHeap is a min-heap of node indexes.
type intHeap []int

func (h intHeap) Len() int { return len(h) }

func (h *intHeap) push(v int) {
	*h = append(*h, v)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p] <= s[i] {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *intHeap) pop() int {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(s) && s[l] < s[m] {
			m = l
		}
		if l+1 < len(s) && s[l+1] < s[m] {
			m = l + 1
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
