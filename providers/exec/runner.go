package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	osexec "os/exec"
	"sort"
	"time"

	"github.com/handrail-dev/handrail/provider"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrExitStatus is wrapped by the error of a command that exited with
	// a status its step did not expect (see [ExitError]).
	ErrExitStatus = errors.New("exec: unexpected exit status")
	// ErrNotFound is wrapped when the program is not installed.
	ErrNotFound = errors.New("exec: program not found")
	// ErrInvalid is wrapped by errors about bad configuration or
	// arguments.
	ErrInvalid = errors.New("exec: invalid argument")
	// ErrThresholds is wrapped by the error of a k6 run whose thresholds
	// failed.
	ErrThresholds = errors.New("exec: k6 thresholds failed")
)

// ExitError reports a command that exited with an unexpected status.
type ExitError struct {
	Command string
	Status  int
	// Stderr is the end of the command's standard error, redacted.
	Stderr string
}

// Error implements error.
func (e *ExitError) Error() string {
	s := fmt.Sprintf("%s exited with status %d", e.Command, e.Status)
	if e.Status < 0 {
		s = e.Command + " was killed by a signal"
	}
	if e.Stderr != "" {
		s += ": " + e.Stderr
	}
	return s
}

// Unwrap returns ErrExitStatus.
func (e *ExitError) Unwrap() error { return ErrExitStatus }

// Cmd is a local command.
type Cmd struct {
	// Argv is the program and its arguments; the program is looked up in
	// PATH when it has no slash.
	Argv []string
	// Env adds variables to the instance's environment.
	Env map[string]string
	// Dir is the working directory (default: the instance's
	// [Config].Dir, and without one the process's).
	Dir   string
	Stdin io.Reader
}

// Runner is what the actions need: run a command, find a program. The
// real [Instance] runs processes; package execfake fakes them.
type Runner interface {
	provider.Instance
	// Run runs cmd. A non-zero exit is returned as exit with a nil error;
	// err reports failing to start it or ctx ending (the process group is
	// then killed).
	Run(ctx context.Context, cmd Cmd, stdout, stderr io.Writer) (exit int, err error)
	// LookPath finds a program like os/exec.LookPath; the error wraps
	// ErrNotFound.
	LookPath(file string) (string, error)
}

// Config configures an [Instance].
type Config struct {
	// Dir is the default working directory. Empty: Handrail's working
	// directory. A `provider "exec"` block loaded from HCL that leaves dir
	// out gets the runbook file's directory here.
	Dir string
	// Env adds variables to every command.
	Env map[string]string
	// CleanEnv starts commands with only Env (and PATH, HOME) instead of
	// Handrail's whole environment.
	CleanEnv bool
	// KillGrace is the time between SIGTERM and SIGKILL when a command is
	// stopped (default 5s).
	KillGrace time.Duration
}

// Instance is a configured exec provider. It implements [Runner] and
// provider.CommandRunner.
type Instance struct {
	name string
	cfg  Config
}

var (
	_ Runner                 = (*Instance)(nil)
	_ provider.CommandRunner = (*Instance)(nil)
)

// New returns an instance named "exec.<name>".
func New(name string, cfg Config) (*Instance, error) {
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = 5 * time.Second
	}
	if cfg.Dir != "" {
		st, err := os.Stat(cfg.Dir)
		if err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%w: exec.%s: dir %q is not a directory", ErrInvalid, name, cfg.Dir)
		}
	}
	return &Instance{name: "exec." + name, cfg: cfg}, nil
}

// Name returns "exec.<name>".
func (in *Instance) Name() string { return in.name }

// LookPath implements [Runner].
func (in *Instance) LookPath(file string) (string, error) {
	p, err := osexec.LookPath(file)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrNotFound, file, err)
	}
	return p, nil
}

// RunCommand implements provider.CommandRunner.
func (in *Instance) RunCommand(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return in.Run(ctx, Cmd{Argv: argv, Stdin: stdin}, stdout, stderr)
}

// Run implements [Runner]. The command runs in its own process group;
// when ctx ends the group gets SIGTERM, then SIGKILL after the grace.
func (in *Instance) Run(ctx context.Context, c Cmd, stdout, stderr io.Writer) (int, error) {
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return -1, fmt.Errorf("%w: empty command", ErrInvalid)
	}
	cmd := osexec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	if errors.Is(cmd.Err, osexec.ErrNotFound) {
		return -1, fmt.Errorf("%w: %s is not on PATH: %w", ErrNotFound, c.Argv[0], cmd.Err)
	}
	cmd.Dir = c.Dir
	if cmd.Dir == "" {
		cmd.Dir = in.cfg.Dir
	}
	cmd.Env = in.environ(c.Env)
	cmd.Stdin = c.Stdin
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	done := make(chan struct{})
	defer close(done)
	setProcessGroup(cmd, in.cfg.KillGrace, done)
	err := cmd.Run()
	if ctx.Err() != nil {
		return -1, fmt.Errorf("%s: stopped and killed: %w", c.Argv[0], context.Cause(ctx))
	}
	var ee *osexec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		if errors.Is(err, osexec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return -1, fmt.Errorf("%w: %s: %w", ErrNotFound, c.Argv[0], err)
		}
		return -1, fmt.Errorf("%s: %w", c.Argv[0], err)
	}
	return 0, nil
}

func (in *Instance) environ(extra map[string]string) []string {
	var base []string
	if in.cfg.CleanEnv {
		for _, k := range []string{"PATH", "HOME"} {
			if v, ok := os.LookupEnv(k); ok {
				base = append(base, k+"="+v)
			}
		}
	} else {
		base = os.Environ()
	}
	add := maps.Clone(in.cfg.Env)
	if add == nil {
		add = map[string]string{}
	}
	maps.Copy(add, extra)
	keys := make([]string, 0, len(add))
	for k := range add {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		base = append(base, k+"="+add[k])
	}
	return base
}
