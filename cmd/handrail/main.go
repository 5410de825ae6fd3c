// Command handrail plans, runs, resumes, rolls back and reports deployment
// runbooks written in HCL.
//
// Usage:
//
//	handrail validate FILE|DIR
//	handrail plan FILE [-var k=v]... [-var-file F]... [-json]
//	handrail apply FILE [-var k=v]... [-auto-approve] [-parallelism N] [-state-dir D | -journal postgres://...] [-json]
//	handrail apply --sandbox FILE [--fail NAME]...
//	handrail resume RUN | rollback RUN | runs [-json] | show RUN
//	handrail graph FILE [-format dot|mermaid]
//	handrail fmt [-check] FILE|DIR
//	handrail test [PATH] | test -init FILE
//	handrail report RUN -o report.html
//	handrail apply FILE -ui 127.0.0.1:8080 [-ui-users FILE] [-ui-links]
//	handrail serve [-state-dir D | -journal postgres://...] [-addr 127.0.0.1:8080] [-users FILE]
//	handrail import FILE.md [-o FILE.hcl]
//	handrail doc FILE.hcl [-o FILE.md]
//	handrail unlock RUNBOOK [-force]
//	handrail version
//
// Exit codes: 0 succeeded; 1 invalid input or usage; 2 failed and fully
// rolled back (or aborted with nothing left to undo); 3 needs a person
// (rollback incomplete, halted at the point of no return, paused,
// interrupted, lock held or lost).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// Exit codes.
const (
	exitOK       = 0
	exitInvalid  = 1
	exitRolled   = 2
	exitPerson   = 3
	exitInternal = 1
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	var heapFor func(sourceBytes int64)
	if os.Getenv("GOGC") == "" {
		// Compiling a 10,000-step runbook spends a quarter of its CPU in the
		// garbage collector at the default; the CLI is short-lived.
		debug.SetGCPercent(400)
		if os.Getenv("GOMEMLIMIT") == "" {
			heapFor = limitHeapForSource
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	app := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ(), signals: sigs, exit: os.Exit, heapFor: heapFor}
	os.Exit(app.run(ctx, os.Args[1:]))
}

// app is one invocation of the CLI; tests build it with their own streams.
type app struct {
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	environ []string
	signals <-chan os.Signal
	// isTTY overrides terminal detection in tests.
	isTTY *bool
	// where selects the journal of the run at hand, for printed hints
	// (set when a journal is opened).
	where stateFlags
	// exit ends the process (os.Exit) when a command does not stop after
	// Ctrl-C; nil in tests.
	exit func(code int)
	// jsonEvents is set when the run's events go to stdout as JSON lines:
	// its outputs follow as one more line.
	jsonEvents bool
	// closers run when the command is done (flushing a trace).
	closers []func()
	// heapFor is told the size of each runbook before it is loaded
	// (limitHeapForSource); nil in tests and when GOGC or GOMEMLIMIT is set.
	heapFor func(sourceBytes int64)
}

const usage = `Usage: handrail <command> [arguments]

Commands:
  validate FILE|DIR        check runbooks; diagnostics with file, line and snippet
  plan FILE                show the ordered plan with budgets, rollbacks and the point of no return
  apply FILE               run a runbook (apply --sandbox FILE rehearses it against fakes)
  resume RUN               continue a stopped run from its journal
  rollback RUN             compensate what a run left done, from its journal
  runs                     list runs in the state directory or journal
  show RUN                 show one run: status, timings, what is left to undo (-gate NAME: why a gate decided)
  gate eval RUN GATE       re-evaluate a recorded gate decision under changed conditions or limits
  gate backtest FILE       replay a gate over Prometheus history; false-abort and missed-regression rates
  graph FILE               Graphviz DOT (or -format mermaid) of the plan
  fmt [-check] FILE|DIR    rewrite runbooks in canonical format
  test [PATH]              run *.test.hcl scenarios (test -init FILE writes one with a world skeleton)
  report RUN -o FILE       write a self-contained HTML report of a run
  serve                    serve the runs of a state directory or journal in the browser
  import FILE.md           turn a Markdown runbook into a runbook skeleton (FILE.hcl + .auto.hclvars)
  doc FILE [-o FILE.md]    render a runbook as a Markdown document
  unlock RUNBOOK           break a run lock left by a lost machine (-force if its holder still runs here)
  providers [NAME]         every provider, action and probe: arguments, outputs, rollback
  version                  print the version

Run 'handrail <command> -h' for a command's flags.
Exit codes: 0 ok, 1 invalid input or usage, 2 failed and rolled back, 3 needs a person.
`

func (a *app) run(ctx context.Context, args []string) int {
	defer func() {
		for _, c := range a.closers {
			c()
		}
	}()
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return exitInvalid
	}
	cmd, rest := args[0], args[1:]
	if !runsItsOwnSignals(cmd) {
		return a.withSignals(ctx, func(ctx context.Context) int { return a.dispatch(ctx, cmd, rest) })
	}
	return a.dispatch(ctx, cmd, rest)
}

// dispatch runs one command.
func (a *app) dispatch(ctx context.Context, cmd string, rest []string) int {
	switch cmd {
	case "validate":
		return a.cmdValidate(ctx, rest)
	case "plan":
		return a.cmdPlan(ctx, rest)
	case "apply":
		return a.cmdApply(ctx, rest)
	case "resume":
		return a.cmdResume(ctx, rest, "resume")
	case "rollback":
		return a.cmdResume(ctx, rest, "rollback")
	case "runs":
		return a.cmdRuns(ctx, rest)
	case "show":
		return a.cmdShow(ctx, rest)
	case "gate":
		return a.cmdGate(ctx, rest)
	case "graph":
		return a.cmdGraph(ctx, rest)
	case "fmt":
		return a.cmdFmt(ctx, rest)
	case "test":
		return a.cmdTest(ctx, rest)
	case "report":
		return a.cmdReport(ctx, rest)
	case "serve":
		return a.cmdServe(ctx, rest)
	case "import":
		return a.cmdImport(ctx, rest)
	case "doc":
		return a.cmdDoc(ctx, rest)
	case "providers":
		return a.cmdProviders(ctx, rest)
	case "unlock":
		return a.cmdUnlock(ctx, rest)
	case "version", "-version", "--version", "-v":
		fmt.Fprintf(a.stdout, "handrail %s\n", version)
		return exitOK
	case "help", "-h", "--help", "-help":
		fmt.Fprint(a.stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(a.stderr, "handrail: unknown command %q.\n\n%s", cmd, usage)
		return exitInvalid
	}
}

func (a *app) errorf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "Error: "+format+"\n", args...)
}
