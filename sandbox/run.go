package sandbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
)

// TestOptions configure [RunTestFile].
type TestOptions struct {
	// Run, if set, selects the scenarios whose name it matches.
	Run *regexp.Regexp
	// Start overrides the file's start time (default: the file's start
	// attribute, else [DefaultStart]); test.today follows it.
	Start time.Time
	// Observer, if set, also receives every run's events.
	Observer runbook.Observer
	// Version is Handrail's version, for the runbook's required_version.
	Version string
	// Providers, if set, returns more providers to register next to the
	// world's fakes for a scenario (an in-house tool's own provider, or its
	// fake), given the scenario's world.
	Providers func(w *World) []provider.Provider
}

// ScenarioResult is the outcome of one scenario.
type ScenarioResult struct {
	// File is the test file, Name the scenario.
	File, Name string
	// Passed reports whether every expectation held; Failures say which did
	// not, one per line.
	Passed   bool
	Failures []string
	// Wall is the wall time the scenario took; Simulated the simulated
	// time its run (and resume) played.
	Wall, Simulated time.Duration
	// Result is the final result (of the resumed run for a crash scenario);
	// nil when the runbook could not be loaded.
	Result *runbook.Result
	// Executed lists the nodes that started, in order (nodes started at the
	// same simulated instant in plan order); Compensated the steps
	// compensated, in order.
	Executed, Compensated []string
	// World is the fake world after the run, for further assertions.
	World *World
}

// RunTestFile runs the scenarios of the test file at path, each in a fresh
// world on a simulated clock, and reports how each went. The error reports a
// file that cannot be read or parsed; a runbook that does not load fails its
// scenarios.
func RunTestFile(ctx context.Context, path string, opts TestOptions) ([]ScenarioResult, error) {
	tf, err := parseTestFile(path, opts.Start)
	if err != nil {
		return nil, err
	}
	var out []ScenarioResult
	for _, sc := range tf.Scenarios {
		if opts.Run != nil && !opts.Run.MatchString(sc.Name) {
			continue
		}
		out = append(out, tf.RunScenario(ctx, sc, opts))
	}
	return out, nil
}

// Scenario returns the scenario named name, or nil.
func (tf *TestFile) Scenario(name string) *Scenario {
	for _, sc := range tf.Scenarios {
		if sc.Name == name {
			return sc
		}
	}
	return nil
}

// RunScenario runs one scenario of the file.
func (tf *TestFile) RunScenario(ctx context.Context, sc *Scenario, opts TestOptions) (res ScenarioResult) {
	wall := time.Now()
	res = ScenarioResult{File: tf.Path, Name: sc.Name}
	// Every failure names the line of the test file it is about (the
	// scenario's attribute, or the scenario).
	failAt := func(key, format string, args ...any) {
		res.Failures = append(res.Failures, sc.where.at(key, fmt.Sprintf(format, args...)))
	}
	fail := func(format string, args ...any) { failAt("", format, args...) }
	defer func() {
		res.Wall = time.Since(wall)
		res.Passed = len(res.Failures) == 0
	}()
	start := tf.start
	w := New(start)
	w.Dir = filepath.Dir(tf.Runbook)
	res.World = w
	if err := tf.ApplyWorld(w, sc); err != nil {
		fail("%v", err)
		return res
	}
	reg, err := w.Registry()
	if err != nil {
		fail("%v", err)
		return res
	}
	if opts.Providers != nil {
		for _, p := range opts.Providers(w) {
			if err := reg.Add(p); err != nil {
				fail("%v", err)
				return res
			}
		}
	}
	rb, diags := hcl.Load(ctx, tf.Runbook, hcl.Options{Registry: reg, Vars: varStrings(sc.Vars), Version: opts.Version, Now: w.clock.Now})
	if diags.HasErrors() {
		fail("runbook %s does not load: %s", tf.Runbook, diags.Error())
		return res
	}
	defer rb.Close()
	plan, err := Fail(rb.Plan(), sc.Fail)
	if err != nil {
		failAt("fail", "fail: %v", err)
		return res
	}
	if len(sc.Faults) > 0 {
		if plan, err = InjectFaults(plan, sc.Faults, nil); err != nil {
			fail("%v", err)
			return res
		}
	}
	for _, names := range []struct {
		key string
		ns  []string
	}{{"deny", sc.Deny}, {"silence", sc.Silence}, {"crash_after", []string{sc.CrashAfter}}} {
		for _, n := range names.ns {
			if n == "" {
				continue
			}
			if _, ok := plan.Node(resolveNode(plan, n)); !ok {
				failAt(names.key, "%s: %q names no step or gate of %s%s", names.key, n, plan.Name, suggestNode(plan, nodeName(n)))
			}
		}
	}
	crashAfter := ""
	if sc.CrashAfter != "" {
		crashAfter = resolveNode(plan, sc.CrashAfter)
	}
	if len(res.Failures) > 0 {
		return res
	}
	rec := newRecorder(plan)
	obs := runbook.MultiObserver{w.Observer(), rec}
	if opts.Observer != nil {
		obs = append(obs, opts.Observer)
	}
	appr := scenarioApprover(sc.Deny, sc.Silence, w.clock)
	runID := "scenario-" + sc.Name
	inputs := rb.Inputs()
	mem := &runbook.MemJournal{}
	var j runbook.Journal = mem
	var crash *CrashJournal
	if sc.CrashAfter != "" {
		crash = NewCrashJournal(mem, crashAfter)
		j = crash
	}
	ex := &runbook.Executor{Clock: w.Clock, Journal: j, Observer: obs, Approver: appr, Redactor: rb.Redactor(), Rand: func() float64 { return 0.5 }}
	run := func() (*runbook.Result, error) {
		return ex.Run(ctx, plan, runbook.RunOptions{RunID: runID, Inputs: inputs})
	}
	type outcome struct {
		res *runbook.Result
		err error
	}
	var out outcome
	if crash == nil {
		out.res, out.err = run()
	} else {
		if out.res, out.err = crash.Run(run); !errors.Is(out.err, ErrCrashed) {
			failAt("crash_after", "crash_after %s: the run ended (%s) before that node completed", sc.CrashAfter, statusOf(out.res))
			res.Result = out.res
			return res
		}
		// The process is gone: a new executor, on a clock that goes on
		// from the crash, resumes the run from what the journal holds.
		recs, err := mem.Load(ctx, runID)
		if err != nil {
			fail("crash: %v", err)
			return res
		}
		j2 := &runbook.MemJournal{}
		if err := j2.Append(ctx, recs...); err != nil {
			fail("crash: %v", err)
			return res
		}
		w.Reclock(runbook.NewSimClock(w.Clock.Now()))
		ex2 := &runbook.Executor{Clock: w.Clock, Journal: j2, Observer: obs, Approver: appr, Redactor: rb.Redactor(), Rand: func() float64 { return 0.5 }}
		out.res, out.err = ex2.Resume(ctx, plan, runID, runbook.RunOptions{})
	}
	if out.res == nil {
		fail("the run could not start: %v", out.err)
		return res
	}
	if sc.Resume != nil {
		// Fails at X, edited, resumed: the world changes as the fix
		// did, and a new process resumes the run with the (edited)
		// runbook.
		rs := sc.Resume
		if rs.FirstStatus != "" && out.res.Status != rs.FirstStatus {
			fail("resume: the first run ended %s, want first_status %s: %v", out.res.Status, rs.FirstStatus, out.err)
			return res
		}
		for _, ws := range rs.worlds {
			if err := applyWorld(w, ws, tf.start); err != nil {
				fail("resume: world: %v", err)
				return res
			}
		}
		path := rs.Runbook
		if path == "" {
			path = tf.Runbook
		}
		rb2, diags := hcl.Load(ctx, path, hcl.Options{Registry: reg, Vars: varStrings(sc.Vars), Version: opts.Version, Now: w.clock.Now})
		if diags.HasErrors() {
			fail("resume: runbook %s does not load: %s", path, diags.Error())
			return res
		}
		defer rb2.Close()
		plan = rb2.Plan()
		ropts := runbook.RunOptions{Force: rs.Force, Reason: rs.Reason, By: "scenario"}
		for _, n := range append([]string{rs.From}, rs.Rerun...) {
			if n == "" {
				continue
			}
			if _, ok := plan.Node(resolveNode(plan, n)); !ok {
				fail("resume: %q names no step or gate of %s%s", n, plan.Name, suggestNode(plan, nodeName(n)))
				return res
			}
		}
		if rs.From != "" {
			ropts.From = resolveNode(plan, rs.From)
		}
		for _, n := range rs.Rerun {
			ropts.Rerun = append(ropts.Rerun, resolveNode(plan, n))
		}
		rec = newRecorder(plan)
		obs := runbook.MultiObserver{w.Observer(), rec}
		if opts.Observer != nil {
			obs = append(obs, opts.Observer)
		}
		ex2 := &runbook.Executor{Clock: w.Clock, Journal: mem, Observer: obs, Approver: appr, Redactor: rb2.Redactor(), Rand: func() float64 { return 0.5 }}
		r, err := ex2.Resume(ctx, plan, runID, ropts)
		if r == nil {
			fail("resume: the run could not go on: %v", err)
			return res
		}
		out = outcome{r, err}
		rb = rb2
	}
	res.Simulated = out.res.End.Sub(start)
	res.Result = out.res
	res.Executed = rec.executed()
	res.Compensated = out.res.Compensated
	if crash != nil {
		res.Compensated = rec.compensated()
	}
	res.Failures = append(res.Failures, checkExpect(sc.expect, &res, w, rb.Redactor())...)
	return res
}

func statusOf(r *runbook.Result) runbook.Status {
	if r == nil {
		return "not started"
	}
	return r.Status
}

// scenarioApprover approves every question (the rehearsal's people say
// yes) but those about the nodes in deny, and never answers those in
// silence (the question times out on the run's clock).
func scenarioApprover(deny, silence []string, clock runbook.Clock) runbook.Approver {
	no, mute := map[string]bool{}, map[string]bool{}
	for _, n := range deny {
		no[nodeName(n)] = true
		no[instanceAlias(nodeName(n))] = true
	}
	for _, n := range silence {
		mute[nodeName(n)] = true
		mute[instanceAlias(nodeName(n))] = true
	}
	return runbook.ApproverFunc(func(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
		if mute[req.Node] {
			_ = clock.Sleep(ctx, 100*365*24*time.Hour)
			<-ctx.Done()
			return runbook.Decision{}, ctx.Err()
		}
		if no[req.Node] {
			return runbook.Decision{Approved: false, By: "scenario", Comment: "No-Go", Override: true}, nil
		}
		if req.Kind == "in-doubt" {
			return runbook.Decision{Approved: true, Choice: "rerun", By: "scenario"}, nil
		}
		return runbook.Decision{Approved: true, By: "scenario", Override: true}, nil
	})
}

// recorder keeps the order in which nodes first started and steps were
// compensated.
type recorder struct {
	plan  *runbook.Plan
	mu    sync.Mutex
	first map[string]time.Time
	seq   map[string]int
	n     int
	comp  []string
}

func newRecorder(p *runbook.Plan) *recorder {
	return &recorder{plan: p, first: map[string]time.Time{}, seq: map[string]int{}}
}

func (r *recorder) Observe(ev runbook.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e := ev.(type) {
	case runbook.NodeStarted:
		if _, ok := r.first[e.Node]; !ok {
			r.first[e.Node] = e.Time
			r.n++
			r.seq[e.Node] = r.n
		}
	case runbook.StepCompensated:
		r.comp = append(r.comp, e.Node)
	}
}

func (r *recorder) compensated() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.comp...)
}

// executed returns the started nodes by start time, then plan order (the
// branches of a parallel group start at the same simulated instant).
func (r *recorder) executed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.first))
	for n := range r.first {
		out = append(out, n)
	}
	idx := func(n string) int {
		if node, ok := r.plan.Node(n); ok {
			return node.Index
		}
		return r.seq[n]
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := r.first[out[i]], r.first[out[j]]
		if !a.Equal(b) {
			return a.Before(b)
		}
		return idx(out[i]) < idx(out[j])
	})
	return out
}

// --- expectations ----------------------------------------------------------

// checkExpect returns the expectations of e that res and w do not meet,
// each prefixed with the file and line where it is written.
func checkExpect(e *expectSyntax, res *ScenarioResult, w *World, red *runbook.Redactor) []string {
	var out []string
	r := res.Result
	if string(r.Status) != e.Status {
		why := ""
		if r.Err != nil {
			why = ": " + red.Redact(r.Err.Error())
		}
		out = append(out, e.where.at("status", fmt.Sprintf("status = %s, want %s%s", r.Status, e.Status, why)))
	}
	if e.ErrorContains != "" {
		msg := ""
		if r.Err != nil {
			msg = red.Redact(r.Err.Error())
		}
		if !strings.Contains(msg, e.ErrorContains) {
			out = append(out, e.where.at("error_contains", fmt.Sprintf("error %q does not contain %q", msg, e.ErrorContains)))
		}
	}
	for _, c := range []struct {
		what string
		v    cty.Value
		got  []string
	}{{"executed", e.Executed, res.Executed}, {"compensated", e.Compensated, res.Compensated}, {"pending", e.Pending, r.Pending}} {
		groups, _ := nameGroups(c.v)
		if groups == nil {
			continue
		}
		if !matchGroups(c.got, groups) {
			out = append(out, e.where.at(c.what, fmt.Sprintf("%s order:\n   got %s\n  want %s", c.what, quoted(c.got), groupString(groups))))
		}
	}
	started := map[string]bool{}
	for _, n := range res.Executed {
		started[n] = true
	}
	for _, n := range e.NotExecuted {
		if started[nodeName(n)] {
			out = append(out, e.where.at("not_executed", fmt.Sprintf("%s ran, want it not run", nodeName(n))))
		}
	}
	if e.MaxSimulated != "" {
		d, err := time.ParseDuration(e.MaxSimulated)
		if err != nil {
			out = append(out, e.where.at("max_simulated", fmt.Sprintf("max_simulated: %v", err)))
		} else if res.Simulated > d {
			out = append(out, e.where.at("max_simulated", fmt.Sprintf("simulated time %s is more than max_simulated %s", res.Simulated, d)))
		}
	}
	for _, we := range e.Worlds {
		out = append(out, checkWorld(we, w)...)
	}
	return out
}

// matchGroups reports whether got is the groups in order, each group's
// members in any order.
func matchGroups(got []string, groups [][]string) bool {
	i := 0
	for _, g := range groups {
		if i+len(g) > len(got) {
			return false
		}
		a := append([]string(nil), got[i:i+len(g)]...)
		b := append([]string(nil), g...)
		if len(g) > 1 {
			sort.Strings(a)
			sort.Strings(b)
		}
		if !reflect.DeepEqual(a, b) {
			return false
		}
		i += len(g)
	}
	return i == len(got)
}

func quoted(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func groupString(groups [][]string) string {
	parts := make([]string, len(groups))
	for i, g := range groups {
		if len(g) == 1 {
			parts[i] = fmt.Sprintf("%q", g[0])
		} else {
			parts[i] = quoted(g)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// checkWorld returns the world expectations of we that w does not meet,
// each prefixed with the file and line where it is written.
func checkWorld(we *worldExpectSyntax, w *World) []string {
	var out []string
	add := func(key, format string, args ...any) {
		out = append(out, we.where.at(key, fmt.Sprintf(format, args...)))
	}
	for i, c := range we.Containers {
		key := fmt.Sprintf("docker_container[%d]", i)
		st, ok := w.Docker.Container(c.Name)
		if !ok {
			add(key, "docker container %s does not exist", c.Name)
			continue
		}
		if c.Image != nil && st.Image != *c.Image {
			add(key, "docker container %s runs %s, want %s", c.Name, st.Image, *c.Image)
		}
		if c.Running != nil && st.Running != *c.Running {
			add(key, "docker container %s running = %t, want %t", c.Name, st.Running, *c.Running)
		}
		if c.Health != nil && st.Health != *c.Health {
			add(key, "docker container %s health = %q, want %q", c.Name, st.Health, *c.Health)
		}
	}
	if we.PostgresVersion != nil && w.Postgres.Version() != *we.PostgresVersion {
		add("postgres_version", "postgres schema version = %d, want %d", w.Postgres.Version(), *we.PostgresVersion)
	}
	for i, r := range we.ELBRules {
		key := fmt.Sprintf("elbv2_rule[%d]", i)
		got := w.AWS.Weights(r.ARN)
		if !reflect.DeepEqual(got, r.Weights) {
			add(key, "elbv2 rule %s weights = %v, want %v", r.ARN, got, r.Weights)
		}
	}
	for i, o := range we.S3Objects {
		key := fmt.Sprintf("s3_object[%d]", i)
		found := false
		for _, k := range w.AWS.Keys(o.Bucket) {
			if (o.Key != "" && k == o.Key) || (o.Key == "" && strings.HasPrefix(k, o.Prefix)) {
				found = true
				break
			}
		}
		what := o.Key
		if what == "" {
			what = o.Prefix + "*"
		}
		if found != o.Exists {
			add(key, "s3://%s/%s exists = %t, want %t (keys: %s)", o.Bucket, what, found, o.Exists, quoted(w.AWS.Keys(o.Bucket)))
		}
	}
	for i, f := range we.SSHFiles {
		key := fmt.Sprintf("ssh_file[%d]", i)
		got := w.SSH.Host(f.Host).Exists(f.Path)
		if got != f.Exists {
			add(key, "%s:%s exists = %t, want %t", f.Host, f.Path, got, f.Exists)
		}
	}
	if we.StatuspageOpen != nil && len(w.Statuspage.Open()) != *we.StatuspageOpen {
		add("statuspage_open", "statuspage: %d open incidents, want %d", len(w.Statuspage.Open()), *we.StatuspageOpen)
	}
	if we.StatuspageCreated != nil && len(w.Statuspage.Incidents()) != *we.StatuspageCreated {
		add("statuspage_incidents", "statuspage: %d incidents, want %d", len(w.Statuspage.Incidents()), *we.StatuspageCreated)
	}
	if we.SlackMessages != nil && len(w.Slack.Messages()) != *we.SlackMessages {
		add("slack_messages", "slack: %d messages, want %d", len(w.Slack.Messages()), *we.SlackMessages)
	}
	if we.EmailSubjects != nil && !reflect.DeepEqual(w.Email.Subjects(), we.EmailSubjects) && !(len(we.EmailSubjects) == 0 && len(w.Email.Subjects()) == 0) {
		add("email_subjects", "email subjects = %s, want %s", quoted(w.Email.Subjects()), quoted(we.EmailSubjects))
	}
	return out
}

// ErrScenarioFailed is wrapped by [ScenarioResult.Err].
var ErrScenarioFailed = errors.New("sandbox: scenario failed")

// Err returns nil when the scenario passed, else an error listing its
// failures.
func (r ScenarioResult) Err() error {
	if r.Passed {
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ErrScenarioFailed, r.Name, strings.Join(r.Failures, "; "))
}
