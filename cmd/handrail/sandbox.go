package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
	"github.com/handrail-dev/handrail/sandbox"
)

// Reserved inputs of a rehearsal: with the journal they are the fake
// world's persistent state (see rebuildWorld).
const (
	inputFail       = "handrail:fail"
	inputCrashAfter = "handrail:crash-after"
	inputWorld      = "handrail:world"
)

// rehearsal is what a sandbox run needs: the fake world, its runbook and
// the plan with the injected failures.
type rehearsal struct {
	world *sandbox.World
	rb    *hcl.Runbook
	plan  *runbook.Plan
	fails []string
	start time.Time
}

// loadRehearsal builds the fake world of the runbook at path on a
// simulated clock starting at start, loads the runbook against its fakes
// and injects the failures. It prints what went wrong and returns nil.
func (a *app) loadRehearsal(ctx context.Context, path string, vf *varFlags, fails []string, start time.Time) *rehearsal {
	w, err := sandbox.ForRunbook(path, start)
	if err != nil {
		a.errorf("%v", err)
		return nil
	}
	reg, err := w.Registry()
	if err != nil {
		a.errorf("%v", err)
		return nil
	}
	// The test file's variables go under the operator's own -var values.
	given, err := vf.values()
	if err != nil {
		a.errorf("%v", err)
		return nil
	}
	all := varFlags{varFiles: vf.varFiles}
	for k, v := range w.Vars {
		if _, ok := given[k]; !ok {
			all.vars = append(all.vars, k+"="+v)
		}
	}
	all.vars = append(all.vars, vf.vars...)
	rb := a.load(ctx, path, &all, reg)
	if rb == nil {
		return nil
	}
	plan, err := sandbox.Fail(rb.Plan(), fails)
	if err != nil {
		_ = rb.Close()
		a.errorf("%v", err)
		return nil
	}
	return &rehearsal{world: w, rb: rb, plan: plan, fails: fails, start: start}
}

// worldDigest identifies the world definition of a runbook (its test file),
// so that a rehearsal is never continued against a world defined anew.
func worldDigest(path string) string {
	tf := sandbox.TestFileFor(path)
	if tf == "" {
		return "none"
	}
	b, err := os.ReadFile(tf)
	if err != nil {
		return "unreadable"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// sandboxStateDir is where rehearsals are journaled by default: beside the
// runbook's real runs, in .handrail/sandbox, so that a rehearsal never
// takes a real run's lock.
func (a *app) sandboxStateDir(sf stateFlags, path string) stateFlags {
	if sf.stateDir != "" || sf.journal != "" {
		return sf
	}
	dir := a.env("HANDRAIL_STATE_DIR")
	if dir == "" {
		dir = defaultStateDir(path)
	}
	return stateFlags{stateDir: filepath.Join(dir, "sandbox")}
}

// applySandbox rehearses a runbook against the stateful fakes of every
// provider on a simulated clock that plays the whole window in seconds,
// printing the same progress as a real run. --fail NAME makes a step fail or
// a gate breach there; --crash-after NODE stops the process dead once NODE
// completed. Approval gates are approved (the rehearsal has no one to ask)
// unless --fail names them. The run is journaled (in .handrail/sandbox next
// to the runbook), so `handrail resume` and `handrail rollback` continue it
// against the same fake world.
func (a *app) applySandbox(ctx context.Context, path string, af *applyFlags) int {
	start := time.Now().UTC().Truncate(time.Second)
	rh := a.loadRehearsal(ctx, path, &af.vf, af.fails, start)
	if rh == nil {
		return exitInvalid
	}
	defer rh.rb.Close()
	crashAfter := ""
	if af.crashAfter != "" {
		n, ok, hint := sandbox.ResolveNode(rh.plan, af.crashAfter)
		if !ok {
			a.errorf("--crash-after %s: no step or gate of that name in %s%s", af.crashAfter, rh.plan.Name, hint)
			return exitInvalid
		}
		crashAfter = n
	}
	st, closeStore, err := a.openStore(ctx, a.sandboxStateDir(af.state, path), path)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	defer closeStore()
	if !af.asJSON {
		fmt.Fprintf(a.stderr, "Sandbox: %s against fakes of every provider, on a simulated clock starting %s.\n", filepath.Base(path), start.Format(time.RFC3339))
		if len(af.fails) > 0 {
			fmt.Fprintf(a.stderr, "Injected failures: %s\n", strings.Join(af.fails, ", "))
		}
	}
	abs, _ := filepath.Abs(path)
	inputs := []runbook.Input{{Name: inputFile, Value: abs}, {Name: inputSandbox, Value: start.Format(time.RFC3339Nano)},
		{Name: inputFail, Value: strings.Join(af.fails, ",")}, {Name: inputCrashAfter, Value: crashAfter}, {Name: inputWorld, Value: worldDigest(path)}}
	inputs = append(inputs, rh.rb.Inputs()...)
	var j runbook.Journal = st
	var crash *sandbox.CrashJournal
	if crashAfter != "" {
		crash = sandbox.NewCrashJournal(st, crashAfter)
		j = crash
	}
	ex := a.executor(rh.plan, rh.rb.Redactor(), j, af, rh.world.Clock, rh.world.Observer())
	ex.Approver = sandbox.FailApprovals(rehearsalApprover(), af.fails)
	ex.Rand = func() float64 { return 0.5 }
	id := engine.NewRunID(start)
	wall := time.Now()
	code := a.execute(ctx, rh.rb, "run", func(ctx context.Context, stop <-chan struct{}) (*runbook.Result, error) {
		if crash == nil {
			return ex.Run(ctx, rh.plan, runbook.RunOptions{RunID: id, Inputs: inputs, StopRollback: stop})
		}
		return crash.Run(func() (*runbook.Result, error) {
			return ex.Run(ctx, rh.plan, runbook.RunOptions{RunID: id, Inputs: inputs, StopRollback: stop})
		})
	})
	a.saveWorld(id, rh)
	if crash != nil && crash.HasCrashed() {
		fmt.Fprintf(a.stderr, "\nSimulated crash after %s: the process stops here, as if the machine died.\nContinue the rehearsal with: %s\nor undo it with: %s\n", crashAfter, a.hint("resume", id), a.hint("rollback", id))
		code = exitPerson
	}
	if !af.asJSON {
		fmt.Fprintf(a.stderr, "Simulated %s in %s of wall time.\n", rh.world.Clock.Now().Sub(start).Round(time.Second), time.Since(wall).Round(time.Millisecond))
	}
	if code != exitOK && sandbox.TestFileFor(path) == "" {
		// An empty world fails in ways that say nothing of the runbook
		// ("aws: not found", "no data"): say what is missing.
		fmt.Fprintf(a.stderr, "\nThe fake world was empty: %s has no test file (%s) with a world {} block, so the fakes hold no bucket, container, load balancer rule, metric or route the runbook expects.\nAdd a world {} block; this writes one with what the plan touches:\n  handrail test -init %s\n",
			filepath.Base(path), filepath.Base(strings.TrimSuffix(path, filepath.Ext(path))+".test.hcl"), shellQuote(absPath(path)))
	}
	return code
}

// resumeSandbox resumes or rolls back a rehearsal: the fake world is rebuilt
// as the rehearsal left it, then the run goes on against it.
func (a *app) resumeSandbox(ctx context.Context, mode, id, path string, recs []runbook.Record, st store, af *applyFlags, ef *editFlags) int {
	rh, ok := a.rebuildWorld(ctx, id, path, recs, &af.vf)
	if !ok {
		return exitInvalid
	}
	defer rh.rb.Close()
	last := recs[len(recs)-1].Time
	rh.world.Reclock(runbook.NewSimClock(last))
	ex := a.executor(rh.plan, rh.rb.Redactor(), st, af, rh.world.Clock, rh.world.Observer())
	ex.Approver = sandbox.FailApprovals(rehearsalApprover(), rh.fails)
	ex.Rand = func() float64 { return 0.5 }
	if !af.asJSON {
		fmt.Fprintf(a.stderr, "Sandbox: %s of rehearsal %s against its fake world, rebuilt as the rehearsal left it.\n", mode, id)
	}
	eopts := ef.options(af.force)
	if code, ok := a.checkEdit(ctx, ex, rh.plan, id, mode, path, eopts, true); !ok {
		return code
	}
	code := a.execute(ctx, rh.rb, mode, func(ctx context.Context, stop <-chan struct{}) (*runbook.Result, error) {
		opts := eopts
		opts.StopRollback = stop
		if mode == "rollback" {
			return ex.Rollback(ctx, rh.plan, id, opts)
		}
		return ex.Resume(ctx, rh.plan, id, opts)
	})
	a.saveWorld(id, rh)
	return code
}

// rebuildWorld rebuilds the fake world of a rehearsal as its last process
// left it. The fakes are deterministic on the simulated clock, so the world
// is persisted as its recipe — the runbook, the digest of its test file's
// world, the start time, the injected failures and crash point (reserved
// inputs of the run) — plus the journal: every process of the run (the
// first run, each resume and rollback) is played again in order, from the
// time it started, against a fresh world and an in-memory copy of the
// journal. The replay must reach the state the journal holds (same steps
// succeeded, same compensations, same status), or the rehearsal is refused
// rather than continued against a different world.
func (a *app) rebuildWorld(ctx context.Context, id, path string, recs []runbook.Record, vf *varFlags) (*rehearsal, bool) {
	start, err := time.Parse(time.RFC3339Nano, inputValue(recs, inputSandbox))
	if err != nil {
		a.errorf("rehearsal %s: the journal does not record when its simulated clock started; rehearse again with 'handrail apply --sandbox %s'", id, path)
		return nil, false
	}
	if d := inputValue(recs, inputWorld); d != "" && d != worldDigest(path) {
		a.errorf("rehearsal %s: the world of %s changed since the rehearsal (its test file was edited), so its fake world cannot be rebuilt; rehearse again with 'handrail apply --sandbox %s'", id, path, path)
		return nil, false
	}
	var fails []string
	if f := inputValue(recs, inputFail); f != "" {
		fails = strings.Split(f, ",")
	}
	// Non-sensitive inputs come back from the journal; -var overrides.
	vars := varFlags{varFiles: vf.varFiles}
	given, err := vf.values()
	if err != nil {
		a.errorf("%v", err)
		return nil, false
	}
	for _, in := range recs[0].Inputs {
		if _, ok := given[in.Name]; !ok && !in.Sensitive && !strings.HasPrefix(in.Name, "handrail:") {
			vars.vars = append(vars.vars, in.Name+"="+in.Value)
		}
	}
	vars.vars = append(vars.vars, vf.vars...)
	rh := a.loadRehearsal(ctx, path, &vars, fails, start)
	if rh == nil {
		return nil, false
	}
	mem := &runbook.MemJournal{}
	quiet := func(ex *runbook.Executor) {
		ex.Observer = rh.world.Observer()
		ex.Approver = sandbox.FailApprovals(rehearsalApprover(), fails)
		ex.Redactor = rh.rb.Redactor()
		ex.Rand = func() float64 { return 0.5 }
	}
	for _, r := range recs {
		if r.Kind != runbook.RecRunStarted {
			continue
		}
		rh.world.Reclock(runbook.NewSimClock(r.Time))
		ex := &runbook.Executor{Clock: rh.world.Clock}
		quiet(ex)
		switch r.Mode {
		case "resume", "rollback":
			ex.Journal = mem
			if r.Mode == "rollback" {
				_, _ = ex.Rollback(ctx, rh.plan, id, runbook.RunOptions{Force: true})
			} else {
				_, _ = ex.Resume(ctx, rh.plan, id, runbook.RunOptions{Force: true})
			}
		default:
			cj := sandbox.NewCrashJournal(mem, inputValue(recs, inputCrashAfter))
			ex.Journal = cj
			_, _ = cj.Run(func() (*runbook.Result, error) {
				return ex.Run(ctx, rh.plan, runbook.RunOptions{RunID: id, Inputs: r.Inputs})
			})
		}
	}
	replayed, _ := mem.Load(ctx, id)
	err = sameOutcome(recs, replayed)
	if err == nil {
		err = a.checkWorld(id, rh)
	}
	if err != nil {
		_ = rh.rb.Close()
		a.errorf("rehearsal %s: its fake world cannot be rebuilt (%v); rehearse again with 'handrail apply --sandbox %s'", id, err, path)
		return nil, false
	}
	return rh, true
}

// sameOutcome compares what two journals of a run say happened.
func sameOutcome(want, got []runbook.Record) error {
	w, err := runbook.Replay(want)
	if err != nil {
		return err
	}
	g, err := runbook.Replay(got)
	if err != nil {
		return fmt.Errorf("the replay journaled nothing: %w", err)
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	switch {
	case w.Status != g.Status:
		return fmt.Errorf("the replay ended %q, the journal %q", g.Status, w.Status)
	case !slices.Equal(sorted(w.Succeeded), sorted(g.Succeeded)):
		return fmt.Errorf("the replay completed %v, the journal %v", g.Succeeded, w.Succeeded)
	case !slices.Equal(sorted(w.Compensated), sorted(g.Compensated)):
		return fmt.Errorf("the replay compensated %v, the journal %v", g.Compensated, w.Compensated)
	}
	return nil
}

// rehearsalApprover answers a rehearsal's questions: its people approve
// every gate and confirm every manual task (--fail denies approvals).
func rehearsalApprover() runbook.Approver { return autoApprover{gates: true, manual: true} }

// worldState is the state of a rehearsal's whole fake world, as JSON with
// every registered secret redacted: what a rehearsal persists after each
// process, and what a rebuilt world must equal.
func worldState(w *sandbox.World, red *runbook.Redactor) ([]byte, error) {
	state := w.Snapshot()
	// A container's id is random on every engine, the fake's too: the
	// container is known by its name.
	if cs, ok := state["docker"].(map[string]any)["containers"].(map[string]any); ok {
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok {
				delete(m, "id")
			}
		}
	}
	b, err := json.MarshalIndent(state, "", " ")
	if err != nil {
		return nil, err
	}
	return []byte(red.Redact(string(b))), nil
}

// worldFile is where the state of a rehearsal's world is kept after each of
// its processes: worlds/RUN.json in its state directory; for a PostgreSQL
// journal, which keeps no files, worlds/JOURNAL/RUN.json beside the per-user
// index of state directories (JOURNAL: a digest of the journal's address,
// its password left out). The journal itself holds the world's recipe —
// runbook, test file digest, start, injected failures, crash point — so a
// rehearsal is rebuilt from any machine; this file lets the machine that
// ran it check the rebuilt world too. "" when there is nowhere to keep it.
func (a *app) worldFile(id string) string {
	switch {
	case a.where.stateDir != "":
		return filepath.Join(a.where.stateDir, "worlds", id+".json")
	case a.where.journal != "":
		idx, err := a.indexPath()
		if err != nil {
			return ""
		}
		sum := sha256.Sum256([]byte(redactURL(a.where.journal)))
		return filepath.Join(filepath.Dir(idx), "worlds", hex.EncodeToString(sum[:6]), id+".json")
	}
	return ""
}

// saveWorld writes the world's state after a rehearsal's process.
func (a *app) saveWorld(id string, rh *rehearsal) {
	p := a.worldFile(id)
	if p == "" {
		return
	}
	b, err := worldState(rh.world, rh.rb.Redactor())
	if err == nil {
		err = os.MkdirAll(filepath.Dir(p), 0o700)
	}
	if err == nil {
		err = os.WriteFile(p, b, 0o600)
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "Warning: the state of rehearsal %s's fake world was not saved (%v): resume and rollback will rebuild it without checking it\n", id, err)
	}
}

// checkWorld compares a rebuilt world with the state saved after the
// rehearsal's last process; a world with no saved state passes.
func (a *app) checkWorld(id string, rh *rehearsal) error {
	p := a.worldFile(id)
	if p == "" {
		return nil
	}
	want, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	got, err := worldState(rh.world, rh.rb.Redactor())
	if err != nil {
		return err
	}
	if !bytes.Equal(want, got) {
		return fmt.Errorf("the rebuilt world differs from the one saved in %s, at line %d", p, firstDiffLine(want, got))
	}
	return nil
}

// firstDiffLine is the first line (from 1) where a and b differ.
func firstDiffLine(a, b []byte) int {
	line := 1
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return line
		}
		if a[i] == '\n' {
			line++
		}
	}
	return line
}
