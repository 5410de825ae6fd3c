package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/journal/pgjournal"
	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/sandbox"
)

func (a *app) cmdValidate(ctx context.Context, args []string) int {
	fs := newFlagSet("validate", a.stderr, "validate FILE|DIR [-var k=v]... [-var-file F]...")
	var vf varFlags
	fs.Var(&vf.vars, "var", "set a variable (name=value); repeatable")
	fs.Var(&vf.varFiles, "var-file", "read variables from a file; repeatable")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
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
		if ctx.Err() != nil {
			return exitInterrupted
		}
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
		return flagExit(err)
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
	if ctx.Err() != nil {
		return exitInterrupted
	}
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
		return flagExit(err)
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
	if ctx.Err() != nil {
		return exitInterrupted
	}
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

func (a *app) cmdFmt(ctx context.Context, args []string) int {
	fs := newFlagSet("fmt", a.stderr, "fmt [-check] [-diff] FILE|DIR")
	check := fs.Bool("check", false, "do not write; exit 1 and list the files that are not formatted")
	showDiff := fs.Bool("diff", false, "print the formatting changes as a unified diff (with -check, only print them)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
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
			if ctx.Err() != nil {
				return exitInterrupted
			}
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
			if *showDiff {
				fmt.Fprint(a.stdout, unifiedDiff(f, src, out))
			} else {
				fmt.Fprintln(a.stdout, f)
			}
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
	// confirmManual lets the CLI confirm manual tasks (a person's
	// checklist) without asking; -auto-approve alone never does.
	confirmManual bool
	parallelism   int
	asJSON        bool
	sandbox       bool
	fails         multiFlag
	crashAfter    string
	force         bool
	verbose       bool
	ui            uiFlags
	otel          bool
}

func (a *app) cmdApply(ctx context.Context, args []string) int {
	fs := newFlagSet("apply", a.stderr, "apply FILE [-var k=v]... [-var-file F]... [-auto-approve] [-parallelism N] [-state-dir D | -journal postgres://...] [-json] [--sandbox [--fail NAME]...]")
	var af applyFlags
	fs.Var(&af.vf.vars, "var", "set a variable (name=value); repeatable")
	fs.Var(&af.vf.varFiles, "var-file", "read variables from a file; repeatable")
	fs.BoolVar(&af.autoApprove, "auto-approve", false, "approve every approval gate without asking (not manual tasks)")
	fs.BoolVar(&af.confirmManual, "confirm-manual", false, "confirm every manual task (a person's checklist) without asking")
	fs.IntVar(&af.parallelism, "parallelism", 10, "nodes running at once")
	af.state.register(fs)
	fs.BoolVar(&af.asJSON, "json", false, "print one JSON event per line on stdout")
	fs.BoolVar(&af.sandbox, "sandbox", false, "run against the stateful fakes of every provider on a simulated clock")
	fs.Var(&af.fails, "fail", "with --sandbox: make the named step fail or gate breach (repeatable)")
	fs.StringVar(&af.crashAfter, "crash-after", "", "with --sandbox: stop the process dead once the named node completed (resume or roll it back later)")
	fs.BoolVar(&af.verbose, "verbose", false, "show every output line and sample")
	af.ui.register(fs, "ui-")
	fs.BoolVar(&af.otel, "otel", false, otelUsage)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		a.errorf("apply takes one runbook FILE")
		return exitInvalid
	}
	if (len(af.fails) > 0 || af.crashAfter != "") && !af.sandbox {
		a.errorf("--fail and --crash-after only work with --sandbox: they rehearse a failure against fakes")
		return exitInvalid
	}
	if af.parallelism < 1 {
		a.errorf("-parallelism must be at least 1")
		return exitInvalid
	}
	if af.sandbox && af.ui.addr != "" {
		a.errorf("-ui watches a run on the real clock; a --sandbox rehearsal finishes in milliseconds: use 'handrail report RUN' after it")
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
	// Checked before the lock is taken and anything is journaled.
	problems := a.preflight(ctx, rb, &af)
	notReady := rb.Preflight(ctx)
	if len(problems) > 0 || notReady.HasErrors() {
		if len(notReady) > 0 {
			a.writeDiags(rb, notReady)
		}
		for _, p := range problems {
			a.errorf("%s", p)
		}
		fmt.Fprintln(a.stderr, "Nothing was started, locked or written.")
		if fix := a.applyAgain(pos[0], &af); len(problems) == 1 && len(notReady) == 0 && strings.HasPrefix(problems[0], "approval gates") {
			fmt.Fprintf(a.stderr, "To run it without a terminal:\n  %s\n", fix)
		}
		return exitInvalid
	}
	st, closeStore, err := a.openStore(ctx, af.state, pos[0])
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	defer closeStore()
	abs, _ := filepath.Abs(pos[0])
	inputs := append([]runbook.Input{{Name: inputFile, Value: abs}}, rb.Inputs()...)
	ex := a.executor(rb.Plan(), rb.Redactor(), st, &af, runbook.RealClock{}, nil)
	stopUI, ok := a.startUI(ctx, &af.ui, rb.Plan(), rb.Redactor(), ex)
	if !ok {
		return exitInvalid
	}
	defer stopUI()
	return a.execute(ctx, rb, "run", func(ctx context.Context, stop <-chan struct{}) (*runbook.Result, error) {
		return ex.Run(ctx, rb.Plan(), runbook.RunOptions{Inputs: inputs, StopRollback: stop, StartedBy: currentUser()})
	})
}

// executor builds the executor for a run with the CLI's observer and
// approver.
func (a *app) executor(plan *runbook.Plan, red *runbook.Redactor, j runbook.Journal, af *applyFlags, clock runbook.Clock, extra runbook.Observer) *runbook.Executor {
	var obs runbook.Observer
	if af.asJSON {
		obs = runbook.NewJSONObserver(&versionedLines{w: a.stdout})
		a.jsonEvents = true
	} else {
		// Progress is not a result: it goes to stderr, like diagnostics.
		p := newProgress(a.stderr, plan, a.tty(a.stderr) && a.env("CI") == "", a.color(a.stderr))
		p.verbose = af.verbose
		obs = p
	}
	if extra != nil {
		obs = runbook.MultiObserver{extra, obs}
	}
	if af.otel {
		if tr := a.tracer(); tr != nil {
			obs = runbook.MultiObserver{tr, obs}
		}
	}
	var appr runbook.Approver
	switch {
	case a.ttyIn():
		appr = newTerminalApprover(a.stdin, a.stderr)
	default:
		appr = noApprover{}
	}
	if af.autoApprove || af.confirmManual {
		appr = autoApprover{gates: af.autoApprove, manual: af.confirmManual, next: appr}
	}
	return &runbook.Executor{Clock: clock, Journal: j, Observer: obs, Approver: appr, Redactor: red, Parallelism: af.parallelism}
}

func (a *app) cmdResume(ctx context.Context, args []string, mode string) int {
	usage := mode + " RUN [-runbook FILE] [-state-dir D | -journal URL] [-var k=v]... [-auto-approve] [-force -reason TEXT] [-json]"
	if mode == "resume" {
		usage = mode + " RUN [-runbook FILE] [-from NODE [-rerun NODE]...] [-state-dir D | -journal URL] [-var k=v]... [-auto-approve] [-force -reason TEXT] [-json]"
	}
	fs := newFlagSet(mode, a.stderr, usage)
	var af applyFlags
	fs.Var(&af.vf.vars, "var", "set a variable (sensitive variables are never journaled: give them again)")
	fs.Var(&af.vf.varFiles, "var-file", "read variables from a file; repeatable")
	fs.BoolVar(&af.autoApprove, "auto-approve", false, "approve every approval gate without asking (not manual tasks)")
	fs.BoolVar(&af.confirmManual, "confirm-manual", false, "confirm every manual task (a person's checklist) without asking")
	fs.IntVar(&af.parallelism, "parallelism", 10, "nodes running at once")
	af.state.register(fs)
	fs.BoolVar(&af.asJSON, "json", false, "print one JSON event per line on stdout")
	fs.BoolVar(&af.force, "force", false, "accept unsafe changes of the runbook since the run started (needs -reason)")
	file := fs.String("runbook", "", "the runbook file, edited or not (default: the one the run recorded); it is compared with the run's plan before anything runs")
	var ef editFlags
	ef.register(fs, mode)
	fs.BoolVar(&af.otel, "otel", false, otelUsage)
	af.ui.register(fs, "ui-")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		a.errorf("%s takes one run id (list them with 'handrail runs')", mode)
		return exitInvalid
	}
	id, recs, st, closeStore, ok := a.loadRun(ctx, af.state, pos[0])
	if !ok {
		return exitInvalid
	}
	defer closeStore()
	if mode == "resume" {
		if code, done := a.nothingToResume(ctx, recs, id, *file != "" || ef.from != ""); done {
			return code
		}
	}
	path := *file
	if path == "" {
		path = inputValue(recs, inputFile)
	}
	if path == "" {
		a.errorf("%v: pass -runbook FILE", errNoRunbook)
		return exitInvalid
	}
	if inputValue(recs, inputSandbox) != "" {
		return a.resumeSandbox(ctx, mode, id, path, recs, st, &af, &ef)
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
	eopts := ef.options(af.force)
	if code, ok := a.checkEdit(ctx, ex, rb.Plan(), id, mode, path, eopts, a.ttyIn() || af.ui.addr != ""); !ok {
		return code
	}
	stopUI, ok := a.startUI(ctx, &af.ui, rb.Plan(), rb.Redactor(), ex)
	if !ok {
		return exitInvalid
	}
	defer stopUI()
	return a.execute(ctx, rb, mode, func(ctx context.Context, stop <-chan struct{}) (*runbook.Result, error) {
		opts := eopts
		opts.StopRollback = stop
		if mode == "rollback" {
			return ex.Rollback(ctx, rb.Plan(), id, opts)
		}
		return ex.Resume(ctx, rb.Plan(), id, opts)
	})
}

// openStore opens the journal the flags select: PostgreSQL when -journal
// (or $HANDRAIL_JOURNAL) is given, else the file journal in -state-dir
// (default: $HANDRAIL_STATE_DIR, else .handrail next to the runbook). A
// state directory is added to the per-user index so that its runs are found
// from anywhere. a.where is set to flags selecting the same journal, for
// the hints printed later.
func (a *app) openStore(ctx context.Context, sf stateFlags, runbookPath string) (store, func(), error) {
	if sf.journal == "" && sf.stateDir == "" {
		sf.journal = a.env("HANDRAIL_JOURNAL")
	}
	if sf.journal != "" {
		if !strings.HasPrefix(sf.journal, "postgres://") && !strings.HasPrefix(sf.journal, "postgresql://") {
			return nil, nil, fmt.Errorf("-journal must be a postgres:// URL")
		}
		j, err := pgjournal.Open(ctx, sf.journal, nil)
		if err != nil {
			return nil, nil, err
		}
		a.where = stateFlags{journal: sf.journal}
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
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	a.where = stateFlags{stateDir: abs, indexed: a.remember(abs) == nil}
	return j, func() { _ = j.Close() }, nil
}

// planForRun rebuilds a run's plan from the runbook it recorded (for a
// rehearsal: against the fakes, with its injected failures), for the
// report's budgets and the undo order; nil when that is not possible.
func (a *app) planForRun(ctx context.Context, recs []runbook.Record) *runbook.Plan {
	path := inputValue(recs, inputFile)
	if path == "" {
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
	var reg *provider.Registry
	var err error
	rehearsal := inputValue(recs, inputSandbox) != ""
	if rehearsal {
		start, perr := time.Parse(time.RFC3339Nano, inputValue(recs, inputSandbox))
		if perr != nil {
			return nil
		}
		w, werr := sandbox.ForRunbook(path, start)
		if werr != nil {
			return nil
		}
		for k, v := range w.Vars {
			if _, ok := vars[k]; !ok {
				vars[k] = v
			}
		}
		reg, err = w.Registry()
	} else {
		reg, err = realRegistry()
	}
	if err != nil {
		return nil
	}
	rb, diags := hcl.Load(ctx, path, hcl.Options{Registry: reg, Vars: vars, Environ: a.environ, Version: version})
	if diags.HasErrors() {
		return nil
	}
	defer rb.Close()
	plan := rb.Plan()
	if f := inputValue(recs, inputFail); rehearsal && f != "" {
		if plan, err = sandbox.Fail(plan, strings.Split(f, ",")); err != nil {
			return nil
		}
	}
	return plan
}
