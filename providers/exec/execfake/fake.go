// Package execfake is an in-memory stand-in for Handrail's exec provider:
// a [World] where local commands are logged and answered by scripted
// replies (by argv pattern), programs can be missing, and k6 runs produce
// a scripted summary. Runbook tests and the sandbox use it instead of
// running processes.
package execfake

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/providers/exec"
	"github.com/zclconf/go-cty/cty"
)

// World is a fake local machine. Create it with [New]; it is safe for
// concurrent use.
type World struct {
	mu      sync.Mutex
	replies []*Reply
	calls   []Call
	missing map[string]bool
	strict  bool
	faults  fault.Injector
	// write, if set, receives the files scripted replies write (see
	// WriteFiles).
	write func(name string, data []byte) error
}

// WriteFiles makes the files that scripted replies write go to write
// instead of the machine's disk (a sandbox's fake disk keeps them): the
// summary [World.OnK6] writes for a `k6 run --summary-export FILE` that a
// local_exec step runs. The summary of a k6_run step, in the step's own
// temporary directory (see exec.K6ScratchPrefix), which the step reads
// back and removes, is still written there.
func (w *World) WriteFiles(write func(name string, data []byte) error) *World {
	w.mu.Lock()
	w.write = write
	w.mu.Unlock()
	return w
}

// writeFile writes a file a scripted command creates; a relative name is
// taken from the command's directory.
func (w *World) writeFile(c Call, name string, data []byte) error {
	if !filepath.IsAbs(name) && c.Dir != "" {
		name = filepath.Join(c.Dir, name)
	}
	w.mu.Lock()
	write := w.write
	w.mu.Unlock()
	if write == nil || isK6Scratch(name) {
		return os.WriteFile(name, data, 0o600)
	}
	return write(name, data)
}

// isK6Scratch reports whether name is the summary file in a k6_run step's
// own temporary directory.
func isK6Scratch(name string) bool {
	dir := filepath.Dir(name)
	return filepath.Base(name) == "summary.json" && filepath.Dir(dir) == filepath.Clean(os.TempDir()) &&
		strings.HasPrefix(filepath.Base(dir), exec.K6ScratchPrefix)
}

// Faults returns the world's fault injector. Every command goes through
// it, named by its program's base name ("deploy" for /opt/bin/deploy): arm
// a fault to make one fail to run, run it and lose its answer, or make it
// take time on the run's clock (see package fault).
func (w *World) Faults() *fault.Injector { return &w.faults }

// New returns a world where every program exists and succeeds silently
// unless scripted.
func New() *World { return &World{missing: map[string]bool{}} }

// Strict makes unscripted commands fail with status 127.
func (w *World) Strict() *World {
	w.mu.Lock()
	w.strict = true
	w.mu.Unlock()
	return w
}

// Missing makes programs absent: LookPath fails and running them fails
// with exec.ErrNotFound.
func (w *World) Missing(programs ...string) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range programs {
		w.missing[p] = true
	}
	return w
}

// Call is one logged command.
type Call struct {
	Argv []string
	Env  map[string]string
	// Dir is the command's working directory: its own, else the
	// instance's configured one ("" for the process's).
	Dir   string
	Stdin string
	Exit  int
	Err   error
}

// Command returns the argv joined with spaces.
func (c Call) Command() string { return strings.Join(c.Argv, " ") }

// Reply scripts the answer to matching commands; see [World.On].
type Reply struct {
	argv    []string
	stdout  string
	stderr  string
	exit    int
	err     error
	hang    bool
	times   int
	matched int
	do      func(c Call) error
}

// On scripts commands whose argv matches pattern element by element (each
// a path.Match glob; a last "..." matches the rest). The program matches
// by its base name too ("k6" matches "/usr/bin/k6"). Later replies win.
func (w *World) On(pattern ...string) *Reply {
	r := &Reply{argv: pattern}
	w.mu.Lock()
	w.replies = append(w.replies, r)
	w.mu.Unlock()
	return r
}

// Stdout sets the standard output.
func (r *Reply) Stdout(s string) *Reply { r.stdout = s; return r }

// Stderr sets the standard error.
func (r *Reply) Stderr(s string) *Reply { r.stderr = s; return r }

// Exit sets the exit status.
func (r *Reply) Exit(code int) *Reply { r.exit = code; return r }

// Fail makes the command fail to run.
func (r *Reply) Fail(err error) *Reply { r.err = err; return r }

// Hang makes the command run until its context ends.
func (r *Reply) Hang() *Reply { r.hang = true; return r }

// Times limits the reply to the first n matching commands.
func (r *Reply) Times(n int) *Reply { r.times = n; return r }

// Do runs f when the command runs (before its output is written); an
// error fails the command.
func (r *Reply) Do(f func(c Call) error) *Reply { r.do = f; return r }

// OnK6 scripts `k6 run`: it writes summary (a --summary-export JSON
// document) to the file the step asked for — on the machine's disk, or
// through [World.WriteFiles] — and exits with exit (k6 uses 99 when
// thresholds failed).
func (w *World) OnK6(summary string, exit int) *Reply {
	return w.On("k6", "run", "...").Exit(exit).Do(func(c Call) error {
		for i, a := range c.Argv {
			if a == "--summary-export" && i+1 < len(c.Argv) {
				return w.writeFile(c, c.Argv[i+1], []byte(summary))
			}
			if v, ok := strings.CutPrefix(a, "--summary-export="); ok {
				return w.writeFile(c, v, []byte(summary))
			}
		}
		return nil
	})
}

func (r *Reply) matches(argv []string) bool {
	if r.times > 0 && r.matched >= r.times {
		return false
	}
	for i, p := range r.argv {
		if p == "..." && i == len(r.argv)-1 {
			return true
		}
		if i >= len(argv) {
			return false
		}
		a := argv[i]
		ok, _ := path.Match(p, a)
		if !ok && p != a && !(i == 0 && p == path.Base(a)) {
			return false
		}
	}
	return len(argv) == len(r.argv)
}

// Calls returns the logged commands in order.
func (w *World) Calls() []Call {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Call(nil), w.calls...)
}

// Commands returns the logged commands as strings.
func (w *World) Commands() []string {
	var out []string
	for _, c := range w.Calls() {
		out = append(out, c.Command())
	}
	return out
}

// Provider returns an "exec" provider whose instances act on this world,
// with the real provider's schema and actions.
func (w *World) Provider() provider.Provider { return fakeProvider{w: w} }

type fakeProvider struct{ w *World }

func (fakeProvider) Type() string                            { return "exec" }
func (fakeProvider) ConfigSchema() provider.Schema           { return exec.ConfigSchema() }
func (fakeProvider) Actions() map[string]provider.ActionType { return exec.Actions() }

func (p fakeProvider) Configure(_ context.Context, name string, config cty.Value) (provider.Instance, error) {
	cfg, err := exec.DecodeConfig(name, config)
	if err != nil {
		return nil, err
	}
	in := p.w.Instance(name)
	in.dir = cfg.Dir
	return in, nil
}

// Instance returns an instance named "exec.<name>".
func (w *World) Instance(name string) *Instance { return &Instance{w: w, name: "exec." + name} }

// Instance is a configured fake. It implements exec.Runner and
// provider.CommandRunner.
type Instance struct {
	w    *World
	name string
	// dir is the configured default working directory (the provider
	// block's dir, or the runbook file's directory), as exec.Config.Dir.
	dir string
}

var (
	_ exec.Runner            = (*Instance)(nil)
	_ provider.CommandRunner = (*Instance)(nil)
)

// Name returns "exec.<name>".
func (in *Instance) Name() string { return in.name }

// LookPath implements exec.Runner: every program exists unless Missing.
func (in *Instance) LookPath(file string) (string, error) {
	in.w.mu.Lock()
	defer in.w.mu.Unlock()
	if in.w.missing[file] || in.w.missing[path.Base(file)] {
		return "", fmt.Errorf("%w: %s: executable file not found in $PATH (execfake)", exec.ErrNotFound, file)
	}
	return file, nil
}

// RunCommand implements provider.CommandRunner.
func (in *Instance) RunCommand(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return in.Run(ctx, exec.Cmd{Argv: argv, Stdin: stdin}, stdout, stderr)
}

// Run implements exec.Runner.
func (in *Instance) Run(ctx context.Context, cmd exec.Cmd, stdout, stderr io.Writer) (int, error) {
	w := in.w
	c := Call{Argv: append([]string(nil), cmd.Argv...), Env: cmd.Env, Dir: cmd.Dir}
	if c.Dir == "" {
		c.Dir = in.dir
	}
	if cmd.Stdin != nil {
		b, err := io.ReadAll(cmd.Stdin)
		if err != nil {
			return -1, err
		}
		c.Stdin = string(b)
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	if len(cmd.Argv) == 0 {
		return -1, fmt.Errorf("%w: empty command", exec.ErrInvalid)
	}
	if _, err := in.LookPath(cmd.Argv[0]); err != nil {
		c.Err, c.Exit = err, -1
		w.log(c)
		return -1, err
	}
	w.mu.Lock()
	var r *Reply
	for i := len(w.replies) - 1; i >= 0; i-- {
		if w.replies[i].matches(cmd.Argv) {
			r = w.replies[i]
			r.matched++
			break
		}
	}
	strict := w.strict
	w.mu.Unlock()
	var exit int
	var runErr error
	ran := false
	err := w.faults.Do(ctx, path.Base(cmd.Argv[0]), func() error {
		ran = true
		exit, runErr = in.reply(ctx, r, strict, cmd, &c, stdout, stderr)
		return runErr
	})
	if err != nil && runErr == nil {
		// An injected fault: the command did not run, or its answer is
		// lost (it was logged as it ran).
		if !ran {
			c.Err, c.Exit = err, -1
			w.log(c)
		}
		return -1, err
	}
	return exit, runErr
}

// reply answers cmd as r scripts it, logging the call.
func (in *Instance) reply(ctx context.Context, r *Reply, strict bool, cmd exec.Cmd, c *Call, stdout, stderr io.Writer) (int, error) {
	w := in.w
	switch {
	case r == nil && strict:
		fmt.Fprintf(stderr, "%s: command not found\n", cmd.Argv[0])
		c.Exit = 127
	case r == nil:
	case r.hang:
		<-ctx.Done()
		c.Err, c.Exit = ctx.Err(), -1
		w.log(*c)
		return -1, fmt.Errorf("%s: stopped and killed: %w", cmd.Argv[0], context.Cause(ctx))
	case r.err != nil:
		c.Err, c.Exit = r.err, -1
		w.log(*c)
		return -1, r.err
	default:
		if r.do != nil {
			if err := r.do(*c); err != nil {
				c.Err, c.Exit = err, -1
				w.log(*c)
				return -1, err
			}
		}
		_, _ = io.WriteString(stdout, r.stdout)
		_, _ = io.WriteString(stderr, r.stderr)
		c.Exit = r.exit
	}
	w.log(*c)
	return c.Exit, nil
}

func (w *World) log(c Call) {
	w.mu.Lock()
	w.calls = append(w.calls, c)
	w.mu.Unlock()
}
