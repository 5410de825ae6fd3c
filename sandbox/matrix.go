package sandbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
)

// MatrixMode is one column of the rollback matrix.
type MatrixMode string

// The matrix modes. A step gets the first five; a check, soak or guard
// gate gets MatrixBreach; an approval gate MatrixDenied.
const (
	// MatrixBeforeEffect: the step fails before its effect.
	MatrixBeforeEffect MatrixMode = "before_effect"
	// MatrixAfterEffect: the step's effect happens, its answer is lost.
	MatrixAfterEffect MatrixMode = "after_effect"
	// MatrixTimeout: the step's effect happens, its answer never comes.
	MatrixTimeout MatrixMode = "timeout"
	// MatrixCrashResume: the process dies after the step's effect, before
	// its record; a new process resumes the run, and the next node of the
	// fault-free run fails in it (a step before its effect, a gate
	// breaches), so the resumed process must roll back what both processes
	// did. When that node does not run again after the resume (it had
	// finished before the crash, or there is none), the resumed run
	// succeeds and a third process rolls it back from the journal, as an
	// operator would after the bake window.
	MatrixCrashResume MatrixMode = "crash+resume"
	// MatrixCrashRollback: the process dies after the step's effect,
	// before its record; a new process rolls the run back.
	MatrixCrashRollback MatrixMode = "crash+rollback"
	// MatrixBreach: a check, soak or guard gate breaches at its first
	// sample.
	MatrixBreach MatrixMode = "breach"
	// MatrixDenied: an approval gate is denied.
	MatrixDenied MatrixMode = "denied"
)

// StepMatrixModes returns the modes every step is run under.
func StepMatrixModes() []MatrixMode {
	return []MatrixMode{MatrixBeforeEffect, MatrixAfterEffect, MatrixTimeout, MatrixCrashResume, MatrixCrashRollback}
}

// DefaultLasting returns, for an action type, the parts of the world its effect
// legitimately leaves behind after a rollback (snapshot path prefixes, see
// [World.Snapshot]): a notification sent stays sent, an incident opened
// and resolved stays in the page's history, a backup taken stays, a pulled
// image stays pulled. A step's rollback actions count too (a rollback
// notice sent by email). A step declares more with `lasting` (HCL) or
// [MatrixOptions.Lasting].
func DefaultLasting(action string) []string {
	switch action {
	case "slack_message":
		return []string{"slack/messages"}
	case "email":
		return []string{"email/messages"}
	case "statuspage_incident", "statuspage_resolve":
		return []string{"statuspage/incidents"}
	case "postgres_backup", "postgres_restore":
		// A restore first dumps the database as it was (its way back).
		return []string{"postgres/backups"}
	case "docker_pull":
		return []string{"docker/images"}
	}
	return nil
}

// MatrixOptions configure [RunMatrix].
type MatrixOptions struct {
	// Workers run cases in parallel (default GOMAXPROCS).
	Workers int
	// Start is when each case's simulated clock starts (default: the test
	// file's start, else [DefaultStart]).
	Start time.Time
	// Vars are -var values, over the test file's variables.
	Vars map[string]string
	// Version is Handrail's version, for the runbook's required_version.
	Version string
	// Providers, if set, returns more providers to register next to the
	// world's fakes (an in-house tool's own fake), given the case's world.
	Providers func(w *World) []provider.Provider
	// Lasting adds world path prefixes that may differ after a rollback,
	// by step name ("*" for every step), to the defaults of [DefaultLasting]
	// and the steps' own declarations.
	Lasting map[string][]string
	// Only, if set, keeps the cases whose node it returns true for.
	Only func(node string, mode MatrixMode) bool
	// TestFile is the test file whose world the cases start from (default:
	// NAME.test.hcl next to the runbook, if any).
	TestFile string
	// Snapshot, if set, adds the state of worlds the sandbox does not know
	// (the fakes behind Providers) to every snapshot, under "extra".
	Snapshot func(w *World) map[string]any
}

// MatrixCase is the outcome of one case of the matrix.
type MatrixCase struct {
	Node string     `json:"node"`
	Mode MatrixMode `json:"mode"`
	// Status the run (or, after a crash, the new process) ended with.
	Status runbook.Status `json:"status"`
	// Restored reports that every assertion held.
	Restored bool `json:"restored"`
	// Failures say which assertions did not hold.
	Failures []string `json:"failures,omitempty"`
	// Diff is the world's difference from its initial state, outside the
	// paths declared lasting.
	Diff []Change `json:"diff,omitempty"`
	// Then, for crash+resume, is the node made to fail after the resume
	// ("" when the resumed run succeeded and was rolled back by request).
	Then        string   `json:"then,omitempty"`
	Compensated []string `json:"compensated,omitempty"`
	Pending     []string `json:"pending,omitempty"`
	Error       string   `json:"error,omitempty"`
	// Wall is the wall time the case took.
	Wall time.Duration `json:"wall_ns"`
}

// MatrixReport is the whole matrix of a runbook.
type MatrixReport struct {
	Runbook string `json:"runbook"`
	// Steps and Gates count the nodes the matrix covered; Unreached the
	// nodes the fault-free run never started (their conditions were
	// false), which no fault can reach.
	Steps     int      `json:"steps"`
	Gates     int      `json:"gates"`
	Unreached []string `json:"unreached,omitempty"`
	// Lasting is the world paths allowed to differ, with who declared them.
	Lasting  map[string][]string `json:"lasting"`
	Cases    []MatrixCase        `json:"cases"`
	Restored int                 `json:"restored"`
	Workers  int                 `json:"workers"`
	Wall     time.Duration       `json:"wall_ns"`
}

// Verdict is the report's one line: "release-2: 40 steps × 5 modes + 26
// gates = 226 cases, 226 restored (12.1s on 2 workers)".
func (r *MatrixReport) Verdict() string {
	return fmt.Sprintf("%s: %d steps × %d modes + %d gates = %d cases, %d restored (%s on %d workers)",
		r.Runbook, r.Steps, len(StepMatrixModes()), r.Gates, len(r.Cases), r.Restored, r.Wall.Round(100*time.Millisecond), r.Workers)
}

// Failed returns the cases that did not restore.
func (r *MatrixReport) Failed() []MatrixCase {
	var out []MatrixCase
	for _, c := range r.Cases {
		if !c.Restored {
			out = append(out, c)
		}
	}
	return out
}

// ErrMatrixSetup is wrapped by errors that keep the matrix from running:
// the runbook does not load, or its fault-free run does not succeed.
var ErrMatrixSetup = errors.New("sandbox: rollback matrix")

// RunMatrix runs the rollback matrix of the runbook at path, in the world
// of its test file (NAME.test.hcl; without one, an empty world): a
// fault-free run first, then every step under every [StepMatrixModes] mode,
// every check, soak and guard gate breached and every approval denied, each
// case in a fresh world on its own simulated clock, spread over
// opts.Workers. For every case it asserts:
//
//   - the run ends rolled_back — or halted, when a point of no return had
//     completed, with exactly the completed steps that have a rollback
//     pending, last completed first (a crash+resume case too: its resumed
//     run meets a failure, or is rolled back by request);
//   - every step that completed (or was found in doubt after the crash)
//     and has a rollback was compensated exactly once, in reverse
//     completion order (branches of one parallel group in any order), and
//     no step that never started was;
//   - the world's final snapshot equals its initial one, except under the
//     paths declared lasting.
func RunMatrix(ctx context.Context, path string, opts MatrixOptions) (*MatrixReport, error) {
	wall := time.Now()
	m, err := newMatrix(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	base := m.runCase(ctx, caseSpec{})
	if base.err != nil || base.status != runbook.StatusSucceeded {
		why := ""
		if base.err != nil {
			why = ": " + base.err.Error()
		}
		return nil, fmt.Errorf("%w: %s: the fault-free run ends %s, not succeeded%s (fix the runbook or its test file's world first)", ErrMatrixSetup, path, base.status, why)
	}
	m.order = base.rec.startedList()
	rep := &MatrixReport{Runbook: m.name, Lasting: m.lastingBy, Workers: m.workers}
	var specs []caseSpec
	for _, n := range m.plan.Nodes() {
		if !base.rec.started(n.Name) {
			rep.Unreached = append(rep.Unreached, n.Name)
			continue
		}
		var modes []MatrixMode
		switch {
		case n.Step != nil:
			rep.Steps++
			modes = StepMatrixModes()
		case n.Gate != nil && n.Gate.Kind == runbook.GateApproval:
			rep.Gates++
			modes = []MatrixMode{MatrixDenied}
		default:
			rep.Gates++
			modes = []MatrixMode{MatrixBreach}
		}
		for _, mode := range modes {
			if opts.Only != nil && !opts.Only(n.Name, mode) {
				continue
			}
			specs = append(specs, caseSpec{node: n.Name, mode: mode})
		}
	}
	rep.Cases = make([]MatrixCase, len(specs))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for k := 0; k < m.workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				rep.Cases[i] = m.judge(ctx, specs[i])
			}
		}()
	}
	for i := range specs {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, c := range rep.Cases {
		if c.Restored {
			rep.Restored++
		}
	}
	rep.Wall = time.Since(wall)
	return rep, nil
}

type matrix struct {
	path, name string
	tf         *TestFile
	start      time.Time
	vars       map[string]string
	opts       MatrixOptions
	workers    int
	plan       *runbook.Plan // of a first load, for its shape
	lasting    map[string][]string
	lastingBy  map[string][]string
	// order is the order the fault-free run started its nodes in.
	order []string
}

func newMatrix(ctx context.Context, path string, opts MatrixOptions) (*matrix, error) {
	m := &matrix{path: path, opts: opts, workers: opts.Workers, vars: map[string]string{}}
	if m.workers <= 0 {
		m.workers = runtime.GOMAXPROCS(0)
	}
	m.start = opts.Start
	tfp := opts.TestFile
	if tfp == "" {
		tfp = TestFileFor(path)
	}
	if tfp != "" {
		tf, err := parseTestFile(tfp, opts.Start)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMatrixSetup, err)
		}
		m.tf = tf
		m.start = tf.start
		for k, v := range varStrings(tf.vars) {
			m.vars[k] = v
		}
	}
	if m.start.IsZero() {
		m.start = DefaultStart
	}
	for k, v := range opts.Vars {
		m.vars[k] = v
	}
	w, rb, err := m.load(ctx)
	if err != nil {
		return nil, err
	}
	_ = w
	m.plan = rb.Plan()
	m.name = m.plan.Name
	m.lasting, m.lastingBy = lastingOf(m.plan, opts.Lasting)
	_ = rb.Close()
	return m, nil
}

// lastingOf collects, per step, the world paths allowed to differ: the
// defaults of its action type, its own declaration, and opts'.
func lastingOf(p *runbook.Plan, extra map[string][]string) (byStep, byPath map[string][]string) {
	byStep, byPath = map[string][]string{}, map[string][]string{}
	add := func(step, path, why string) {
		byStep[step] = append(byStep[step], path)
		if !contains(byPath[path], why) {
			byPath[path] = append(byPath[path], why)
		}
	}
	for _, n := range p.Nodes() {
		if n.Step == nil {
			continue
		}
		acts := []string{runbook.Describe(n.Step.Action).Action}
		for _, rb := range p.Rollbacks(n.Name) {
			acts = append(acts, runbook.Describe(rb).Action)
		}
		for _, act := range acts {
			for _, l := range DefaultLasting(act) {
				add(n.Name, l, "default of "+act)
			}
		}
		for _, l := range n.Step.Lasting {
			add(n.Name, l, "step "+n.Name)
		}
		for _, l := range extra[n.Name] {
			add(n.Name, l, "option for "+n.Name)
		}
		for _, l := range extra["*"] {
			add(n.Name, l, "option for every step")
		}
	}
	for _, v := range byPath {
		sort.Strings(v)
	}
	return byStep, byPath
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// load makes a fresh world and loads the runbook against it.
func (m *matrix) load(ctx context.Context) (*World, *hcl.Runbook, error) {
	w := New(m.start)
	w.Dir = filepath.Dir(m.path)
	if m.tf != nil {
		if err := m.tf.ApplyWorld(w, nil); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrMatrixSetup, err)
		}
	}
	reg, err := w.Registry()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMatrixSetup, err)
	}
	if m.opts.Providers != nil {
		for _, p := range m.opts.Providers(w) {
			if err := reg.Add(p); err != nil {
				return nil, nil, fmt.Errorf("%w: %w", ErrMatrixSetup, err)
			}
		}
	}
	rb, diags := hcl.Load(ctx, m.path, hcl.Options{Registry: reg, Vars: m.vars, Version: m.opts.Version, Now: w.clock.Now})
	if diags.HasErrors() {
		return nil, nil, fmt.Errorf("%w: runbook %s does not load: %w", ErrMatrixSetup, m.path, diags)
	}
	return w, rb, nil
}

type caseSpec struct {
	node string
	mode MatrixMode
}

// thenFail is the node a crash+resume case makes fail after the resume:
// the first step, check, soak or guard gate the fault-free run started
// after node ("" if none).
func (m *matrix) thenFail(plan *runbook.Plan, node string) string {
	after := false
	for _, n := range m.order {
		if n == node {
			after = true
			continue
		}
		if !after {
			continue
		}
		if pn, ok := plan.Node(n); ok && (pn.Step != nil || (pn.Gate != nil && pn.Gate.Kind != runbook.GateApproval && breachIndex(pn.Gate) >= 0)) {
			return n
		}
	}
	return ""
}

type caseRun struct {
	status        runbook.Status
	err           error
	res           *runbook.Result
	before, after Snapshot
	rec           *matrixRecorder
	plan          *runbook.Plan
	// then is the node a crash+resume case made fail after the resume;
	// requested reports that the resumed run succeeded and was rolled back
	// by request.
	then      string
	requested bool
}

// runCase runs one case (the zero spec: the fault-free run).
func (m *matrix) runCase(ctx context.Context, spec caseSpec) caseRun {
	var out caseRun
	w, rb, err := m.load(ctx)
	if err != nil {
		out.err = err
		return out
	}
	defer rb.Close()
	plan := rb.Plan()
	out.plan = plan
	snap := func() Snapshot {
		s := w.Snapshot()
		if m.opts.Snapshot != nil {
			s["extra"] = m.opts.Snapshot(w)
		}
		return s
	}
	out.before = snap()
	mem := &runbook.MemJournal{}
	cj := &deadJournal{inner: mem, dead: make(chan struct{})}
	var faults []Fault
	deny := map[string]bool{}
	switch spec.mode {
	case MatrixBeforeEffect, MatrixAfterEffect, MatrixTimeout:
		faults = []Fault{{Node: spec.node, Mode: FaultMode(spec.mode)}}
	case MatrixCrashResume, MatrixCrashRollback:
		faults = []Fault{{Node: spec.node, Mode: FaultCrashAfter}}
	case MatrixBreach:
		faults = []Fault{{Node: spec.node, Mode: FaultBeforeEffect}}
	case MatrixDenied:
		deny[spec.node] = true
	}
	fplan, err := InjectFaults(plan, faults, cj.die)
	if err != nil {
		out.err = err
		return out
	}
	rec := &matrixRecorder{seq: map[string]int{}, startedAt: map[string]bool{}}
	out.rec = rec
	appr := matrixApprover(deny)
	obs := runbook.MultiObserver{w.Observer(), rec}
	runID := "matrix"
	ex := &runbook.Executor{Clock: w.Clock, Journal: cj, Observer: obs, Approver: appr, Redactor: rb.Redactor(), Rand: func() float64 { return 0.5 }}
	type outcome struct {
		res *runbook.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := ex.Run(ctx, fplan, runbook.RunOptions{RunID: runID, Inputs: rb.Inputs()})
		done <- outcome{r, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-cj.dead:
		// The process is gone. A new one, on a clock that goes on from the
		// crash, takes the run up from what the journal holds.
		// The crashed step took effect now: it completed after every step
		// recorded before the crash, before any the new process runs.
		rec.completedNow(spec.node)
		recs, err := mem.Load(ctx, runID)
		if err != nil {
			out.err = err
			return out
		}
		j2 := &runbook.MemJournal{}
		if err := j2.Append(ctx, recs...); err != nil {
			out.err = err
			return out
		}
		w.Reclock(runbook.NewSimClock(w.Clock.Now()))
		ex2 := &runbook.Executor{Clock: w.Clock, Journal: j2, Observer: obs, Approver: appr, Redactor: rb.Redactor(), Rand: func() float64 { return 0.5 }}
		if spec.mode == MatrixCrashRollback {
			o.res, o.err = ex2.Rollback(ctx, plan, runID, runbook.RunOptions{})
			break
		}
		// The resumed process meets a failure at the next node, and must
		// roll back what both processes did.
		rplan := plan
		if out.then = m.thenFail(plan, spec.node); out.then != "" {
			if rplan, err = InjectFaults(plan, []Fault{{Node: out.then, Mode: FaultBeforeEffect}}, nil); err != nil {
				out.err = err
				return out
			}
		}
		o.res, o.err = ex2.Resume(ctx, rplan, runID, runbook.RunOptions{})
		if o.err == nil && o.res != nil && o.res.Status == runbook.StatusSucceeded {
			// Nothing failed after the resume: roll the finished run back
			// from the journal, as an operator would.
			out.requested = true
			w.Reclock(runbook.NewSimClock(w.Clock.Now()))
			ex3 := &runbook.Executor{Clock: w.Clock, Journal: j2, Observer: obs, Approver: appr, Redactor: rb.Redactor(), Rand: func() float64 { return 0.5 }}
			o.res, o.err = ex3.Rollback(ctx, plan, runID, runbook.RunOptions{})
		}
	}
	out.res, out.err = o.res, o.err
	if o.res != nil {
		out.status = o.res.Status
		out.err = o.res.Err
	} else if o.err == nil {
		out.err = errors.New("no result")
	}
	out.after = snap()
	return out
}

// judge runs a case and checks it.
func (m *matrix) judge(ctx context.Context, spec caseSpec) MatrixCase {
	t0 := time.Now()
	c := MatrixCase{Node: spec.node, Mode: spec.mode}
	defer func() { c.Wall = time.Since(t0) }()
	r := m.runCase(ctx, spec)
	c.Status = r.status
	if r.err != nil {
		c.Error = r.err.Error()
	}
	if r.res == nil {
		c.Failures = append(c.Failures, fmt.Sprintf("the run did not end: %v", r.err))
		return c
	}
	c.Compensated = r.rec.compensatedList()
	c.Pending = r.res.Pending
	fail := func(format string, args ...any) { c.Failures = append(c.Failures, fmt.Sprintf(format, args...)) }
	var ignore []string
	for _, n := range r.rec.startedList() {
		ignore = append(ignore, m.lasting[n]...)
	}
	completed := r.rec.completedCompensable(r.plan)
	if spec.mode == MatrixCrashRollback || spec.mode == MatrixCrashResume {
		// The crashed step took effect: whoever picks the run up must
		// treat it as done.
		if len(r.plan.Rollbacks(spec.node)) > 0 && !contains(completed, spec.node) {
			completed = append(completed, spec.node)
		}
	}
	// A failed step's own rollback runs (first: it failed last) when it
	// opted in; after its effect it may also run (a checkpoint and an
	// idempotent rollback), and the world comparison judges whether it
	// had to.
	var ownFailed []string
	ownMay := false
	if n, ok := r.plan.Node(spec.node); ok && n.Step != nil && len(r.plan.Rollbacks(spec.node)) > 0 {
		switch {
		case n.Step.RollbackOnFailure && (spec.mode == MatrixBeforeEffect || spec.mode == MatrixAfterEffect || spec.mode == MatrixTimeout):
			ownFailed = []string{spec.node}
		case spec.mode == MatrixAfterEffect || spec.mode == MatrixTimeout:
			ownMay = true
		}
	}
	if spec.mode == MatrixCrashResume {
		c.Then = r.then
		if r.requested {
			c.Then = ""
		}
		// The crashed node itself did not fail: what fails is the node
		// after it, before its effect (its own rollback runs only if it
		// opted in), or nothing (a rollback by request).
		ownFailed, ownMay = nil, false
		if n, ok := r.plan.Node(c.Then); ok && n.Step != nil && n.Step.RollbackOnFailure && len(r.plan.Rollbacks(c.Then)) > 0 {
			ownFailed = []string{c.Then}
		}
		if r.requested && r.status == runbook.StatusHalted {
			fail("halted on a rollback by request, which the point of no return does not stop")
		}
	}
	switch r.status {
	case runbook.StatusRolledBack:
		must := append(completed, ownFailed...)
		if ownMay && contains(c.Compensated, spec.node) {
			must = append(must, spec.node)
		}
		m.checkCompensations(&c, r, must, fail)
		c.Diff = Diff(r.before, r.after, ignore)
		if len(c.Diff) > 0 {
			fail("rolled_back, but the world differs from its initial state in %d places", len(c.Diff))
		}
	case runbook.StatusHalted:
		if !r.rec.ponrCompleted(r.plan) {
			fail("halted, but no point of no return had completed")
		}
		want := append(ownFailed, reverseCompletion(r.rec, completed)...)
		if ownMay && len(r.res.Pending) > 0 && r.res.Pending[0] == spec.node {
			want = append([]string{spec.node}, want...)
		}
		if strings.Join(want, ",") != strings.Join(r.res.Pending, ",") && !(sameSet(want, r.res.Pending) && parallelOnly(r.plan, want, r.res.Pending)) {
			fail("halted with pending %s, want %s", quoted(r.res.Pending), quoted(want))
		}
		if len(c.Compensated) > 0 {
			fail("halted, yet compensated %s", quoted(c.Compensated))
		}
	default:
		why := ""
		if r.err != nil {
			why = ": " + r.err.Error()
		}
		fail("status = %s, want rolled_back (or halted past the point of no return)%s", r.status, why)
		c.Diff = Diff(r.before, r.after, ignore)
	}
	c.Restored = len(c.Failures) == 0
	return c
}

// checkCompensations: every completed compensable step exactly once, in
// reverse completion order (a parallel group's members in any order),
// nothing that never started.
func (m *matrix) checkCompensations(c *MatrixCase, r caseRun, completed []string, fail func(string, ...any)) {
	seen := map[string]int{}
	for _, n := range c.Compensated {
		seen[n]++
		if !r.rec.started(n) {
			fail("%s was compensated but never started", n)
		}
	}
	for n, k := range seen {
		if k > 1 {
			fail("%s was compensated %d times", n, k)
		}
	}
	for _, n := range completed {
		if seen[n] == 0 {
			fail("%s completed but was not compensated", n)
		}
	}
	// Order: x compensated before y, both completed, requires that x
	// completed after y, unless they are branches of one parallel group.
	for i, x := range c.Compensated {
		for _, y := range c.Compensated[i+1:] {
			sx, okx := r.rec.seq[x]
			sy, oky := r.rec.seq[y]
			if !okx || !oky || sx > sy {
				continue
			}
			nx, _ := r.plan.Node(x)
			ny, _ := r.plan.Node(y)
			if nx != nil && ny != nil && nx.Group != "" && nx.Group == ny.Group {
				continue
			}
			fail("%s was compensated before %s, but completed before it", x, y)
		}
	}
}

func reverseCompletion(rec *matrixRecorder, names []string) []string {
	out := append([]string(nil), names...)
	sort.SliceStable(out, func(i, j int) bool { return rec.seq[out[i]] > rec.seq[out[j]] })
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x := append([]string(nil), a...)
	y := append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, "\x00") == strings.Join(y, "\x00")
}

// matrixApprover approves every approval but the denied ones, and answers
// every in-doubt question with the truth of a crash after the effect: the
// step took effect (forward: done; rollback: compensate), and a
// compensation in doubt is run again.
func matrixApprover(deny map[string]bool) runbook.Approver {
	return runbook.ApproverFunc(func(_ context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
		switch req.Kind {
		case "in-doubt":
			if contains(req.Choices, "done") {
				return runbook.Decision{Approved: true, Choice: "done", By: "matrix"}, nil
			}
			return runbook.Decision{Approved: true, Choice: "compensate", By: "matrix"}, nil
		case "compensation-in-doubt":
			return runbook.Decision{Approved: true, Choice: "compensate", By: "matrix"}, nil
		}
		// Override: the matrix answers for every approver (as a rehearsal's
		// scenario does).
		if deny[req.Node] {
			return runbook.Decision{Approved: false, By: "matrix", Comment: "denied by the rollback matrix", Override: true}, nil
		}
		return runbook.Decision{Approved: true, By: "matrix", Override: true}, nil
	})
}

// deadJournal passes records through until die is called; after that
// every append blocks for ever (the process is gone: its goroutines never
// act on the world again).
type deadJournal struct {
	inner    *runbook.MemJournal
	mu       sync.Mutex
	isDead   bool
	dead     chan struct{}
	deadOnce sync.Once
}

func (d *deadJournal) die() {
	d.deadOnce.Do(func() {
		d.mu.Lock()
		d.isDead = true
		d.mu.Unlock()
		close(d.dead)
	})
}

func (d *deadJournal) Append(ctx context.Context, recs ...runbook.Record) error {
	d.mu.Lock()
	if d.isDead {
		d.mu.Unlock()
		select {}
	}
	defer d.mu.Unlock()
	return d.inner.Append(ctx, recs...)
}

func (d *deadJournal) Load(ctx context.Context, run string) ([]runbook.Record, error) {
	return d.inner.Load(ctx, run)
}

// matrixRecorder keeps which nodes started, the order steps completed in,
// and the compensations.
type matrixRecorder struct {
	mu        sync.Mutex
	startedAt map[string]bool
	order     []string
	seq       map[string]int
	comp      []string
	n         int
}

func (r *matrixRecorder) Observe(ev runbook.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e := ev.(type) {
	case runbook.NodeStarted:
		if !r.startedAt[e.Node] {
			r.startedAt[e.Node] = true
			r.order = append(r.order, e.Node)
		}
	case runbook.NodeSucceeded:
		if _, ok := r.seq[e.Node]; !ok {
			r.n++
			r.seq[e.Node] = r.n
		}
	case runbook.StepCompensated:
		r.comp = append(r.comp, e.Node)
	}
}

// completedNow gives n the next place in the completion order, unless it
// has one.
func (r *matrixRecorder) completedNow(n string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seq[n]; !ok {
		r.n++
		r.seq[n] = r.n
	}
}

func (r *matrixRecorder) started(n string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.startedAt[n]
}

func (r *matrixRecorder) startedList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.order...)
}

func (r *matrixRecorder) compensatedList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.comp...)
}

// completedCompensable lists the steps that completed and have a rollback.
func (r *matrixRecorder) completedCompensable(p *runbook.Plan) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n := range r.seq {
		if len(p.Rollbacks(n)) > 0 {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return r.seq[out[i]] < r.seq[out[j]] })
	return out
}

func (r *matrixRecorder) ponrCompleted(p *runbook.Plan) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n := range r.seq {
		if node, ok := p.Node(n); ok && node.Step != nil && node.Step.PointOfNoReturn {
			return true
		}
	}
	return false
}

// parallelOnly reports whether a and b (the same names) differ only in
// the order of members of one parallel group.
func parallelOnly(p *runbook.Plan, a, b []string) bool {
	for i := range a {
		if a[i] == b[i] {
			continue
		}
		na, _ := p.Node(a[i])
		nb, _ := p.Node(b[i])
		if na == nil || nb == nil || na.Group == "" || na.Group != nb.Group {
			return false
		}
	}
	return true
}
