package runbook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/runbook/engine"
)

// Executor runs plans. The zero value is ready to use: real clock, no
// journal, no observer, no approver, parallelism 10. An Executor may run
// several plans at once.
type Executor struct {
	// Clock defaults to the wall clock.
	Clock Clock
	// Journal, if set, receives every transition before the next side
	// effect; Resume and Rollback need it.
	Journal Journal
	// Observer receives events.
	Observer Observer
	// Approver answers approval gates, pauses and in-doubt questions.
	Approver Approver
	// Logger receives the executor's own diagnostics (default: discard).
	Logger *slog.Logger
	// Redactor knows the run's secrets (default: a new one per run).
	Redactor *Redactor
	// Parallelism bounds the nodes running at once (default 10).
	Parallelism int
	// RollbackTimeout bounds each compensation attempt (default 10m).
	RollbackTimeout time.Duration
	// RollbackRetry retries failed compensations (default 3 attempts, 1s
	// apart, doubling).
	RollbackRetry *Retry
	// Rand returns numbers in [0,1) for retry jitter (default math/rand).
	Rand func() float64

	// noInline turns off running a lone ready node on the walk's own
	// goroutine (benchmarks compare the two).
	noInline bool
}

// RunOptions are per run.
type RunOptions struct {
	// RunID names the run (default: generated).
	RunID string
	// Inputs are recorded in the journal (sensitive ones without value).
	Inputs []Input
	// Force lets a resume or rollback go on with a plan whose comparison
	// with the journal's (see [Executor.Compare]) has unsafe changes; it
	// needs a Reason, journaled with the new plan version.
	Force bool
	// From resumes a run from this node: it and every node that depends
	// on it run again; completed ones among them only if idempotent,
	// listed in Rerun, or confirmed by the approver.
	From string
	// Rerun lists completed, non-idempotent nodes in From's span that run
	// again without asking.
	Rerun []string
	// By names the person who resumes or rolls back; Reason says why.
	// Both are journaled with a new plan version.
	By     string
	Reason string
	// LockKey is the key of the run lock when the journal is a [Locker]
	// (default: the plan's name).
	LockKey string
	// StopRollback, when closed during a rollback, stops it after the
	// compensation in progress; the run ends interrupted, ready for a later
	// rollback.
	StopRollback <-chan struct{}
	// StartedBy names the person starting the run; it is journaled, and an
	// approval gate with SeparateFrom "starter" refuses their approval. A
	// resumed run keeps the journal's starter.
	StartedBy string
}

type nodeEnd struct {
	idx      int
	state    NodeState
	err      error
	policy   Policy
	outputs  Outputs
	tok      *clockToken
	attempts int
	outcome  engine.Outcome // gates
}

type run struct {
	e           *Executor
	p           *Plan
	info        RunInfo
	clock       Clock
	obs         Observer
	j           Journal
	red         *Redactor
	appr        Approver
	logger      *slog.Logger
	par         int
	rnd         func() float64
	quiet       bool // no observer: events need not be built
	opts        RunOptions
	mu          sync.Mutex
	res         []*NodeResult
	outputs     map[string]Outputs
	done        []int // completion order, steps and gates
	ponr        bool  // a point-of-no-return step completed
	failIdx     int
	failErr     error
	failPol     Policy
	warnings    []error
	ownFail     []int // failed steps whose own rollback runs (rollback_on_failure)
	jerr        error
	compensated []string
	checkpoints map[string]Outputs
	progress    map[string]Outputs // Env.RecordProgress, per node
	// unrecorded names what a rollback did or tried that the journal
	// could not record; any makes the rollback incomplete.
	unrecorded []string
	starter    string
	// rerun marks completed nodes that a resume runs again (From).
	rerun map[int]bool
	// The run lock, when the journal is a Locker (see hold).
	lease      Lease
	lostCh     chan struct{} // closed when the lease is lost
	lostClosed bool
	lostErr    error
}

func (e *Executor) newRun(p *Plan, opts RunOptions, info RunInfo) *run {
	r := &run{e: e, p: p, opts: opts, info: info, failIdx: -1, starter: opts.StartedBy}
	r.clock = e.Clock
	if r.clock == nil {
		r.clock = RealClock{}
	}
	r.obs = e.Observer
	if r.obs == nil {
		r.obs = NopObserver{}
	}
	r.quiet = isNop(r.obs)
	r.j = e.Journal
	r.red = e.Redactor
	if r.red == nil {
		r.red = NewRedactor()
	}
	r.appr = e.Approver
	r.logger = e.Logger
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	r.par = e.Parallelism
	if r.par <= 0 {
		r.par = 10
	}
	r.rnd = e.Rand
	if r.rnd == nil {
		r.rnd = rand.Float64
	}
	r.res = make([]*NodeResult, len(p.nodes))
	slab := make([]NodeResult, len(p.nodes)) // one allocation for all
	for i, n := range p.nodes {
		slab[i] = NodeResult{Name: n.Name, Status: StatePending}
		r.res[i] = &slab[i]
	}
	r.outputs = make(map[string]Outputs, len(p.nodes))
	if r.info.StartedAt.IsZero() {
		r.info.StartedAt = r.clock.Now()
	}
	return r
}

// Run executes the plan. It returns the result and, unless the run
// succeeded, an error: the failure that stopped it (a *[StepError] for node
// failures) or why the run could not start.
func (e *Executor) Run(ctx context.Context, p *Plan, opts RunOptions) (*Result, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil plan", ErrInvalidPlan)
	}
	clock := e.Clock
	if clock == nil {
		clock = RealClock{}
	}
	id := opts.RunID
	if id == "" {
		id = engine.NewRunID(clock.Now())
	}
	lease, unlock, err := e.lock(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if opts.RunID != "" && e.Journal != nil {
		// A run id names one run: appending a new run to an old one's
		// records would corrupt both.
		if recs, err := e.Journal.Load(ctx, id); err == nil && len(recs) > 0 {
			return nil, fmt.Errorf("runbook: run %s already exists in the journal: choose another run id, or resume it (Resume) or roll it back (Rollback)", id)
		}
	}
	r := e.newRun(p, opts, RunInfo{ID: id, Runbook: p.Name})
	defer r.hold(lease)()
	inputs := make([]Input, len(opts.Inputs))
	for i, in := range opts.Inputs {
		if in.Sensitive {
			in.Value = ""
			r.red.Add(opts.Inputs[i].Value)
		}
		inputs[i] = in
	}
	start := Record{Kind: RecRunStarted, Runbook: p.Name, PlanHash: p.hash, Inputs: inputs, Mode: "run", StartedBy: opts.StartedBy}
	if e.Journal != nil {
		// The plan version the run starts with, for a later resume with
		// an edited runbook.
		start.Plan, start.NodeHashes = p.dump, p.NodeHashes()
	}
	if err := r.journal(ctx, start); err != nil {
		return nil, fmt.Errorf("runbook: cannot start run %s: journal: %w", id, err)
	}
	r.emit(RunStarted{Header: r.header(""), Runbook: p.Name, PlanHash: p.hash, Mode: "run", StartedBy: opts.StartedBy})
	r.forward(ctx, nil)
	return r.finish(ctx)
}

func (e *Executor) logf(level slog.Level, msg string, args ...any) {
	if e.Logger != nil {
		e.Logger.Log(context.Background(), level, msg, args...)
	}
}

func (r *run) header(node string) Header {
	return Header{Run: r.info.ID, Node: node, Time: r.clock.Now()}
}

func (r *run) emit(ev Event) { r.obs.Observe(ev) }

// journal appends records; the first failure is remembered and stops the
// run going forward.
func (r *run) journal(ctx context.Context, recs ...Record) error {
	if r.j == nil {
		return nil
	}
	now := r.clock.Now()
	for i := range recs {
		recs[i].Run = r.info.ID
		if recs[i].Time.IsZero() {
			recs[i].Time = now
		}
		recs[i].Error = r.red.Redact(recs[i].Error)
	}
	err := r.append(context.WithoutCancel(ctx), recs)
	if err != nil {
		r.mu.Lock()
		if r.jerr == nil {
			r.jerr = err
		}
		r.mu.Unlock()
	}
	return err
}

func (r *run) env(node string, attempt int, self Outputs) *Env {
	return &Env{run: r.info, node: node, attempt: attempt, self: self, clock: r.clock,
		logger: r.logger, redactor: r.red, approver: r.appr, r: r}
}

// checkpoint journals outputs a step captured before changing the world.
func (r *run) checkpoint(ctx context.Context, node string, attempt int, outs Outputs) error {
	r.mu.Lock()
	if r.checkpoints == nil {
		r.checkpoints = map[string]Outputs{}
	}
	cp := r.checkpoints[node]
	if cp == nil {
		cp = Outputs{}
		r.checkpoints[node] = cp
	}
	for k, v := range outs {
		cp[k] = v
	}
	r.mu.Unlock()
	if r.j == nil {
		return nil
	}
	if err := r.journal(ctx, Record{Kind: RecCheckpoint, Node: node, Attempt: attempt, Outputs: r.red.RedactOutputs(outs)}); err != nil {
		return fmt.Errorf("%s: checkpoint: journal: %w", node, err)
	}
	return nil
}

// checkpointOf returns a copy of a step's checkpoint, or nil.
func (r *run) checkpointOf(node string) Outputs {
	r.mu.Lock()
	defer r.mu.Unlock()
	cp, ok := r.checkpoints[node]
	if !ok {
		return nil
	}
	out := make(Outputs, len(cp))
	for k, v := range cp {
		out[k] = v
	}
	return out
}

// withCheckpoint merges a step's checkpoint under outs.
func (r *run) withCheckpoint(node string, outs Outputs) Outputs {
	cp := r.checkpointOf(node)
	if cp == nil {
		return outs
	}
	for k, v := range outs {
		cp[k] = v
	}
	return cp
}

func (r *run) lookup(name string) (Outputs, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.outputs[name]
	return o, ok
}

// ask asks the approver, with a timeout on the run's clock.
func (r *run) ask(ctx context.Context, req ApprovalRequest, timeout time.Duration, onTimeout bool) (Decision, error) {
	req.Run = r.info.ID
	req.PlanHash, req.StartedBy = r.p.hash, r.starter
	req.Message = r.red.Redact(req.Message)
	for i, ev := range req.Evidence {
		req.Evidence[i] = r.red.Redact(ev)
	}
	r.emit(ApprovalRequested{Header: r.header(req.Node), Request: req})
	if r.appr == nil {
		return Decision{}, fmt.Errorf("%s: %w (%s)", req.Node, ErrNoApprover, req.Kind)
	}
	actx, cancel := clockTimeout(ctx, r.clock, timeout)
	defer cancel()
	// The runner stays busy while the approver decides: on a simulated
	// clock an answer given at once takes no time, and an approver that
	// waits (a person who does not answer) must wait on the run's clock,
	// where the approval's timeout fires.
	d, err := r.appr.Approve(actx, req)
	if err != nil {
		if timeout > 0 && errors.Is(context.Cause(actx), ErrTimeout) && ctx.Err() == nil {
			d, err = Decision{Approved: onTimeout, By: "timeout", TimedOut: true}, nil
		} else {
			return Decision{}, fmt.Errorf("approval: %w", err)
		}
	}
	if d.At.IsZero() {
		d.At = r.clock.Now()
	}
	d.Comment = r.red.Redact(d.Comment)
	if jerr := r.journal(ctx, Record{Kind: RecDecision, Node: req.Node, Decision: &d}); jerr != nil {
		return d, fmt.Errorf("%s: journal: %w", req.Node, jerr)
	}
	r.emit(ApprovalDecided{Header: r.header(req.Node), Decision: d})
	return d, nil
}

// forward runs nodes not yet done until all are done or one fails. It only
// walks: the engine's Scheduler decides which node starts when, runNode
// runs it, and the walk hands nodes over and takes their ends.
func (r *run) forward(ctx context.Context, done map[int]bool) {
	w := r.newWalk(ctx, done)
	defer w.close()
	for {
		w.checkStop(ctx)
		if w.startReady() {
			continue // a lone node ran inline and was handled
		}
		finished, endGuards := w.sched.Drained()
		if finished {
			return
		}
		if endGuards {
			for _, c := range w.guardCancel {
				c(errSpanEnded)
			}
		}
		w.schedTok.idle()
		end := <-w.results
		w.schedTok.resume()
		w.handle(end)
	}
}

// walk is the state of one forward pass.
type walk struct {
	r           *run
	sched       *engine.Scheduler
	runCtx      context.Context
	cancelRun   context.CancelCauseFunc
	guardCancel map[int]context.CancelCauseFunc
	results     chan nodeEnd
	schedTok    *clockToken
	work        chan job
	workers     int
	failing     bool
	inline      bool // a lone ready node may run on the walk's goroutine
}

// job is a node handed to a worker.
type job struct {
	ctx context.Context
	i   int
	tok *clockToken
}

func (r *run) newWalk(ctx context.Context, done map[int]bool) *walk {
	nodes := r.p.nodes
	sn := make([]engine.Node, len(nodes))
	var skip []bool
	if len(done) > 0 {
		skip = make([]bool, len(nodes))
		for i := range done {
			skip[i] = done[i]
		}
	}
	for i, n := range nodes {
		sn[i] = engine.Node{Deps: n.deps, Until: -1}
		if n.Gate != nil && n.Gate.Kind == GateGuard {
			sn[i].Guard = true
			if n.Gate.Until != "" {
				sn[i].Until = r.p.index[n.Gate.Until]
			}
		}
	}
	w := &walk{r: r, sched: engine.NewScheduler(sn, skip, r.par), guardCancel: map[int]context.CancelCauseFunc{},
		results: make(chan nodeEnd, len(nodes)), schedTok: holdClock(r.clock), work: make(chan job, r.par),
		inline: r.j == nil && !r.e.noInline}
	w.runCtx, w.cancelRun = context.WithCancelCause(ctx)
	if r.lostCh != nil {
		// A lost run lock cancels what is in flight; the walk then starts
		// nothing new.
		go func() {
			select {
			case <-r.lostCh:
				w.cancelRun(r.lockLost())
			case <-w.runCtx.Done():
			}
		}()
	}
	return w
}

func (w *walk) close() {
	close(w.work)
	w.schedTok.release()
	w.cancelRun(context.Canceled)
}

// fail stops the walk for the first failure.
func (w *walk) fail(idx int, err error, pol Policy) {
	if w.failing {
		return
	}
	w.failing = true
	w.sched.Stop()
	w.r.failIdx, w.r.failErr, w.r.failPol = idx, err, pol
	w.cancelRun(ErrCancelled)
}

// checkStop fails the walk when the run is cancelled, the journal failed
// or the run lock was lost.
func (w *walk) checkStop(ctx context.Context) {
	if w.failing {
		return
	}
	r := w.r
	switch {
	case ctx.Err() != nil:
		w.fail(-1, fmt.Errorf("run cancelled: %w", context.Cause(ctx)), PolicyRollback)
	case r.jerr != nil:
		w.fail(-1, fmt.Errorf("journal: %w", r.jerr), PolicyRollback)
	default:
		if lost := r.lockLost(); lost != nil {
			w.cancelRun(lost) // the cause tells cancelled nodes why
			w.fail(-1, lost, PolicyRollback)
		}
	}
}

// startReady starts every node the scheduler lets start. When the one
// node that can run is alone (a sequence) and the run has no journal, it
// runs it on this goroutine, saving two hand-offs (about a fifth of a
// no-op step's CPU), handles its end and returns true. With a journal the
// step's fsync dwarfs that, and the inline path measured slower in wall
// time (BENCHMARKS.md, BenchmarkRealistic), so every node goes to a worker.
func (w *walk) startReady() bool {
	for {
		i, ok := w.sched.Next()
		if !ok {
			return false
		}
		nctx, tok := w.start(i)
		if w.guardCancel[i] != nil {
			w.goGuard(nctx, i, tok)
			continue
		}
		if w.inline && w.sched.Lone() {
			w.schedTok.idle()
			end := w.r.runNode(nctx, i, tok)
			w.schedTok.resume()
			w.handle(end)
			return true
		}
		// Steps and gates run on a pool of at most Parallelism workers,
		// whose stacks have grown once.
		w.work <- job{ctx: nctx, i: i, tok: tok}
		if w.workers < w.sched.Running() {
			w.workers++
			go func() {
				for j := range w.work {
					w.results <- w.r.runNode(j.ctx, j.i, j.tok)
				}
			}()
		}
	}
}

// goGuard runs guard i on a goroutine of its own. (A method, so that the
// variables of startReady's loop are not moved to the heap for every node
// because a goroutine captures them.)
func (w *walk) goGuard(ctx context.Context, i int, tok *clockToken) {
	go func() { w.results <- w.r.runNode(ctx, i, tok) }()
}

// start marks node i running and returns its context and clock token.
func (w *walk) start(i int) (context.Context, *clockToken) {
	r := w.r
	tok := holdClock(r.clock)
	nctx := w.runCtx
	if n := r.p.nodes[i]; n.Gate != nil && n.Gate.Kind == GateGuard {
		var gcancel context.CancelCauseFunc
		nctx, gcancel = context.WithCancelCause(w.runCtx)
		w.guardCancel[i] = gcancel
	}
	r.mu.Lock()
	r.res[i].Status = StateRunning
	r.mu.Unlock()
	return withToken(nctx, tok), tok
}

// handle takes a node's end: the node's token is released only now, so
// that a simulated clock cannot move between the end and its handling.
func (w *walk) handle(end nodeEnd) {
	end.tok.release()
	delete(w.guardCancel, end.idx)
	w.r.record(end)
	ok := end.state == StateSucceeded || end.state == StateSkipped || end.state == StateWarned
	for _, g := range w.sched.Ended(end.idx, ok) {
		if c, found := w.guardCancel[g]; found {
			c(errSpanEnded)
		}
	}
	switch end.state {
	case StateFailed:
		w.fail(end.idx, end.err, end.policy)
	case StateCancelled:
		w.fail(end.idx, end.err, PolicyRollback)
	}
}

var errSpanEnded = errors.New("guard span ended")

// record stores a node's end in the result.
func (r *run) record(end nodeEnd) {
	n := r.p.nodes[end.idx]
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.res[end.idx]
	res.Status = end.state
	res.Err = end.err
	res.End = r.clock.Now()
	if end.attempts > 0 {
		res.Attempts = end.attempts
	}
	if n.Gate != nil {
		res.Outcome = end.outcome
		if end.outputs != nil {
			res.Outputs = end.outputs
		}
	}
	switch end.state {
	case StateSucceeded, StateWarned:
		if n.Gate != nil && n.Gate.Kind == GateGuard {
			return
		}
		res.Outputs = end.outputs
		r.outputs[n.Name] = end.outputs
		if r.rerun[end.idx] {
			// Run again (a resume from an earlier node): it completes
			// once, at its latest completion.
			r.done = slices.DeleteFunc(r.done, func(k int) bool { return k == end.idx })
		}
		r.done = append(r.done, end.idx)
		if n.Step != nil && n.Step.PointOfNoReturn {
			r.ponr = true
		}
		if end.state == StateWarned && end.err != nil {
			r.warnings = append(r.warnings, end.err)
		}
	case StateFailed, StateCancelled:
		if _, checkpointed := r.checkpoints[n.Name]; n.compensatesOwnFailure(checkpointed) { // r.mu is held
			r.ownFail = append(r.ownFail, end.idx)
			if end.outputs != nil {
				// Partial outputs of the failed attempt: Self of its own
				// rollback.
				r.outputs[n.Name] = end.outputs
				res.Outputs = end.outputs
			}
		}
	}
}

func (r *run) runNode(ctx context.Context, i int, tok *clockToken) nodeEnd {
	n := r.p.nodes[i]
	r.mu.Lock()
	r.res[i].Start = r.clock.Now()
	r.mu.Unlock()
	if n.Step != nil {
		return r.runStep(ctx, i, n, tok)
	}
	return r.runGate(ctx, i, n, tok)
}

func (r *run) runStep(ctx context.Context, i int, n *Node, tok *clockToken) nodeEnd {
	s := n.Step
	end := nodeEnd{idx: i, tok: tok}
	if s.When != nil {
		ok, err := safeWhen(ctx, s.When, r.env(n.Name, 1, nil))
		if err != nil {
			end.state, end.err, end.policy = StateFailed, &StepError{Node: n.Name, Attempt: 1, Err: fmt.Errorf("when: %w", err)}, stepPolicy(s)
			_ = r.journal(ctx, Record{Kind: RecNodeFailed, Node: n.Name, Attempt: 1, Final: true, Error: end.err.Error()})
			r.emit(NodeFailed{Header: r.header(n.Name), Attempt: 1, Error: r.red.Redact(end.err.Error()), Final: true, Policy: end.policy})
			return end
		}
		if !ok {
			if err := r.journal(ctx, Record{Kind: RecNodeSkipped, Node: n.Name}); err != nil {
				return r.journalFailure(end, n.Name, 1, err)
			}
			r.emit(NodeSkipped{Header: r.header(n.Name), Reason: "condition is false"})
			end.state = StateSkipped
			return end
		}
	}
	attempts := s.Retry.attempts()
	for attempt := 1; ; attempt++ {
		end.attempts = attempt
		if err := ctx.Err(); err != nil {
			end.state, end.err = StateCancelled, &StepError{Node: n.Name, Attempt: attempt, Err: fmt.Errorf("%w: %w", ErrCancelled, context.Cause(ctx))}
			return end
		}
		if r.j != nil {
			if err := r.journal(ctx, Record{Kind: RecNodeStarted, Node: n.Name, Attempt: attempt}); err != nil {
				return r.journalFailure(end, n.Name, attempt, err)
			}
		}
		var start time.Time
		if !r.quiet {
			start = r.clock.Now()
			r.emit(NodeStarted{Header: Header{Run: r.info.ID, Node: n.Name, Time: start}, NodeKind: "step", Phase: n.Phase, Attempt: attempt})
		}
		actx, cancel := ctx, context.CancelFunc(nil)
		if s.Timeout > 0 {
			actx, cancel = clockTimeout(ctx, r.clock, s.Timeout)
		}
		out, err := safeDo(actx, s.Action, r.env(n.Name, attempt, nil))
		cause := context.Cause(actx)
		if cancel != nil {
			cancel()
		}
		out = r.withCheckpoint(n.Name, out)
		if err == nil {
			red := out
			if out != nil && (r.j != nil || !r.quiet) {
				red = r.red.RedactOutputs(out)
			}
			// If the journal fails here, the side effect happened anyway:
			// the step counts as completed (and the run stops going forward).
			if r.j != nil {
				_ = r.journal(ctx, Record{Kind: RecNodeSucceeded, Node: n.Name, Attempt: attempt, Outputs: red, Compensable: len(n.rbs) > 0})
			}
			r.forgetProgress(n.Name)
			if !r.quiet {
				now := r.clock.Now()
				r.emit(NodeSucceeded{Header: Header{Run: r.info.ID, Node: n.Name, Time: now}, Attempt: attempt, Duration: now.Sub(start), Outputs: red})
			}
			end.state, end.outputs = StateSucceeded, out
			return end
		}
		if errors.Is(cause, ErrTimeout) && ctx.Err() == nil {
			err = fmt.Errorf("%w after %s: %w", ErrTimeout, s.Timeout, err)
		}
		serr := &StepError{Node: n.Name, Attempt: attempt, Err: err}
		// A failing action may return partial outputs (what it changed
		// before failing); they are kept for its own rollback.
		var partial Outputs
		if out != nil {
			end.outputs = out
			partial = r.red.RedactOutputs(out)
		}
		if ctx.Err() != nil {
			// Cancelled because the run is failing or was interrupted.
			end.state, end.err = StateCancelled, &StepError{Node: n.Name, Attempt: attempt, Err: fmt.Errorf("%w: %w", ErrCancelled, err)}
			// An attempt cancelled because the run lock was lost is not a
			// failure for good: whoever continues the run runs it again.
			final := !errors.Is(context.Cause(ctx), ErrLockLost)
			_ = r.journal(ctx, Record{Kind: RecNodeFailed, Node: n.Name, Attempt: attempt, Final: final, Error: end.err.Error(), Outputs: partial})
			r.emit(NodeFailed{Header: r.header(n.Name), Attempt: attempt, Error: r.red.Redact(end.err.Error()), Final: true})
			return end
		}
		final := attempt >= attempts || IsPermanent(err)
		_ = r.journal(ctx, Record{Kind: RecNodeFailed, Node: n.Name, Attempt: attempt, Final: final, Error: serr.Error(), Outputs: partial})
		if final {
			end.policy = stepPolicy(s)
			r.emit(NodeFailed{Header: r.header(n.Name), Attempt: attempt, Error: r.red.Redact(serr.Error()), Final: true, Policy: end.policy})
			end.err = serr
			return r.applyPolicy(ctx, end, n, serr, end.policy, "step failed")
		}
		r.emit(NodeFailed{Header: r.header(n.Name), Attempt: attempt, Error: r.red.Redact(serr.Error())})
		delay := s.Retry.delay(attempt, r.rnd())
		r.emit(NodeRetrying{Header: r.header(n.Name), Attempt: attempt, Delay: delay, Error: r.red.Redact(err.Error())})
		if err := r.clock.Sleep(ctx, delay); err != nil {
			end.state, end.err = StateCancelled, &StepError{Node: n.Name, Attempt: attempt, Err: fmt.Errorf("%w: %w", ErrCancelled, context.Cause(ctx))}
			return end
		}
	}
}

func (r *run) journalFailure(end nodeEnd, node string, attempt int, err error) nodeEnd {
	end.state = StateFailed
	end.policy = PolicyRollback
	end.err = &StepError{Node: node, Attempt: attempt, Err: fmt.Errorf("journal: %w", err)}
	return end
}

func stepPolicy(s *Step) Policy {
	if s.OnFail == "" {
		return PolicyRollback
	}
	return s.OnFail
}

func isNop(o Observer) bool {
	_, ok := o.(NopObserver)
	return ok
}

// applyPolicy turns a final failure into the node's end: continue warns,
// pause asks, rollback and abort fail.
func (r *run) applyPolicy(ctx context.Context, end nodeEnd, n *Node, err error, pol Policy, what string) nodeEnd {
	switch pol {
	case PolicyContinue:
		end.state, end.err = StateWarned, err
		r.journalWarned(ctx, end, n, "continued by policy")
		return end
	case PolicyPause:
		d, aerr := r.ask(ctx, ApprovalRequest{Node: n.Name, Kind: "pause", Message: fmt.Sprintf("%s: %s. Approve to go on, deny to roll back.", what, r.red.Redact(err.Error()))}, 0, false)
		if aerr == nil && d.Approved {
			end.state, end.err = StateWarned, err
			r.journalWarned(ctx, end, n, "continued by decision of "+d.By)
			return end
		}
		if aerr != nil {
			err = fmt.Errorf("%w (and the pause could not be answered: %v)", err, aerr)
		}
		end.state, end.err, end.policy = StateFailed, err, PolicyRollback
		return end
	default:
		end.state, end.err, end.policy = StateFailed, err, pol
		return end
	}
}

// journalWarned records that a node whose failure was journaled goes on
// as done (policy continue, or a pause approved), so that a journal replay
// does not take the run for a failed one.
func (r *run) journalWarned(ctx context.Context, end nodeEnd, n *Node, how string) {
	if r.j == nil {
		return
	}
	_ = r.journal(ctx, Record{Kind: RecNodeSucceeded, Node: n.Name, Attempt: end.attempts, Outputs: r.red.RedactOutputs(end.outputs),
		Compensable: n.Step != nil && len(n.rbs) > 0, Error: fmt.Sprintf("%s after failure: %v", how, end.err)})
}

func safeDo(ctx context.Context, a Action, env *Env) (out Outputs, err error) {
	defer engine.Recover(&err, ErrPanic, true)
	return a.Do(ctx, env)
}

func safeWhen(ctx context.Context, f func(context.Context, *Env) (bool, error), env *Env) (ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok, err = false, fmt.Errorf("%w: %v", ErrPanic, p)
		}
	}()
	return f(ctx, env)
}

func safeCompensate(ctx context.Context, rb Rollback, env *Env) (err error) {
	defer engine.Recover(&err, ErrPanic, true)
	return rb.Compensate(ctx, env)
}

// finish compensates if needed and builds the result.
func (r *run) finish(ctx context.Context) (*Result, error) {
	res := &Result{Run: r.info}
	var status Status
	var pending []string
	switch {
	case r.lockLost() != nil:
		// Another process may own the run now: compensate nothing.
		status = StatusInterrupted
		pending = r.pendingNames(r.compensationOrder())
	case r.failErr == nil:
		status = StatusSucceeded
	case r.failPol == PolicyAbort:
		status = StatusAborted
		pending = r.pendingNames(r.compensationOrder())
	case r.ponr:
		status = StatusHalted
		pending = r.pendingNames(r.compensationOrder())
	default:
		status, pending = r.compensate(ctx, r.compensationOrder(), r.failErr.Error())
	}
	return r.result(ctx, res, status, pending)
}

func (r *run) result(ctx context.Context, res *Result, status Status, pending []string) (*Result, error) {
	status, pending = r.lostResult(status, pending)
	res.Status = status
	res.Err = r.failErr
	res.Pending = pending
	res.Warnings = r.warnings
	res.End = r.clock.Now()
	res.Nodes = make(map[string]*NodeResult, len(r.res))
	r.mu.Lock()
	for _, nr := range r.res {
		res.Nodes[nr.Name] = nr
	}
	for _, i := range r.orderedDoneLocked() {
		res.Completed = append(res.Completed, r.p.nodes[i].Name)
	}
	r.mu.Unlock()
	res.Compensated = r.compensated
	errText := ""
	if res.Err != nil {
		errText = r.red.Redact(res.Err.Error())
	}
	_ = r.journal(ctx, Record{Kind: RecRunFinished, Status: status, Error: errText})
	r.emit(RunFinished{Header: r.header(""), Status: status, Error: errText, Pending: pending})
	if status == StatusSucceeded {
		return res, nil
	}
	if res.Err == nil {
		res.Err = fmt.Errorf("runbook: run %s ended %s", r.info.ID, status)
	}
	return res, &RunError{Status: status, Err: res.Err, Pending: pending, redactor: r.red}
}

// RunError is returned by [Executor.Run], [Executor.Resume] and
// [Executor.Rollback] when a run did not succeed. It unwraps to the failure.
type RunError struct {
	Status  Status
	Err     error
	Pending []string

	redactor *Redactor
}

// Error implements error.
func (e *RunError) Error() string {
	msg := fmt.Sprintf("run %s: %v", e.Status, e.Err)
	if len(e.Pending) > 0 {
		msg += "; left to undo: " + strings.Join(e.Pending, ", ")
	}
	return e.redactor.Redact(msg)
}

// Unwrap returns the failure.
func (e *RunError) Unwrap() error { return e.Err }

// compensationOrder returns the steps to compensate, in order: the failed
// steps that opted into their own rollback, then completed steps in reverse
// completion order.
func (r *run) compensationOrder() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return engine.CompensationOrder(r.ownFail, r.orderedDoneLocked())
}

// orderedDoneLocked returns the completed nodes in completion order, with
// nodes that completed at the same instant (parallel branches on a
// simulated clock, whose order would otherwise be a goroutine race) in
// dependency order, then declaration order: runs and their rollbacks
// replay identically. r.mu must be held.
func (r *run) orderedDoneLocked() []int {
	out := append([]int(nil), r.done...)
	for lo := 0; lo < len(out); {
		hi := lo + 1
		for hi < len(out) && r.res[out[hi]].End.Equal(r.res[out[lo]].End) {
			hi++
		}
		if hi-lo > 1 {
			g := out[lo:hi]
			sort.SliceStable(g, func(a, b int) bool {
				na, nb := r.p.nodes[g[a]], r.p.nodes[g[b]]
				if na.rank != nb.rank {
					return na.rank < nb.rank
				}
				return na.Index < nb.Index
			})
		}
		lo = hi
	}
	return out
}

// pendingNames names the compensations of order that are still owed: those
// the engine would run.
func (r *run) pendingNames(order []int) []string {
	_, names, _ := engine.Compensations(order, r.undo)
	if len(names) == 0 {
		return nil
	}
	return names
}
