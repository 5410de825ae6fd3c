package ssh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/provider/cmdout"
	"github.com/handrail-dev/handrail/runbook"
)

// DefaultOutputLimit caps each captured stream when OutputLimit is not
// set (1 MiB).
const DefaultOutputLimit = cmdout.DefaultLimit

// HostEnvVar is set to the host entry in the environment of each command
// of a fan-out (and of its compensation).
const HostEnvVar = "HANDRAIL_HOST"

// DefaultMaxParallel bounds a fan-out when max_parallel is not given.
const DefaultMaxParallel = 10

// ExecOptions are the arguments of an ssh_exec step.
type ExecOptions struct {
	// Command is the argv (the default form): each argument is quoted, so
	// "; rm -rf /" or "$(reboot)" arrive as literal arguments.
	Command []string
	// Script is a shell script, for deliberate shell syntax (pipes,
	// redirections). Exclusive with Command.
	Script string
	// Sudo runs through `sudo -n`.
	Sudo bool
	// Stdin is fed to the command.
	Stdin string
	// Env adds environment variables.
	Env map[string]string
	// Dir is the working directory.
	Dir string
	// Timeout bounds the command on each host (0: only the step's
	// timeout). When it passes, the remote process group is killed.
	Timeout time.Duration
	// ExpectedExitCodes are the statuses that count as success (default
	// [0]).
	ExpectedExitCodes []int
	// OutputLimit caps each captured stream, in bytes (default 1 MiB).
	OutputLimit int
	// ParseJSON parses stdout as JSON into the "json" output; invalid JSON
	// fails the step.
	ParseJSON bool
	// ReadOnly declares that the command changes nothing (a check): the
	// step then needs no rollback.
	ReadOnly bool

	// Hosts fans the step out over these hosts (names or addresses,
	// optionally user@host:port), with the instance's credentials. Empty:
	// the instance's host.
	Hosts []string
	// MaxParallel bounds the hosts running at once (default 10).
	MaxParallel int
	// MaxFailPercentage is the share of hosts (0-100) allowed to fail
	// without failing the batch (default 0: any failure fails it).
	MaxFailPercentage float64
	// RollbackCommand (argv) or RollbackScript undoes the command on a
	// host. It is the step's natural rollback (run on every host that
	// succeeded), and what a failing batch runs on its successful hosts
	// before reporting the failure. It runs with the same sudo, env and
	// dir.
	RollbackCommand []string
	RollbackScript  string
}

// Exec is the ssh_exec action. It implements runbook.Action,
// runbook.Rollback (so that it can be an explicit rollback), ReadOnly,
// NaturalRollback and Describer.
type Exec struct {
	c    Client
	opts ExecOptions
}

// NewExec returns an ssh_exec action on c after checking opts.
func NewExec(c Client, opts ExecOptions) (*Exec, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: ssh_exec needs a provider instance (provider = ssh.<name>)", ErrInvalidConfig)
	}
	cmd := Command{Argv: opts.Command, Script: opts.Script, Env: opts.Env, Dir: opts.Dir}
	if err := cmd.validate(); err != nil {
		return nil, fmt.Errorf("%s ssh_exec: %w", c.Name(), err)
	}
	if len(opts.RollbackCommand) > 0 || opts.RollbackScript != "" {
		rb := Command{Argv: opts.RollbackCommand, Script: opts.RollbackScript}
		if err := rb.validate(); err != nil {
			return nil, fmt.Errorf("%s ssh_exec: rollback: %w", c.Name(), err)
		}
	}
	if opts.MaxParallel < 0 {
		return nil, fmt.Errorf("%w: %s ssh_exec: max_parallel must be positive, got %d", ErrInvalidConfig, c.Name(), opts.MaxParallel)
	}
	if opts.MaxFailPercentage < 0 || opts.MaxFailPercentage > 100 {
		return nil, fmt.Errorf("%w: %s ssh_exec: max_fail_percentage must be between 0 and 100, got %g", ErrInvalidConfig, c.Name(), opts.MaxFailPercentage)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("%w: %s ssh_exec: timeout must not be negative", ErrInvalidConfig, c.Name())
	}
	seen := map[string]bool{}
	for _, h := range opts.Hosts {
		if strings.TrimSpace(h) == "" {
			return nil, fmt.Errorf("%w: %s ssh_exec: hosts has an empty entry", ErrInvalidConfig, c.Name())
		}
		if seen[h] {
			return nil, fmt.Errorf("%w: %s ssh_exec: host %q is listed twice in hosts", ErrInvalidConfig, c.Name(), h)
		}
		seen[h] = true
	}
	if len(opts.ExpectedExitCodes) == 0 {
		opts.ExpectedExitCodes = []int{0}
	}
	return &Exec{c: c, opts: opts}, nil
}

// Describe implements runbook.Describer.
func (e *Exec) Describe() runbook.Description {
	return runbook.Description{Provider: e.c.Name(), Action: "ssh_exec"}
}

// ReadOnly implements runbook.ReadOnly.
func (e *Exec) ReadOnly() bool { return e.opts.ReadOnly }

// NaturalRollback implements runbook.NaturalRollback: the rollback command
// on the host, or on every host the fan-out succeeded on (read from the
// step's outputs); nil when there is no rollback command.
func (e *Exec) NaturalRollback() runbook.Rollback {
	undo := e.undo()
	if undo == nil {
		return nil
	}
	return runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
		hosts, ok := succeededHosts(env.Self())
		switch {
		case ok:
		case len(undo.opts.Hosts) > 0:
			// No outputs (a step in doubt): undo everywhere.
			hosts = undo.opts.Hosts
		default:
			_, err := undo.runOne(ctx, env, "", false)
			return err
		}
		return undo.onHosts(ctx, env, hosts)
	})
}

// undo returns the rollback command as an Exec, or nil.
func (e *Exec) undo() *Exec {
	if len(e.opts.RollbackCommand) == 0 && e.opts.RollbackScript == "" {
		return nil
	}
	o := e.opts
	o.Command, o.Script = o.RollbackCommand, o.RollbackScript
	o.RollbackCommand, o.RollbackScript = nil, ""
	o.ExpectedExitCodes = []int{0}
	o.ParseJSON, o.Stdin, o.ReadOnly = false, "", false
	return &Exec{c: e.c, opts: o}
}

func (e *Exec) command() Command {
	return Command{Argv: e.opts.Command, Script: e.opts.Script, Sudo: e.opts.Sudo, Env: e.opts.Env, Dir: e.opts.Dir}
}

// Compensate implements runbook.Rollback: it runs the command as the
// compensation of a step: on its own hosts if it has some; else, when the
// compensated step fanned out (its outputs list hosts_succeeded), on each
// host that step succeeded on; else on the instance's host.
func (e *Exec) Compensate(ctx context.Context, env *runbook.Env) error {
	hosts := e.opts.Hosts
	if len(hosts) == 0 {
		hs, fleet := succeededHosts(env.Self())
		if !fleet {
			_, err := e.runOne(ctx, env, "", false)
			return err
		}
		hosts = hs
	}
	return e.onHosts(ctx, env, hosts)
}

// onHosts runs the command on every host (none stops the others) and joins
// the errors.
func (e *Exec) onHosts(ctx context.Context, env *runbook.Env, hosts []string) error {
	res := e.fan(ctx, env, hosts, len(hosts))
	var errs []error
	for _, h := range hosts {
		if r := res[h]; r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return errors.Join(errs...)
}

// succeededHosts reads the hosts a fan-out step succeeded on from its
// outputs; ok is false when the outputs are not a fan-out's.
func succeededHosts(self runbook.Outputs) (hosts []string, ok bool) {
	if self == nil {
		return nil, false
	}
	switch v := self["hosts_succeeded"].(type) {
	case []string:
		return v, true
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out, true
	}
	return nil, false
}

// hostResult is the outcome on one host.
type hostResult struct {
	out    runbook.Outputs
	err    error
	ran    bool
	undone string // "", "compensated", "compensation failed: ..."
}

// Do implements runbook.Action.
func (e *Exec) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	if len(e.opts.Hosts) == 0 {
		// As an explicit rollback of a fan-out step, run on its hosts.
		if _, fleet := succeededHosts(env.Self()); fleet {
			return nil, e.Compensate(ctx, env)
		}
		return e.runOne(ctx, env, "", false)
	}
	return e.doFleet(ctx, env)
}

func (e *Exec) doFleet(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	hosts := e.opts.Hosts
	allowed := int(math.Floor(e.opts.MaxFailPercentage / 100 * float64(len(hosts))))
	res := e.fan(ctx, env, hosts, allowed)
	var ok, failed, skipped []string
	for _, h := range hosts {
		r := res[h]
		switch {
		case !r.ran:
			skipped = append(skipped, h)
		case r.err != nil:
			failed = append(failed, h)
		default:
			ok = append(ok, h)
		}
	}
	batchFailed := len(failed) > allowed || len(skipped) > 0 || ctx.Err() != nil
	var undoErr []error
	if batchFailed && len(ok) > 0 {
		if undo := e.undo(); undo != nil {
			env.Emit("ssh_exec: batch failed, compensating the hosts that succeeded", map[string]string{"hosts": strings.Join(ok, ",")})
			// The batch's compensation must run even when the step was
			// cancelled; it has its own bound.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
			ures := undo.fan(cctx, env, ok, len(ok))
			cancel()
			for _, h := range ok {
				r := res[h]
				if ur := ures[h]; ur.err != nil {
					r.undone = "compensation failed: " + env.Redact(ur.err.Error())
					undoErr = append(undoErr, ur.err)
				} else {
					r.undone = "compensated"
				}
				res[h] = r
			}
		}
	}
	out := runbook.Outputs{
		"hosts_succeeded": toAny(ok),
		"hosts_failed":    toAny(failed),
		"hosts_skipped":   toAny(skipped),
	}
	per := map[string]any{}
	for _, h := range hosts {
		r := res[h]
		m := map[string]any{}
		for k, v := range r.out {
			m[k] = v
		}
		switch {
		case !r.ran:
			m["status"] = "skipped"
		case r.err != nil:
			m["status"] = "failed"
			m["error"] = env.Redact(r.err.Error())
		default:
			m["status"] = "succeeded"
		}
		if r.undone != "" {
			m["status"] = r.undone
		}
		per[h] = m
	}
	out["hosts"] = per
	if !batchFailed {
		return out, nil
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d of %d hosts failed (max_fail_percentage %g allows %d)", len(failed), len(hosts), e.opts.MaxFailPercentage, allowed)
	if len(skipped) > 0 {
		fmt.Fprintf(&sb, ", %d not started", len(skipped))
	}
	for _, h := range failed {
		fmt.Fprintf(&sb, "; %s", env.Redact(res[h].err.Error()))
	}
	switch {
	case len(ok) == 0:
	case e.undo() == nil:
		fmt.Fprintf(&sb, "; no rollback_command: %s keep the change", strings.Join(ok, ", "))
	case len(undoErr) > 0:
		fmt.Fprintf(&sb, "; compensating the %d hosts that succeeded FAILED on some: %v", len(ok), env.Redact(errors.Join(undoErr...).Error()))
	default:
		fmt.Fprintf(&sb, "; compensated the %d hosts that succeeded (%s)", len(ok), strings.Join(ok, ", "))
	}
	err := fmt.Errorf("%w: %s", ErrBatchFailed, sb.String())
	if cerr := ctx.Err(); cerr != nil {
		err = fmt.Errorf("%w: %w", err, context.Cause(ctx))
	}
	return out, err
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// fan runs on hosts with at most MaxParallel at once; once more than
// allowed hosts failed, no new host starts.
func (e *Exec) fan(ctx context.Context, env *runbook.Env, hosts []string, allowed int) map[string]hostResult {
	par := e.opts.MaxParallel
	if par <= 0 {
		par = DefaultMaxParallel
	}
	var (
		mu       sync.Mutex
		res      = make(map[string]hostResult, len(hosts))
		failures int
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, par)
	for _, h := range hosts {
		sem <- struct{}{}
		mu.Lock()
		stop := failures > allowed || ctx.Err() != nil
		mu.Unlock()
		if stop {
			<-sem
			break
		}
		wg.Add(1)
		go func(h string) {
			defer wg.Done()
			defer func() { <-sem }()
			out, err := e.runOne(ctx, env, h, true)
			mu.Lock()
			res[h] = hostResult{out: out, err: err, ran: true}
			if err != nil {
				failures++
			}
			mu.Unlock()
		}(h)
	}
	wg.Wait()
	return res
}

// runOne runs the command on one host ("" for the instance's) and builds
// its outputs.
func (e *Exec) runOne(ctx context.Context, env *runbook.Env, host string, prefix bool) (runbook.Outputs, error) {
	label := host
	if label == "" {
		label = e.c.Name()
	}
	lineFn := func(stream string) func(string) {
		if prefix {
			return func(l string) { env.Line(stream, host+": "+l) }
		}
		return func(l string) { env.Line(stream, l) }
	}
	stdout := cmdout.NewCapture(e.opts.OutputLimit, lineFn("stdout"))
	stderr := cmdout.NewCapture(e.opts.OutputLimit, lineFn("stderr"))
	cmd := e.command()
	if prefix {
		// Fan-out: the command knows which host entry it runs for.
		env := make(map[string]string, len(cmd.Env)+1)
		for k, v := range cmd.Env {
			env[k] = v
		}
		env[HostEnvVar] = host
		cmd.Env = env
	}
	if e.opts.Stdin != "" {
		cmd.Stdin = strings.NewReader(e.opts.Stdin)
	}
	rctx, cancel := runbook.ClockTimeout(ctx, env.Clock(), e.opts.Timeout)
	exit, err := e.c.Run(rctx, host, cmd, stdout, stderr)
	cause := context.Cause(rctx)
	cancel()
	stdout.Flush()
	stderr.Flush()
	if err != nil {
		if errors.Is(cause, runbook.ErrTimeout) && ctx.Err() == nil {
			err = fmt.Errorf("%w after %s: %w", runbook.ErrTimeout, e.opts.Timeout, err)
		}
		if errors.Is(err, ErrHostKey) || errors.Is(err, ErrInvalidCommand) || errors.Is(err, ErrInvalidConfig) {
			err = runbook.Permanent(err)
		}
		return nil, err
	}
	so := stdout.String()
	out := runbook.Outputs{
		"stdout":       so,
		"stderr":       stderr.String(),
		"exit_code":    exit,
		"stdout_lines": toAny(cmdout.Lines(so)),
	}
	if stdout.Truncated() || stderr.Truncated() {
		out["truncated"] = true
	}
	if !slices.Contains(e.opts.ExpectedExitCodes, exit) {
		return out, &ExitError{Host: label, Command: env.Redact(cmd.String()), Status: exit, Stderr: env.Redact(cmdout.Tail(stderr.String(), 512))}
	}
	if e.opts.ParseJSON {
		var v any
		if err := json.Unmarshal([]byte(so), &v); err != nil {
			return out, fmt.Errorf("%s: parse_json: stdout of %s is not JSON: %w", label, env.Redact(cmd.String()), err)
		}
		out["json"] = v
	}
	return out, nil
}
