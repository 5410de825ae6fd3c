package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// DefaultOutputLimit is how many bytes of stdout and of stderr an [Exec]
// action keeps in its outputs unless [OutputLimit] says otherwise.
const DefaultOutputLimit = 64 << 10

// ExitError is the error of a command that ran and exited with a non-zero
// status (or was killed by a signal, with Code -1). Match it with
// [errors.As].
type ExitError struct {
	// Command is the program that ran.
	Command string
	// Code is the exit status, -1 when the process was killed by a signal.
	Code int
	// Stderr is the end of what the command wrote to stderr.
	Stderr string
}

// Error implements error.
func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited with status %d", e.Command, e.Code)
	if e.Code < 0 {
		msg = fmt.Sprintf("%s was killed", e.Command)
	}
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// ExecAction runs a local command. It is both a [runbook.Action] and a
// [runbook.Rollback], so that a command can undo a step: the same [Exec]
// or [Shell] goes in a step's Action or in its Rollbacks.
//
// Its outputs are "stdout" and "stderr" (each capped to the output limit,
// keeping the end) and "exit_code". Each line the command writes is also
// reported as it comes with env.Line("stdout"|"stderr", line), redacted.
type ExecAction struct {
	argv      []string
	shell     bool
	dir       string
	env       []string
	secretEnv map[string]runbook.Secret
	inherit   bool
	limit     int
	readOnly  bool
	killGrace time.Duration
	summary   string
}

var (
	_ runbook.Action    = (*ExecAction)(nil)
	_ runbook.Rollback  = (*ExecAction)(nil)
	_ runbook.ReadOnly  = (*ExecAction)(nil)
	_ runbook.Describer = (*ExecAction)(nil)
)

// ExecOption configures an [ExecAction].
type ExecOption func(*ExecAction)

// Dir runs the command in dir.
func Dir(dir string) ExecOption { return func(a *ExecAction) { a.dir = dir } }

// Env adds environment variables ("KEY=value") to the command's
// environment.
func Env(kv ...string) ExecOption { return func(a *ExecAction) { a.env = append(a.env, kv...) } }

// SecretEnv passes a sensitive value in the command's environment. It is
// registered with the run's redactor when the command starts, so that it
// never shows in output lines, events or errors.
func SecretEnv(key string, value runbook.Secret) ExecOption {
	return func(a *ExecAction) {
		if a.secretEnv == nil {
			a.secretEnv = map[string]runbook.Secret{}
		}
		a.secretEnv[key] = value
	}
}

// CleanEnv starts the command with only the variables given by [Env] and
// [SecretEnv] (plus PATH), instead of inheriting the process's environment.
func CleanEnv() ExecOption { return func(a *ExecAction) { a.inherit = false } }

// OutputLimit caps how many bytes of stdout and of stderr are kept in the
// outputs (the end is kept). Lines are still streamed in full.
func OutputLimit(n int) ExecOption { return func(a *ExecAction) { a.limit = n } }

// ReadOnly marks the command as changing nothing (a query, a health check),
// so that its step needs neither a rollback nor Irreversible.
func ReadOnly() ExecOption { return func(a *ExecAction) { a.readOnly = true } }

// KillGrace is how long a cancelled command's process group has between
// SIGTERM and SIGKILL (default 5s, wall time).
func KillGrace(d time.Duration) ExecOption { return func(a *ExecAction) { a.killGrace = d } }

// Summary replaces the command line in the action's description (for
// commands whose arguments are long or should not be shown).
func Summary(s string) ExecOption { return func(a *ExecAction) { a.summary = s } }

// Exec returns an action that runs argv[0] with the arguments argv[1:],
// without a shell. It fails (permanently) at run time when argv is empty.
// The same call undoes a step with a command: put it in the step's
// Rollbacks.
func Exec(argv []string, opts ...ExecOption) *ExecAction {
	a := &ExecAction{argv: append([]string(nil), argv...), inherit: true, limit: DefaultOutputLimit, killGrace: 5 * time.Second}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Shell returns an action that runs script with /bin/sh -c. Prefer [Exec]:
// use a shell only when the command needs one (pipes, redirections).
func Shell(script string, opts ...ExecOption) *ExecAction {
	a := Exec([]string{"/bin/sh", "-c", script}, opts...)
	a.shell = true
	return a
}

// ReadOnly reports whether the command was marked read-only.
func (a *ExecAction) ReadOnly() bool { return a.readOnly }

// Describe says what the action runs.
func (a *ExecAction) Describe() runbook.Description {
	s := a.summary
	if s == "" {
		if a.shell {
			s = a.argv[2]
		} else {
			s = strings.Join(a.argv, " ")
		}
	}
	act := "exec"
	if a.shell {
		act = "shell"
	}
	return runbook.Description{Provider: "local", Action: act, Summary: s}
}

// Compensate runs the command as a rollback.
func (a *ExecAction) Compensate(ctx context.Context, env *runbook.Env) error {
	_, err := a.Do(ctx, env)
	return err
}

// Do runs the command and waits for it. When ctx ends, the command's whole
// process group gets SIGTERM, then SIGKILL after the grace period.
func (a *ExecAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	if len(a.argv) == 0 || a.argv[0] == "" {
		return nil, runbook.Permanent(errors.New("exec: empty command: give at least the program to run"))
	}
	cmd := exec.CommandContext(ctx, a.argv[0], a.argv[1:]...)
	cmd.Dir = a.dir
	if a.inherit {
		cmd.Env = os.Environ()
	} else if p, ok := os.LookupEnv("PATH"); ok {
		cmd.Env = []string{"PATH=" + p}
	}
	cmd.Env = append(cmd.Env, a.env...)
	for k, v := range a.secretEnv {
		env.AddSecret(v.Reveal())
		cmd.Env = append(cmd.Env, k+"="+v.Reveal())
	}
	done := make(chan struct{})
	setProcessGroup(cmd, a.killGrace, done)
	stdout := newStream(env, "stdout", a.limit)
	stderr := newStream(env, "stderr", a.limit)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	close(done)
	stdout.flush()
	stderr.flush()
	// ExitCode is -1 when the process did not start or was killed.
	out := runbook.Outputs{"stdout": stdout.String(), "stderr": stderr.String(), "exit_code": cmd.ProcessState.ExitCode()}
	if err == nil {
		return out, nil
	}
	if ctx.Err() != nil {
		return out, fmt.Errorf("exec %s: %w", a.argv[0], context.Cause(ctx))
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out, &ExitError{Command: a.argv[0], Code: ee.ExitCode(), Stderr: env.Redact(lastLine(stderr.String()))}
	}
	// The program could not start: retrying will not help.
	return out, runbook.Permanent(fmt.Errorf("exec %s: %w", a.argv[0], err))
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	const max = 512
	if len(s) > max {
		s = s[len(s)-max:]
	}
	return s
}

// stream splits a command's output into lines reported through env.Line
// and keeps the last limit bytes.
type stream struct {
	mu      sync.Mutex
	env     *runbook.Env
	name    string
	limit   int
	kept    []byte
	partial []byte
	dropped bool
}

func newStream(env *runbook.Env, name string, limit int) *stream {
	return &stream{env: env, name: name, limit: limit}
}

func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kept = append(s.kept, p...)
	if s.limit > 0 && len(s.kept) > s.limit {
		s.kept = append(s.kept[:0], s.kept[len(s.kept)-s.limit:]...)
		s.dropped = true
	}
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.env.Line(s.name, string(bytes.TrimRight(s.partial[:i], "\r")))
		s.partial = s.partial[i+1:]
	}
	// A line longer than the limit is reported in pieces.
	if s.limit > 0 && len(s.partial) > s.limit {
		s.env.Line(s.name, string(s.partial))
		s.partial = s.partial[:0]
	}
	return len(p), nil
}

func (s *stream) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.env.Line(s.name, string(s.partial))
		s.partial = nil
	}
}

// String returns the kept output.
func (s *stream) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.kept)
}
