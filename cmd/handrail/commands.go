package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/journal/pgjournal"
	"github.com/handrail-dev/handrail/runbook"
)

func (a *app) cmdValidate(ctx context.Context, args []string) int {
	fs := newFlagSet("validate", a.stderr, "validate FILE|DIR [-var k=v]... [-var-file F]...")
	var vf varFlags
	fs.Var(&vf.vars, "var", "set a variable (name=value); repeatable")
	fs.Var(&vf.varFiles, "var-file", "read variables from a file; repeatable")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) != 1 {
		a.errorf("validate takes one FILE or DIR")
		return exitInvalid
	}
	files, err := runbookFiles(pos[0])
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	if len(files) == 0 {
		a.errorf("no runbooks (*.hcl) in %s", pos[0])
		return exitInvalid
	}
	reg, err := realRegistry()
	if err != nil {
		a.errorf("%v", err)
		return exitInternal
	}
	bad := 0
	for _, f := range files {
		rb := a.load(ctx, f, &vf, reg)
		if rb == nil {
			bad++
			continue
		}
		fmt.Fprintf(a.stdout, "%s: valid (%d nodes, budget %s, window %s)\n", f, len(rb.Plan().Nodes()), rb.Plan().Budget(), rb.Plan().Window)
		_ = rb.Close()
	}
	if bad > 0 {
		return exitInvalid
	}
	return exitOK
}

func (a *app) cmdPlan(ctx context.Context, args []string) int {
	fs := newFlagSet("plan", a.stderr, "plan FILE [-var k=v]... [-var-file F]... [-json]")
	var vf varFlags
	fs.Var(&vf.vars, "var", "set a variable (name=value); repeatable")
	fs.Var(&vf.varFiles, "var-file", "read variables from a file; repeatable")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) != 1 {
		a.errorf("plan takes one runbook FILE")
		return exitInvalid
	}
	reg, err := realRegistry()
	if err != nil {
		a.errorf("%v", err)
		return exitInternal
	}
	rb := a.load(ctx, pos[0], &vf, reg)
	if rb == nil {
		return exitInvalid
	}
	defer rb.Close()
	if *asJSON {
		return a.writeJSON(planJSON(rb))
	}
	var buf bytes.Buffer
	writePlanText(&buf, rb, a.color(a.stdout))
	_, _ = a.stdout.Write([]byte(rb.Redactor().Redact(buf.String())))
	return exitOK
}

func (a *app) writeJSON(v any) int {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		a.errorf("%v", err)
		return exitInternal
	}
	return exitOK
}

func (a *app) cmdGraph(ctx context.Context, args []string) int {
	fs := newFlagSet("graph", a.stderr, "graph FILE [-format dot|mermaid] [-var k=v]...")
	var vf varFlags
	fs.Var(&vf.vars, "var", "set a variable (name=value); repeatable")
	fs.Var(&vf.varFiles, "var-file", "read variables from a file; repeatable")
	format := fs.String("format", "dot", "dot or mermaid")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) != 1 {
		a.errorf("graph takes one runbook FILE")
		return exitInvalid
	}
	if *format != "dot" && *format != "mermaid" {
		a.errorf("unknown -format %q: use dot or mermaid", *format)
		return exitInvalid
	}
	reg, err := realRegistry()
	if err != nil {
		a.errorf("%v", err)
		return exitInternal
	}
	rb := a.load(ctx, pos[0], &vf, reg)
	if rb == nil {
		return exitInvalid
	}
	defer rb.Close()
	if *format == "mermaid" {
		err = writeMermaid(a.stdout, rb.Plan())
	} else {
		err = writeDOT(a.stdout, rb.Plan())
	}
	if err != nil {
		a.errorf("%v", err)
		return exitInternal
	}
	return exitOK
}

func (a *app) cmdFmt(_ context.Context, args []string) int {
	fs := newFlagSet("fmt", a.stderr, "fmt [-check] [-diff] FILE|DIR")
	check := fs.Bool("check", false, "do not write; exit 1 and list the files that are not formatted")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) == 0 {
		pos = []string{"."}
	}
	bad := 0
	for _, root := range pos {
		files, err := hclFiles(root)
		if err != nil {
			a.errorf("%v", err)
			return exitInvalid
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				a.errorf("%v", err)
				return exitInvalid
			}
			out, diags := hcl.Format(f, src)
			if diags.HasErrors() {
				fmt.Fprintln(a.stderr, diags.Error())
				return exitInvalid
			}
			if bytes.Equal(src, out) {
				continue
			}
			fmt.Fprintln(a.stdout, f)
			if *check {
				bad++
				continue
			}
			if err := os.WriteFile(f, out, 0o644); err != nil {
				a.errorf("%v", err)
				return exitInvalid
			}
		}
	}
	if bad > 0 {
		return exitInvalid
	}
	return exitOK
}

// applyFlags are shared by apply, resume and rollback.
type applyFlags struct {
	vf          varFlags
	state       stateFlags
	autoApprove bool
	parallelism int
	asJSON      bool
	sandbox     bool
	fails       multiFlag
	force       bool
	verbose     bool
}

func (a *app) cmdApply(ctx context.Context, args []string) int {
	fs := newFlagSet("apply", a.stderr, "apply FILE [-var k=v]... [-var-file F]... [-auto-approve] [-parallelism N] [-state-dir D | -journal postgres://...] [-json] [--sandbox [--fail NAME]...]")
	var af applyFlags
	fs.Var(&af.vf.vars, "var", "set a variable (name=value); repeatable")
	fs.Var(&af.vf.varFiles, "var-file", "read variables from a file; repeatable")
	fs.BoolVar(&af.autoApprove, "auto-approve", false, "approve every approval gate without asking")
	fs.IntVar(&af.parallelism, "parallelism", 10, "nodes running at once")
	af.state.register(fs)
	fs.BoolVar(&af.asJSON, "json", false, "print one JSON event per line on stdout")
	fs.BoolVar(&af.sandbox, "sandbox", false, "run against the stateful fakes of every provider on a simulated clock")
	fs.Var(&af.fails, "fail", "with --sandbox: make the named step fail or gate breach (repeatable)")
	fs.BoolVar(&af.verbose, "verbose", false, "show every output line and sample")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) != 1 {
		a.errorf("apply takes one runbook FILE")
		return exitInvalid
	}
	if len(af.fails) > 0 && !af.sandbox {
		a.errorf("--fail only works with --sandbox: it rehearses a failure against fakes")
		return exitInvalid
	}
	if af.parallelism < 1 {
		a.errorf("-parallelism must be at least 1")
		return exitInvalid
	}
	if af.sandbox {
		return a.applySandbox(ctx, pos[0], &af)
	}
	reg, err := realRegistry()
	if err != nil {
		a.errorf("%v", err)
		return exitInternal
	}
	rb := a.load(ctx, pos[0], &af.vf, reg)
	if rb == nil {
		return exitInvalid
	}
	defer rb.Close()
	st, closeStore, err := a.openStore(ctx, af.state, pos[0])
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	defer closeStore()
	abs, _ := filepath.Abs(pos[0])
	inputs := append([]runbook.Input{{Name: inputFile, Value: abs}}, rb.Inputs()...)
	ex := a.executor(rb.Plan(), rb.Redactor(), st, &af, runbook.RealClock{}, nil)
	return a.execute(ctx, rb, func(ctx context.Context, stop <-chan struct{}) (*runbook.Result, error) {
		return ex.Run(ctx, rb.Plan(), runbook.RunOptions{Inputs: inputs, StopRollback: stop})
	}, &af)
}

// executor builds the executor for a run with the CLI's observer and
// approver.
func (a *app) executor(plan *runbook.Plan, red *runbook.Redactor, j runbook.Journal, af *applyFlags, clock runbook.Clock, extra runbook.Observer) *runbook.Executor {
	var obs runbook.Observer
	if af.asJSON {
		obs = runbook.NewJSONObserver(a.stdout)
	} else {
		p := newProgress(a.stdout, plan, a.tty(a.stdout) && a.env("CI") == "", a.color(a.stdout))
		p.verbose = af.verbose
		obs = p
	}
	if extra != nil {
		obs = runbook.MultiObserver{extra, obs}
	}
	var appr runbook.Approver
	switch {
	case af.autoApprove:
		appr = autoApprover{}
	case a.ttyIn():
		appr = newTerminalApprover(a.stdin, a.stderr)
	default:
		appr = noApprover{}
	}
	return &runbook.Executor{Clock: clock, Journal: j, Observer: obs, Approver: appr, Redactor: red, Parallelism: af.parallelism}
}

// execute runs fn with Ctrl-C handling: the first interrupt stops the run
// and rolls back; the second stops the rollback after the compensation in
// progress and leaves the journal ready for `handrail rollback RUN`.
func (a *app) execute(ctx context.Context, rb *hcl.Runbook, fn func(ctx context.Context, stop <-chan struct{}) (*runbook.Result, error), af *applyFlags) int {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case <-a.signals:
				n++
				if n == 1 {
					fmt.Fprintln(a.stderr, "\nInterrupted: stopping the run and rolling back what it did. Press Ctrl-C again to stop the rollback after the current compensation.")
					cancel()
				} else if n == 2 {
					fmt.Fprintln(a.stderr, "\nStopping the rollback after the current compensation; finish it later with 'handrail rollback RUN'.")
					close(stop)
				}
			}
		}
	}()
	res, err := fn(runCtx, stop)
	if res == nil && errors.Is(err, runbook.ErrNothingToUndo) {
		fmt.Fprintf(a.stderr, "Nothing to undo: %v\n", err)
		return exitOK
	}
	if res == nil {
		a.errorf("%v", err)
		var le *journal.LockedError
		if errors.As(err, &le) {
			return exitPerson
		}
		if errors.Is(err, runbook.ErrPlanChanged) || errors.Is(err, runbook.ErrRunNotFound) {
			return exitInvalid
		}
		return exitPerson
	}
	return a.summarize(rb, res)
}

// summarize prints what to do next and maps the status to an exit code.
func (a *app) summarize(rb *hcl.Runbook, res *runbook.Result) int {
	red := rb.Redactor()
	if rb != nil && res.Status == runbook.StatusSucceeded {
		if outs, diags := rb.Outputs(res.Run, func(n string) (runbook.Outputs, bool) {
			nr, ok := res.Nodes[n]
			if !ok || nr.Outputs == nil {
				return nil, false
			}
			return nr.Outputs, true
		}); !diags.HasErrors() && len(outs) > 0 {
			fmt.Fprintln(a.stderr, "Outputs:")
			for _, o := range outs {
				v := o.Value
				if o.Sensitive {
					v = "(sensitive)"
				}
				fmt.Fprintf(a.stderr, "  %s = %s\n", o.Name, red.Redact(fmt.Sprint(v)))
			}
		}
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(a.stderr, "Warning: %s\n", red.Redact(w.Error()))
	}
	switch res.Status {
	case runbook.StatusSucceeded:
		return exitOK
	case runbook.StatusRolledBack:
		if errors.Is(res.Err, runbook.ErrCancelled) || errors.Is(res.Err, context.Canceled) {
			fmt.Fprintf(a.stderr, "Run %s was interrupted and rolled back.\n", res.Run.ID)
			return exitRolled
		}
		fmt.Fprintf(a.stderr, "Run %s failed and was rolled back: %s\n", res.Run.ID, red.Redact(errText(res.Err)))
		return exitRolled
	case runbook.StatusAborted:
		if len(res.Pending) == 0 {
			fmt.Fprintf(a.stderr, "Run %s aborted: %s (nothing to undo)\n", res.Run.ID, red.Redact(errText(res.Err)))
			return exitRolled
		}
		fmt.Fprintf(a.stderr, "Run %s aborted: %s\nNothing was compensated. To undo, in order: %s\n  handrail rollback %s\n", res.Run.ID, red.Redact(errText(res.Err)), strings.Join(res.Pending, ", "), res.Run.ID)
		return exitPerson
	case runbook.StatusHalted:
		fmt.Fprintf(a.stderr, "Run %s HALTED after its point of no return: %s\nNothing was compensated automatically. If you decide to roll back, these compensations run in this order: %s\n  handrail rollback %s\n", res.Run.ID, red.Redact(errText(res.Err)), strings.Join(res.Pending, ", "), res.Run.ID)
		return exitPerson
	case runbook.StatusRollbackIncomplete:
		fmt.Fprintf(a.stderr, "Run %s failed and its ROLLBACK IS INCOMPLETE: %s\nStill to undo, in order: %s\nFix the cause, then: handrail rollback %s\n", res.Run.ID, red.Redact(errText(res.Err)), strings.Join(res.Pending, ", "), res.Run.ID)
		return exitPerson
	default:
		if len(res.Compensated) > 0 || strings.Contains(errText(res.Err), "rollback stopped") {
			fmt.Fprintf(a.stderr, "Run %s: the rollback was stopped before it finished: %s\nStill to undo, in order: %s\nFinish the rollback with: handrail rollback %s\n", res.Run.ID, red.Redact(errText(res.Err)), strings.Join(res.Pending, ", "), res.Run.ID)
			return exitPerson
		}
		fmt.Fprintf(a.stderr, "Run %s stopped (%s): %s\nContinue with 'handrail resume %s' or undo with 'handrail rollback %s'.\n", res.Run.ID, res.Status, red.Redact(errText(res.Err)), res.Run.ID, res.Run.ID)
		return exitPerson
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (a *app) cmdResume(ctx context.Context, args []string, mode string) int {
	fs := newFlagSet(mode, a.stderr, mode+" RUN [-state-dir D | -journal URL] [-var k=v]... [-auto-approve] [-force] [-json]")
	var af applyFlags
	fs.Var(&af.vf.vars, "var", "set a variable (sensitive variables are never journaled: give them again)")
	fs.Var(&af.vf.varFiles, "var-file", "read variables from a file; repeatable")
	fs.BoolVar(&af.autoApprove, "auto-approve", false, "approve every approval gate without asking")
	fs.IntVar(&af.parallelism, "parallelism", 10, "nodes running at once")
	af.state.register(fs)
	fs.BoolVar(&af.asJSON, "json", false, "print one JSON event per line on stdout")
	fs.BoolVar(&af.force, "force", false, "go on even if the runbook changed since the run started")
	file := fs.String("runbook", "", "the runbook file (default: the one the run recorded)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) != 1 {
		a.errorf("%s takes one run id (list them with 'handrail runs')", mode)
		return exitInvalid
	}
	recs, st, closeStore, ok := a.loadRun(ctx, af.state, *file, pos[0])
	if !ok {
		return exitInvalid
	}
	defer closeStore()
	path := *file
	if path == "" {
		path = inputValue(recs, inputFile)
	}
	if path == "" {
		a.errorf("%v: pass -runbook FILE", errNoRunbook)
		return exitInvalid
	}
	if inputValue(recs, inputSandbox) != "" {
		a.errorf("run %s was a sandbox rehearsal: its fakes are gone; rehearse again with 'handrail apply --sandbox'", pos[0])
		return exitInvalid
	}
	// Non-sensitive inputs come back from the journal; -var overrides.
	vars := map[string]string{}
	for _, r := range recs {
		if r.Kind == runbook.RecRunStarted {
			for _, in := range r.Inputs {
				if !in.Sensitive && !strings.HasPrefix(in.Name, "handrail:") {
					vars[in.Name] = in.Value
				}
			}
			break
		}
	}
	given, err := af.vf.values()
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	af.vf.vars = nil
	for k, v := range vars {
		if _, ok := given[k]; !ok {
			af.vf.vars = append(af.vf.vars, k+"="+v)
		}
	}
	for k, v := range given {
		af.vf.vars = append(af.vf.vars, k+"="+v)
	}
	reg, err := realRegistry()
	if err != nil {
		a.errorf("%v", err)
		return exitInternal
	}
	rb := a.load(ctx, path, &af.vf, reg)
	if rb == nil {
		return exitInvalid
	}
	defer rb.Close()
	ex := a.executor(rb.Plan(), rb.Redactor(), st, &af, runbook.RealClock{}, nil)
	return a.execute(ctx, rb, func(ctx context.Context, stop <-chan struct{}) (*runbook.Result, error) {
		opts := runbook.RunOptions{Force: af.force, StopRollback: stop}
		if mode == "rollback" {
			return ex.Rollback(ctx, rb.Plan(), pos[0], opts)
		}
		return ex.Resume(ctx, rb.Plan(), pos[0], opts)
	}, &af)
}

// openStore opens the journal the flags select: PostgreSQL when -journal
// is given, else the file journal in -state-dir (default: .handrail next to
// the runbook).
func (a *app) openStore(ctx context.Context, sf stateFlags, runbookPath string) (store, func(), error) {
	if sf.journal != "" {
		if !strings.HasPrefix(sf.journal, "postgres://") && !strings.HasPrefix(sf.journal, "postgresql://") {
			return nil, nil, fmt.Errorf("-journal must be a postgres:// URL")
		}
		j, err := pgjournal.Open(ctx, sf.journal, nil)
		if err != nil {
			return nil, nil, err
		}
		return j, j.Close, nil
	}
	dir := sf.stateDir
	if dir == "" {
		dir = a.env("HANDRAIL_STATE_DIR")
	}
	if dir == "" {
		dir = defaultStateDir(runbookPath)
	}
	j, err := filejournal.Open(dir, nil)
	if err != nil {
		return nil, nil, err
	}
	return j, func() { _ = j.Close() }, nil
}

// planForRun rebuilds a run's plan from the runbook it recorded, for the
// report's budgets; nil when that is not possible.
func (a *app) planForRun(ctx context.Context, recs []runbook.Record) *runbook.Plan {
	path := inputValue(recs, inputFile)
	if path == "" {
		return nil
	}
	reg, err := realRegistry()
	if err != nil {
		return nil
	}
	vars := map[string]string{}
	for _, r := range recs {
		if r.Kind == runbook.RecRunStarted {
			for _, in := range r.Inputs {
				if !in.Sensitive && !strings.HasPrefix(in.Name, "handrail:") {
					vars[in.Name] = in.Value
				}
			}
			break
		}
	}
	rb, diags := hcl.Load(ctx, path, hcl.Options{Registry: reg, Vars: vars, Environ: a.environ, Version: version})
	if diags.HasErrors() {
		return nil
	}
	defer rb.Close()
	return rb.Plan()
}
