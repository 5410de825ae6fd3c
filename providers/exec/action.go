package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/provider/cmdout"
	"github.com/handrail-dev/handrail/runbook"
)

// DefaultOutputLimit caps each captured stream when OutputLimit is not
// set (1 MiB).
const DefaultOutputLimit = cmdout.DefaultLimit

// RunOptions are the arguments of a local_exec step.
type RunOptions struct {
	// Command is the argv: no shell, unless argv starts one.
	Command []string
	Env     map[string]string
	// Dir is the working directory (default: the instance's, see
	// [Config].Dir).
	Dir   string
	Stdin string
	// Timeout bounds the command (0: only the step's timeout); the process
	// group is killed when it passes.
	Timeout time.Duration
	// ExpectedExitCodes count as success (default [0]).
	ExpectedExitCodes []int
	// OutputLimit caps each captured stream (default 1 MiB).
	OutputLimit int
	// ParseJSON parses stdout into the "json" output.
	ParseJSON bool
	// ReadOnly declares the command changes nothing.
	ReadOnly bool
	// RollbackCommand undoes the command: the step's natural rollback
	// (`npm run migrate:down` for `npm run migrate:up`). It must be
	// idempotent: it runs after a command whose answer was lost too.
	RollbackCommand []string
}

// Run is the local_exec action. It is also a runbook.Rollback, so that a
// command can be another step's explicit rollback.
type Run struct {
	r    Runner
	opts RunOptions
}

// NewRun returns a local_exec action after checking opts.
func NewRun(r Runner, opts RunOptions) (*Run, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: local_exec needs a provider instance (provider = exec.<name>)", ErrInvalid)
	}
	if len(opts.Command) == 0 || opts.Command[0] == "" {
		return nil, fmt.Errorf("%w: %s local_exec: command is required (argv, e.g. [\"npm\", \"run\", \"migrate:up\"])", ErrInvalid, r.Name())
	}
	if len(opts.RollbackCommand) > 0 && opts.RollbackCommand[0] == "" {
		return nil, fmt.Errorf("%w: %s local_exec: rollback_command has an empty program", ErrInvalid, r.Name())
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("%w: %s local_exec: timeout must not be negative", ErrInvalid, r.Name())
	}
	if len(opts.ExpectedExitCodes) == 0 {
		opts.ExpectedExitCodes = []int{0}
	}
	return &Run{r: r, opts: opts}, nil
}

// Describe implements runbook.Describer.
func (a *Run) Describe() runbook.Description {
	return runbook.Description{Provider: a.r.Name(), Action: "local_exec"}
}

// ReadOnly implements runbook.ReadOnly.
func (a *Run) ReadOnly() bool { return a.opts.ReadOnly }

// NaturalRollback implements runbook.NaturalRollback: the rollback command,
// or nil.
func (a *Run) NaturalRollback() runbook.Rollback {
	if len(a.opts.RollbackCommand) == 0 {
		return nil
	}
	o := a.opts
	o.Command, o.RollbackCommand = o.RollbackCommand, nil
	o.ExpectedExitCodes, o.ParseJSON, o.Stdin = []int{0}, false, ""
	return &Run{r: a.r, opts: o}
}

// Compensate implements runbook.Rollback.
func (a *Run) Compensate(ctx context.Context, env *runbook.Env) error {
	_, err := a.Do(ctx, env)
	return err
}

// Do implements runbook.Action. A command with a rollback command first
// checkpoints that it is about to run (once: not again on a retry), so that
// if its answer is lost or the process dies before its end is recorded,
// the rollback command still runs — from the journal alone, in a later
// process. The rollback command must therefore be idempotent: it may run
// after a command that did not take effect, or twice.
func (a *Run) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	if len(a.opts.RollbackCommand) > 0 && env != nil && env.Checkpointed() == nil {
		if err := env.Checkpoint(ctx, runbook.Outputs{"started_at": env.Clock().Now().UTC().Format(time.RFC3339Nano)}); err != nil {
			return nil, runbook.Permanent(fmt.Errorf("local_exec: recording the command before running it: %w", err))
		}
	}
	res, err := run(ctx, env, a.r, Cmd{Argv: a.opts.Command, Env: a.opts.Env, Dir: a.opts.Dir}, a.opts.Stdin, a.opts.Timeout, a.opts.OutputLimit)
	if err != nil {
		return nil, err
	}
	out := res.outputs()
	if !slices.Contains(a.opts.ExpectedExitCodes, res.exit) {
		return out, &ExitError{Command: env.Redact(strings.Join(a.opts.Command, " ")), Status: res.exit, Stderr: env.Redact(cmdout.Tail(res.stderr, 512))}
	}
	if a.opts.ParseJSON {
		var v any
		if err := json.Unmarshal([]byte(res.stdout), &v); err != nil {
			return out, fmt.Errorf("%s: parse_json: stdout is not JSON: %w", env.Redact(a.opts.Command[0]), err)
		}
		out["json"] = v
	}
	return out, nil
}

// result is a finished command.
type result struct {
	stdout, stderr string
	exit           int
	truncated      bool
	duration       time.Duration
}

func (r result) outputs() runbook.Outputs {
	out := runbook.Outputs{
		"stdout":       r.stdout,
		"stderr":       r.stderr,
		"exit_code":    r.exit,
		"stdout_lines": toAny(cmdout.Lines(r.stdout)),
		"duration_ms":  r.duration.Milliseconds(),
	}
	if r.truncated {
		out["truncated"] = true
	}
	return out
}

// run runs a command with a timeout on the env's clock, streaming its
// lines to the run's events.
func run(ctx context.Context, env *runbook.Env, r Runner, cmd Cmd, stdin string, timeout time.Duration, limit int) (result, error) {
	stdout := cmdout.NewCapture(limit, func(l string) { env.Line("stdout", l) })
	stderr := cmdout.NewCapture(limit, func(l string) { env.Line("stderr", l) })
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	start := env.Clock().Now()
	rctx, cancel := runbook.ClockTimeout(ctx, env.Clock(), timeout)
	exit, err := r.Run(rctx, cmd, stdout, stderr)
	cause := context.Cause(rctx)
	cancel()
	stdout.Flush()
	stderr.Flush()
	if err != nil {
		if errors.Is(cause, runbook.ErrTimeout) && ctx.Err() == nil {
			err = fmt.Errorf("%w after %s: %w", runbook.ErrTimeout, timeout, err)
		}
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
			err = runbook.Permanent(err)
		}
		return result{}, fmt.Errorf("%s: %w", r.Name(), err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), exit: exit,
		truncated: stdout.Truncated() || stderr.Truncated(), duration: env.Clock().Now().Sub(start)}, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
