// Package providertest is the conformance suite every provider's mutating
// actions must pass: whatever fails, and however, the step's rollback puts
// the world back where it was before the step's first attempt.
//
// The caller gives the suite a way to build a fresh world ([Suite.Setup]:
// the provider, its configuration, a snapshot of the world's state and a
// way to inject faults into the calls that change it) and a table of
// [Case]s: an action type, its arguments, the call that makes the change
// and the change expected. For each case the suite runs every [Mode]:
//
//   - [Clean]: the step succeeds and makes the expected change; a new
//     process (a new provider instance, the journal's records after a JSON
//     round trip) rolls it back from the journal's outputs alone.
//   - [FailBefore]: the call fails before changing anything; the step's
//     own rollback must leave the world alone.
//   - [FailAfter]: the call changes the world and the answer is lost; the
//     step fails, and its own rollback must restore the world from what
//     the step checkpointed before the change.
//   - [RetryAfterLost]: the same, then a retry succeeds and a later step
//     fails: the compensation must restore the state from before the first
//     attempt, not the one the failed attempt left.
//   - [Timeout]: the call changes the world and its answer takes longer
//     than the step's timeout on the simulated clock; a retry succeeds, a
//     later step fails, the compensation restores the world. With
//     [Suite.RealTime] (real components: a step waiting on a real socket
//     cannot let a simulated clock move) this mode runs on the real clock
//     with a short step timeout, and the fault holds the answer (a
//     faultnet cut with Hold, or fault.Transport's Latency).
//   - [CrashAfterEffect]: the process dies after the call changed the world
//     and before the step's end was recorded; a new process rolls back from
//     the journal as it stood at that moment.
//
// After each mode the suite asserts that the world's snapshot equals the
// one taken before the step, and runs the rollback once more in yet another
// process, with the outputs the last compensation saw: a natural rollback
// must be idempotent (twice = once).
//
// Faults are injected by call name through [World.Inject]: a stateful fake
// arms its [fault.Injector]; a real component is reached through a
// transport that lets the request through and drops the answer
// ([fault.Transport] for HTTP). The suite uses the standard library's
// testing package only, so it can run in any test:
//
//	func TestConformance(t *testing.T) {
//		providertest.Suite{Setup: newWorld, Cases: cases}.Run(t)
//	}
//
// Actions whose effect is lasting by nature (a chat message, an e-mail, an
// incident opened and resolved) set [Case.Lasting]: the suite then checks
// that the change is made, and that no rollback removes it.
package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/runbook"
)

// Mode is one way the step under test fails.
type Mode string

// The modes, in the order the suite runs them.
const (
	Clean            Mode = "clean"
	FailBefore       Mode = "fail_before_effect"
	FailAfter        Mode = "fail_after_effect"
	RetryAfterLost   Mode = "retry_after_lost_answer"
	Timeout          Mode = "timeout"
	CrashAfterEffect Mode = "crash_after_effect"
)

// Modes returns every mode.
func Modes() []Mode {
	return []Mode{Clean, FailBefore, FailAfter, RetryAfterLost, Timeout, CrashAfterEffect}
}

// Snapshot is the state of a world: JSON-compatible values (maps, lists,
// strings, numbers, booleans). Two snapshots are compared after a JSON
// round trip, so a number's Go type does not matter.
type Snapshot = map[string]any

// World is one fresh world and the provider that acts on it.
type World struct {
	// Provider is the provider under test. The suite configures a new
	// instance for each simulated process.
	Provider provider.Provider
	// Config is the provider block's configuration (cty.NilVal: an empty
	// object).
	Config cty.Value
	// Snapshot returns the world's state. It must include everything the
	// cases change and nothing that changes by itself (clocks, counters of
	// calls): the suite compares snapshots for equality.
	Snapshot func(ctx context.Context) (Snapshot, error)
	// Inject arms f for the next call named call ([Case.Call]). The suite
	// sets f.Clock to the run's simulated clock.
	Inject func(call string, f fault.Fault)
	// SetClock, if set, receives the run's simulated clock before anything
	// runs (so that the fake dates its changes on it).
	SetClock func(runbook.Clock)
	// Journal, if set, returns a fresh empty journal for one simulated
	// process (a file journal, PostgreSQL). Default: an in-memory journal
	// that stores each record through a JSON round trip.
	Journal func(t *testing.T) runbook.Journal
}

// Case is one mutating action and the change it must make.
type Case struct {
	// Name names the subtest (default: Action).
	Name string
	// Action is the action type ("elbv2_weights").
	Action string
	// Args are the step's arguments, as the DSL would decode them (an
	// object of the action's schema).
	Args cty.Value
	// Call names the call that changes the world, as World.Inject knows it
	// ("ModifyRule", "PutObject").
	Call string
	// Effect checks the change the step made: nil if after is what the step
	// must make of before. It is also checked at the moment an injected
	// fault hits after the change, which proves the fault hit after it.
	Effect func(before, after Snapshot) error
	// Lasting marks an action whose effect stays, by nature (a
	// notification sent, an incident opened and then resolved): the suite
	// checks that the effect is made and that what the rollback leaves
	// passes Restored, instead of expecting the world back.
	Lasting bool
	// Restored checks the world a lasting action's rollback leaves
	// (default: Effect still holds). An incident's rollback resolves it:
	// "every incident the step opened is resolved".
	Restored func(before, after Snapshot) error
	// Modes restricts the modes run (default: all). A mode left out must
	// be explained in Skipped.
	Modes []Mode
	// Skipped explains, per mode left out, why: it is logged.
	Skipped map[Mode]string
}

// Suite is the conformance suite of one provider.
type Suite struct {
	// Setup returns a fresh world for one subtest, in the state the cases
	// expect; it registers its own cleanup with t.
	Setup func(t *testing.T) World
	// Cases are the mutating actions to prove.
	Cases []Case
	// StepTimeout is the step's timeout in mode Timeout (default one
	// minute of simulated time, or RealStepTimeout with RealTime); the
	// injected latency is ten times it.
	StepTimeout time.Duration
	// RealTime runs mode Timeout on the real clock: for worlds of real
	// components, whose calls wait on real sockets. World.Inject then
	// receives a fault.Latency fault with a nil Clock (the real one): it
	// must hold the answer for Delay, or until the client gives up.
	RealTime bool
}

// RealStepTimeout is the default step timeout of mode Timeout with
// [Suite.RealTime].
const RealStepTimeout = 3 * time.Second

var start = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

// Run runs every case under every mode, each in its own subtest named
// "CASE/MODE".
func (s Suite) Run(t *testing.T) {
	t.Helper()
	if s.Setup == nil {
		t.Fatal("providertest: Suite.Setup is nil: give a function that returns a fresh World")
	}
	if len(s.Cases) == 0 {
		t.Fatal("providertest: Suite.Cases is empty: give at least one mutating action to prove")
	}
	for _, c := range s.Cases {
		name := c.Name
		if name == "" {
			name = c.Action
		}
		t.Run(name, func(t *testing.T) {
			modes := c.Modes
			if len(modes) == 0 {
				modes = Modes()
			}
			in := map[Mode]bool{}
			for _, m := range modes {
				in[m] = true
			}
			for _, m := range Modes() {
				if !in[m] {
					why := c.Skipped[m]
					if why == "" {
						t.Errorf("mode %s is left out without a reason: say why in Case.Skipped", m)
					} else {
						t.Logf("mode %s not run: %s", m, why)
					}
				}
			}
			for _, m := range modes {
				t.Run(string(m), func(t *testing.T) { s.runMode(t, c, m) })
			}
		})
	}
}

// process is one simulated process: a provider instance and the step
// built on it.
type process struct {
	inst   provider.Instance
	action runbook.Action
	rb     runbook.Rollback
	// dead is set when the process "crashed": its compensations no longer
	// reach the world.
	dead *atomic.Bool
}

// scenario is the state of one case under one mode.
type scenario struct {
	t     *testing.T
	s     Suite
	c     Case
	m     Mode
	w     World
	at    provider.ActionType
	clock *runbook.SimClock
	// real runs the executor on the real clock (mode Timeout of a
	// RealTime suite).
	real   bool
	before Snapshot

	mu sync.Mutex
	// selves are the outputs each compensation that ran saw.
	selves []runbook.Outputs
	// mid is the snapshot taken when the fault hit after the change.
	mid    Snapshot
	midErr error
	fired  int
	// cut are the journal records as they stood when the process died.
	cut []runbook.Record
}

func (s Suite) runMode(t *testing.T, c Case, m Mode) {
	ctx := context.Background()
	w := s.Setup(t)
	if w.Provider == nil || w.Snapshot == nil || w.Inject == nil {
		t.Fatal("providertest: World needs Provider, Snapshot and Inject")
	}
	at, ok := w.Provider.Actions()[c.Action]
	if !ok {
		t.Fatalf("providertest: provider %q has no action %q (it has: %s)", w.Provider.Type(), c.Action, strings.Join(actionNames(w.Provider), ", "))
	}
	if at.New == nil || (at.ReadOnly && !c.Lasting) {
		t.Fatalf("providertest: %s is read-only or a probe: the suite proves mutating actions only (and lasting ones, such as notifications)", c.Action)
	}
	sc := &scenario{t: t, s: s, c: c, m: m, w: w, at: at, clock: runbook.NewSimClock(start), real: s.RealTime && m == Timeout}
	if w.SetClock != nil {
		w.SetClock(sc.clock)
	}
	sc.before = sc.snapshot(ctx, "before the step")
	p1 := sc.process(ctx)
	if !c.Lasting && p1.rb == nil {
		t.Fatalf("%s has no natural rollback: a mutating action must undo itself, or be declared Lasting", c.Action)
	}
	switch m {
	case Clean:
		sc.clean(ctx, p1)
	case FailBefore, FailAfter, RetryAfterLost, Timeout:
		sc.faulty(ctx, p1)
	case CrashAfterEffect:
		sc.crash(ctx, p1)
	default:
		t.Fatalf("providertest: unknown mode %q", m)
	}
	if t.Failed() || m == CrashAfterEffect {
		return
	}
	sc.twice(ctx)
}

func actionNames(p provider.Provider) []string {
	var out []string
	for n := range p.Actions() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// process configures a new instance and builds the step on it.
func (sc *scenario) process(ctx context.Context) process {
	sc.t.Helper()
	cfg := sc.w.Config
	if cfg == cty.NilVal {
		cfg = cty.EmptyObjectVal
	}
	inst, err := sc.w.Provider.Configure(ctx, "test", cfg)
	if err != nil {
		sc.t.Fatalf("configuring provider %q: %v", sc.w.Provider.Type(), err)
	}
	if c, ok := inst.(io.Closer); ok {
		// Its connections (a pool's health checker) must not outlive the case.
		sc.t.Cleanup(func() { _ = c.Close() })
	}
	a, err := sc.at.New(inst, sc.c.Args)
	if err != nil {
		sc.t.Fatalf("%s: building the step from Case.Args: %v", sc.c.Action, err)
	}
	p := process{inst: inst, action: a, dead: &atomic.Bool{}}
	if nr, ok := a.(runbook.NaturalRollback); ok {
		p.rb = nr.NaturalRollback()
	}
	return p
}

func (sc *scenario) snapshot(ctx context.Context, when string) Snapshot {
	sc.t.Helper()
	s, err := sc.w.Snapshot(ctx)
	if err != nil {
		sc.t.Fatalf("snapshot %s: %v", when, err)
	}
	n, err := normalize(s)
	if err != nil {
		sc.t.Fatalf("snapshot %s is not JSON-compatible: %v", when, err)
	}
	return n
}

// normalize passes v through JSON so that snapshots compare by value.
func normalize(v Snapshot) (Snapshot, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out Snapshot
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// restored asserts the world is back to the snapshot taken before the
// step (or, for a lasting action, still shows the change).
func (sc *scenario) restored(ctx context.Context, when string) {
	sc.t.Helper()
	now := sc.snapshot(ctx, when)
	if sc.c.Lasting {
		if sc.m == FailBefore {
			if !reflect.DeepEqual(now, sc.before) {
				sc.t.Errorf("%s: the call failed before its effect, yet the world changed:\n%s", when, Diff(sc.before, now))
			}
			return
		}
		check, what := sc.c.Effect, "a lasting effect must stay"
		if sc.c.Restored != nil {
			check, what = sc.c.Restored, "the lasting effect is not as its rollback must leave it"
		}
		if err := check(sc.before, now); err != nil {
			sc.t.Errorf("%s: %s: %v\n%s", when, what, err, Diff(sc.before, now))
		}
		return
	}
	if !reflect.DeepEqual(now, sc.before) {
		sc.t.Errorf("%s: the world is not back to its state before the step's first attempt:\n%s", when, Diff(sc.before, now))
	}
}

// plan builds the plan of one process: the step under test (its own
// rollback runs if it fails) and, when later is true, a step after it that
// fails.
func (sc *scenario) plan(p process, attempts int, timeout time.Duration, later bool) *runbook.Plan {
	sc.t.Helper()
	b := runbook.NewBuilder("providertest-" + sc.c.Action)
	st := runbook.Step{Name: "change", Action: p.action, Timeout: timeout,
		Retry: runbook.Retry{Attempts: attempts, Delay: time.Second}}
	if p.rb != nil {
		st.Rollbacks = []runbook.Rollback{&recorder{sc: sc, rb: p.rb, dead: p.dead}}
		st.RollbackOnFailure = true
	} else {
		st.Irreversible = true
	}
	b.Step(st)
	if later {
		b.Step(runbook.Step{Name: "later", Irreversible: true, Uses: []string{"change"},
			Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
				return nil, runbook.Permanent(errors.New("a later step fails"))
			})})
	}
	pl, err := b.Build()
	if err != nil {
		sc.t.Fatalf("building the plan: %v", err)
	}
	return pl
}

func (sc *scenario) executor(j runbook.Journal) *runbook.Executor {
	one := runbook.Retry{Attempts: 1}
	var clock runbook.Clock = sc.clock
	if sc.real {
		clock = runbook.RealClock{}
	}
	return &runbook.Executor{Clock: clock, Journal: j, RollbackRetry: &one}
}

func (sc *scenario) journal() runbook.Journal {
	if sc.w.Journal != nil {
		return sc.w.Journal(sc.t)
	}
	return &jsonJournal{}
}

// recorder runs a rollback and remembers the outputs it saw. After the
// process died, it reaches nothing.
type recorder struct {
	sc   *scenario
	rb   runbook.Rollback
	dead *atomic.Bool
}

func (r *recorder) Compensate(ctx context.Context, env *runbook.Env) error {
	if r.dead.Load() {
		return errors.New("the process is dead")
	}
	err := r.rb.Compensate(ctx, env)
	if err == nil {
		self, jerr := roundTrip(env.Self())
		if jerr != nil {
			return fmt.Errorf("the outputs the rollback saw do not marshal as JSON: %w", jerr)
		}
		r.sc.mu.Lock()
		r.sc.selves = append(r.sc.selves, self)
		r.sc.mu.Unlock()
	}
	return err
}

func (r *recorder) Describe() runbook.Description { return runbook.Describe(r.rb) }

func roundTrip(o runbook.Outputs) (runbook.Outputs, error) {
	if o == nil {
		return nil, nil
	}
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	var out runbook.Outputs
	err = json.Unmarshal(b, &out)
	return out, err
}

// arm injects the mode's fault on the case's call.
func (sc *scenario) arm(kind fault.Kind, delay time.Duration, onFire func(applied bool)) {
	var clock runbook.Clock = sc.clock
	if sc.real {
		clock = nil
	}
	sc.w.Inject(sc.c.Call, fault.Fault{Kind: kind, Delay: delay, Clock: clock, OnFire: func(applied bool) {
		sc.mu.Lock()
		sc.fired++
		sc.mu.Unlock()
		if applied {
			mid, err := sc.w.Snapshot(context.Background())
			if err == nil {
				mid, err = normalize(mid)
			}
			sc.mu.Lock()
			sc.mid, sc.midErr = mid, err
			sc.mu.Unlock()
		}
		if onFire != nil {
			onFire(applied)
		}
	}})
}

// checkFired asserts the fault hit, after the change when applied.
func (sc *scenario) checkFired(applied bool) {
	sc.t.Helper()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.fired == 0 {
		sc.t.Fatalf("the fault armed on call %q never hit: is Case.Call the call that changes the world, and does World.Inject reach it?", sc.c.Call)
	}
	if !applied {
		return
	}
	if sc.midErr != nil {
		sc.t.Fatalf("snapshot when the fault hit: %v", sc.midErr)
	}
	if err := sc.c.Effect(sc.before, sc.mid); err != nil {
		sc.t.Errorf("when the fault hit after call %q, the world did not show the change: %v\n%s", sc.c.Call, err, Diff(sc.before, sc.mid))
	}
}

// clean: the step succeeds; a new process rolls it back from the journal.
func (sc *scenario) clean(ctx context.Context, p1 process) {
	t := sc.t
	j1 := sc.journal()
	pl := sc.plan(p1, 1, 0, false)
	res, err := sc.executor(j1).Run(ctx, pl, runbook.RunOptions{RunID: "clean"})
	if err != nil || res.Status != runbook.StatusSucceeded {
		t.Fatalf("the step failed without any fault: %v", err)
	}
	after := sc.snapshot(ctx, "after the step")
	if err := sc.c.Effect(sc.before, after); err != nil {
		t.Fatalf("the step did not make the expected change: %v\n%s", err, Diff(sc.before, after))
	}
	if !sc.c.Lasting && reflect.DeepEqual(after, sc.before) {
		t.Fatalf("the step changed nothing the snapshot shows: the snapshot must show the change for the suite to prove its rollback")
	}
	if p1.rb == nil {
		// A lasting action without a rollback: nothing to undo.
		sc.restored(ctx, "after the step")
		return
	}
	recs := sc.load(ctx, j1, "clean")
	p2 := sc.process(ctx)
	j2 := sc.journal()
	sc.copy(ctx, j2, recs)
	res, err = sc.executor(j2).Rollback(ctx, sc.plan(p2, 1, 0, false), "clean", runbook.RunOptions{})
	if err != nil || res.Status != runbook.StatusRolledBack {
		t.Fatalf("rollback in a new process from the journal: status %v: %v", status(res), err)
	}
	sc.restored(ctx, "after the rollback in a new process")
}

func status(res *runbook.Result) runbook.Status {
	if res == nil {
		return ""
	}
	return res.Status
}

// faulty runs the modes that fail in process.
func (sc *scenario) faulty(ctx context.Context, p1 process) {
	t := sc.t
	attempts, timeout, later := 1, time.Duration(0), false
	var kind fault.Kind
	var delay time.Duration
	switch sc.m {
	case FailBefore:
		kind = fault.Before
	case FailAfter:
		kind = fault.After
	case RetryAfterLost:
		kind, attempts, later = fault.After, 2, true
	case Timeout:
		timeout = sc.s.StepTimeout
		if timeout <= 0 {
			timeout = time.Minute
			if sc.real {
				timeout = RealStepTimeout
			}
		}
		kind, delay, attempts, later = fault.Latency, 10*timeout, 2, true
	}
	sc.arm(kind, delay, nil)
	j := sc.journal()
	wall := time.Now()
	res, err := sc.executor(j).Run(ctx, sc.plan(p1, attempts, timeout, later), runbook.RunOptions{RunID: string(sc.m)})
	wallTook := time.Since(wall)
	sc.checkFired(kind != fault.Before)
	if res == nil {
		t.Fatalf("the run returned no result: %v", err)
	}
	if res.Status != runbook.StatusRolledBack {
		t.Errorf("status %s, want rolled_back (err: %v; pending: %v)", res.Status, err, res.Pending)
	}
	if err == nil {
		t.Errorf("the run reported no error, though %s", map[bool]string{true: "a later step failed", false: "the step failed"}[later])
	}
	if later {
		want := runbook.StateCompensated
		if p1.rb == nil {
			want = runbook.StateSucceeded
		}
		if n := res.Nodes["change"]; n == nil || n.Status != want {
			t.Errorf("the step should have succeeded on its retry and been compensated; it is %v (err: %v)", n, err)
		}
	}
	if sc.m == Timeout {
		switch {
		case sc.real && wallTook < timeout:
			t.Errorf("the run took %s, less than the step timeout %s: the answer was not held", wallTook, timeout)
		case sc.real && wallTook >= delay:
			t.Errorf("the run took %s, as long as the held answer (%s): the step's timeout did not end the wait", wallTook, delay)
		case !sc.real:
			if waited := sc.clock.Now().Sub(start); waited < timeout {
				t.Errorf("the simulated clock moved %s, less than the step timeout %s: the latency did not happen on the run's clock", waited, timeout)
			}
		}
		if n := res.Nodes["change"]; n == nil || n.Attempts != 2 {
			t.Errorf("the step should have timed out once and succeeded on its second attempt: %+v", n)
		}
	}
	sc.restored(ctx, "after the run rolled back")
}

// crash: the process dies after the change; a new one rolls back.
//
// The first process is stopped dead at the instant the call changed the
// world: its goroutine is held inside the call until the subtest ends, so
// nothing it would do next (record the failure, clean up, compensate)
// reaches the world or the journal before the new process has rolled back
// and the world has been compared.
func (sc *scenario) crash(ctx context.Context, p1 process) {
	t := sc.t
	j1 := sc.journal()
	const run = "crash"
	var loadErr error
	crashed, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	sc.arm(fault.After, 0, func(applied bool) {
		if !applied {
			return
		}
		// The process dies here: what the journal holds now is all a new
		// process will know.
		recs, err := j1.Load(context.Background(), run)
		p1.dead.Store(true)
		sc.mu.Lock()
		sc.cut, loadErr = recs, err
		sc.mu.Unlock()
		close(crashed)
		<-release
	})
	go func() {
		defer close(done)
		_, _ = sc.executor(j1).Run(ctx, sc.plan(p1, 1, 0, false), runbook.RunOptions{RunID: run})
	}()
	defer func() {
		close(release)
		<-done
	}()
	select {
	case <-crashed:
	case <-done:
		sc.checkFired(true)
		t.Fatal("the process never crashed: the fault did not hit after the change")
	}
	sc.checkFired(true)
	sc.mu.Lock()
	cut := sc.cut
	sc.mu.Unlock()
	if loadErr != nil {
		t.Fatalf("loading the journal at the crash: %v", loadErr)
	}
	// The dead process holds the first clock: the new one has its own,
	// reading the same time.
	sc.clock = runbook.NewSimClock(sc.clock.Now())
	p2 := sc.process(ctx)
	if sc.c.Lasting && p2.rb == nil {
		sc.restored(ctx, "after the crash")
		return
	}
	j2 := sc.journal()
	sc.copy(ctx, j2, cut)
	res, err := sc.executor(j2).Rollback(ctx, sc.plan(p2, 1, 0, false), run, runbook.RunOptions{})
	if err != nil || res == nil || res.Status != runbook.StatusRolledBack {
		msg := ""
		if errors.Is(err, runbook.ErrInDoubt) {
			msg = "\nthe step left nothing in the journal to roll back from: capture what the rollback needs with env.Checkpoint BEFORE the change"
		}
		t.Fatalf("rollback in a new process after a crash between the change and its record: status %v: %v%s", status(res), err, msg)
	}
	sc.restored(ctx, "after the rollback in a new process")
	sc.twice(ctx)
}

// twice runs the natural rollback once more, in a new process, with the
// outputs the last compensation saw: the world must not change.
func (sc *scenario) twice(ctx context.Context) {
	t := sc.t
	sc.mu.Lock()
	var self runbook.Outputs
	ran := len(sc.selves) > 0
	if ran {
		self = sc.selves[len(sc.selves)-1]
	}
	sc.mu.Unlock()
	if !ran {
		if !sc.c.Lasting {
			t.Errorf("no compensation ran to completion")
		}
		return
	}
	p := sc.process(ctx)
	env := runbook.NewEnv(runbook.EnvConfig{Run: runbook.RunInfo{ID: "again"}, Node: "change", Attempt: 1, Self: self, Clock: runbook.NewSimClock(sc.clock.Now())})
	if err := p.rb.Compensate(ctx, env); err != nil {
		t.Fatalf("running the rollback a second time failed (a natural rollback must be idempotent): %v", err)
	}
	sc.restored(ctx, "after running the rollback a second time")
}

func (sc *scenario) load(ctx context.Context, j runbook.Journal, run string) []runbook.Record {
	sc.t.Helper()
	recs, err := j.Load(ctx, run)
	if err != nil {
		sc.t.Fatalf("loading the journal: %v", err)
	}
	return recs
}

// copy appends recs to j, as a new process would find them.
func (sc *scenario) copy(ctx context.Context, j runbook.Journal, recs []runbook.Record) {
	sc.t.Helper()
	cp := make([]runbook.Record, len(recs))
	for i, r := range recs {
		r.Seq = 0
		cp[i] = r
	}
	if err := j.Append(ctx, cp...); err != nil {
		sc.t.Fatalf("copying the journal into the new process's: %v", err)
	}
}

// jsonJournal is an in-memory journal that stores every record through a
// JSON round trip, as a file or database journal would.
type jsonJournal struct{ m runbook.MemJournal }

func (j *jsonJournal) Append(ctx context.Context, recs ...runbook.Record) error {
	cp := make([]runbook.Record, len(recs))
	for i, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("journal: record %s of %s: %w", r.Kind, r.Node, err)
		}
		var back runbook.Record
		if err := json.Unmarshal(b, &back); err != nil {
			return fmt.Errorf("journal: record %s of %s: %w", r.Kind, r.Node, err)
		}
		cp[i] = back
	}
	return j.m.Append(ctx, cp...)
}

func (j *jsonJournal) Load(ctx context.Context, run string) ([]runbook.Record, error) {
	return j.m.Load(ctx, run)
}

// Diff describes how two snapshots differ, one line per path.
func Diff(want, got Snapshot) string {
	var lines []string
	diff("", map[string]any(want), map[string]any(got), &lines)
	if len(lines) == 0 {
		return "  (no difference)"
	}
	return strings.Join(lines, "\n")
}

func diff(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		ks := make([]string, 0, len(keys))
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			p := k
			if path != "" {
				p = path + "." + k
			}
			av, ain := am[k]
			bv, bin := bm[k]
			switch {
			case !ain:
				*out = append(*out, fmt.Sprintf("  + %s: %s", p, show(bv)))
			case !bin:
				*out = append(*out, fmt.Sprintf("  - %s: %s", p, show(av)))
			default:
				diff(p, av, bv, out)
			}
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, fmt.Sprintf("  ~ %s: %s -> %s", path, show(a), show(b)))
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
