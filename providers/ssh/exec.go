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
// on the host, or, for a fan-out, on every host that may carry the change
// (see undoHosts); nil when there is no rollback command.
func (e *Exec) NaturalRollback() runbook.Rollback {
	undo := e.undo()
	if undo == nil {
		return nil
	}
	return runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
		hosts, ok := undoHosts(env)
		switch {
		case ok:
		case len(undo.opts.Hosts) > 0:
			// No outputs and no progress (a step in doubt from before
			// fan-outs recorded their hosts): undo everywhere.
			hosts = undo.opts.Hosts
		default:
			_, err := undo.runOne(ctx, env, "", false)
			return err
		}
		return undo.undoOn(ctx, env, hosts)
	})
}

// undoHosts returns the hosts a fan-out step's rollback undoes: those its
// progress says may carry the change (across attempts and processes),
// plus those its outputs list in hosts_ran that its progress no longer
// knows (a step that succeeded forgets its progress); without progress,
// hosts_ran, else the hosts it checkpointed before running. ok is false
// when the step left neither.
func undoHosts(env *runbook.Env) ([]string, bool) {
	self := env.Self()
	prog := readHosts(env.Progress())
	ran, hasRan := ranHosts(self)
	if len(prog) == 0 {
		if hasRan {
			return ran, true
		}
		// No outputs (a step in doubt, or whose answer was lost): every
		// host it was started on, as checkpointed.
		return targetedHosts(self)
	}
	t := &tracker{hosts: prog}
	out := t.touched(ran)
	for _, h := range ran {
		if _, known := prog[h]; !known {
			out = append(out, h)
		}
	}
	return out, true
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
// compensated step fanned out, on each host that may carry its change
// (those its progress says it ran on, across attempts; without progress,
// each host its outputs list in hosts_succeeded); else on the instance's
// host.
func (e *Exec) Compensate(ctx context.Context, env *runbook.Env) error {
	hosts := e.opts.Hosts
	if len(hosts) == 0 {
		hs, fleet := succeededHosts(env.Self())
		if len(readHosts(env.Progress())) > 0 {
			hs, fleet = undoHosts(env)
		}
		if !fleet {
			_, err := e.runOne(ctx, env, "", false)
			return err
		}
		hosts = hs
	}
	return e.undoOn(ctx, env, hosts)
}

// undoOn runs the command on every host (none stops the others) as the
// compensation of the step env belongs to, records each host's end in that
// step's progress when the step is a fan-out, and joins the errors.
func (e *Exec) undoOn(ctx context.Context, env *runbook.Env, hosts []string) error {
	var t *tracker
	if isFanOut(env) {
		t = newTracker(env, "")
	}
	res := e.fan(ctx, env, hosts, len(hosts), nil)
	var errs []error
	for _, h := range hosts {
		r := res[h]
		if t != nil {
			t.undone(ctx, h, r.err)
		}
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return errors.Join(errs...)
}

// isFanOut reports whether the step env compensates fanned out: it
// recorded hosts in its progress, or its outputs or checkpoint list hosts.
func isFanOut(env *runbook.Env) bool {
	if len(readHosts(env.Progress())) > 0 {
		return true
	}
	_, ok := succeededHosts(env.Self())
	_, targeted := targetedHosts(env.Self())
	return ok || targeted
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

// ranHosts reads the hosts a fan-out step ran on, succeeded or failed
// after connecting (such a host may have changed before failing, or its
// answer was lost): what its rollback undoes. Outputs journaled before
// hosts_ran existed give the hosts that succeeded.
func ranHosts(self runbook.Outputs) ([]string, bool) {
	if self != nil && self["hosts_ran"] != nil {
		return succeededHosts(runbook.Outputs{"hosts_succeeded": self["hosts_ran"]})
	}
	return succeededHosts(self)
}

// targetedHosts reads the hosts a fan-out step checkpointed before it ran.
func targetedHosts(self runbook.Outputs) ([]string, bool) {
	if self == nil || self["hosts_targeted"] == nil {
		return nil, false
	}
	return succeededHosts(runbook.Outputs{"hosts_succeeded": self["hosts_targeted"]})
}

// hostResult is the outcome on one host.
type hostResult struct {
	out    runbook.Outputs
	err    error
	ran    bool
	undone string // "", "compensated", "compensation failed: ..."
}

// Do implements runbook.Action.
//
// A command with a rollback command checkpoints, before it runs, where it
// runs (host, or hosts_targeted for a fan-out): a step whose answer was lost
// or whose process died is then rolled back from the journal, without
// asking whether it ran.
func (e *Exec) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	if len(e.opts.Hosts) == 0 {
		// As an explicit rollback of a fan-out step, run on its hosts.
		if _, fleet := succeededHosts(env.Self()); fleet {
			return nil, e.Compensate(ctx, env)
		}
		if err := e.checkpoint(ctx, env, runbook.Outputs{"instance": e.c.Name()}); err != nil {
			return nil, err
		}
		return e.runOne(ctx, env, "", false)
	}
	if err := e.checkpoint(ctx, env, runbook.Outputs{"hosts_targeted": toAny(e.opts.Hosts)}); err != nil {
		return nil, err
	}
	return e.doFleet(ctx, env)
}

// checkpoint records cp once per step when the command has a rollback.
func (e *Exec) checkpoint(ctx context.Context, env *runbook.Env, cp runbook.Outputs) error {
	if e.undo() == nil || env == nil || env.Checkpointed() != nil {
		return nil
	}
	if err := env.Checkpoint(ctx, cp); err != nil {
		return fmt.Errorf("%s ssh_exec: record where the command runs before running it (nothing was run): %w", e.c.Name(), err)
	}
	return nil
}

// doFleet runs the command on the hosts. A command that changes the world
// records each host in the step's progress: a host where this command
// already succeeded (an earlier attempt, or the process that died) is not
// run again, and when the batch fails the hosts that may carry the change
// are compensated here only if the step's own rollback will not do it
// (runbook.Env.RollsBackFailure): otherwise they keep the change, so that a
// retry or a resumed run completes the batch on the other hosts.
func (e *Exec) doFleet(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	hosts := e.opts.Hosts
	allowed := int(math.Floor(e.opts.MaxFailPercentage / 100 * float64(len(hosts))))
	var t *tracker
	if !e.opts.ReadOnly {
		t = newTracker(env, e.fingerprint(env))
	}
	var todo, earlier []string
	done := map[string]bool{} // succeeded in an earlier attempt
	for _, h := range hosts {
		if t != nil {
			if s, ok := t.get(h); ok && s.State == hostSucceeded && s.Command == t.command {
				earlier = append(earlier, h)
				done[h] = true
				continue
			}
		}
		todo = append(todo, h)
	}
	if len(earlier) > 0 {
		env.Emit(fmt.Sprintf("ssh_exec: %d of %d hosts already succeeded in an earlier attempt; running on the %d others", len(earlier), len(hosts), len(todo)),
			map[string]string{"succeeded": strings.Join(earlier, ","), "hosts": strings.Join(todo, ",")})
	}
	res := e.fan(ctx, env, todo, allowed, t)
	var ok, failed, skipped []string
	for _, h := range hosts {
		if done[h] {
			ok = append(ok, h)
			continue
		}
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
	// A host where the command failed may still have changed (the command
	// ran half-way, or ran and its answer was lost): it is compensated
	// too. Rollback commands must be idempotent.
	var ran []string
	if t != nil {
		ran = t.touched(hosts)
	} else {
		ran = append(ran, ok...)
		for _, h := range failed {
			if !errors.Is(res[h].err, ErrConnect) {
				ran = append(ran, h)
			}
		}
	}
	undo := e.undo()
	kept := batchFailed && undo != nil && len(ran) > 0 && t != nil && env.RollsBackFailure()
	var undoErr []error
	compensated := 0
	if batchFailed && undo != nil && len(ran) > 0 && !kept {
		env.Emit("ssh_exec: batch failed, compensating the hosts it ran on", map[string]string{"hosts": strings.Join(ran, ",")})
		// The batch's compensation must run even when the step was
		// cancelled; it has its own bound.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		ures := undo.fan(cctx, env, ran, len(ran), nil)
		cancel()
		for _, h := range ran {
			r := res[h]
			ur := ures[h]
			if t != nil {
				t.undone(cctx, h, ur.err)
			}
			if ur.err != nil {
				r.undone = "compensation failed: " + env.Redact(ur.err.Error())
				undoErr = append(undoErr, ur.err)
			} else {
				if r.err == nil {
					r.undone = "compensated"
				}
				compensated++
			}
			res[h] = r
		}
		if t != nil {
			ran = t.touched(hosts)
		}
	}
	if kept {
		env.Emit("ssh_exec: batch failed; the hosts it ran on keep the change for a retry or resume, or the step's rollback", map[string]string{"hosts": strings.Join(ran, ",")})
	}
	out := runbook.Outputs{
		"hosts_ran":       toAny(ran),
		"hosts_succeeded": toAny(ok),
		"hosts_failed":    toAny(failed),
		"hosts_skipped":   toAny(skipped),
	}
	per := map[string]any{}
	for _, h := range hosts {
		r := res[h]
		m := map[string]any{}
		if done[h] {
			s, _ := t.get(h)
			for k, v := range fromHostOutputs(s.Outputs) {
				m[k] = v
			}
			m["attempt"] = s.Attempt
		} else {
			for k, v := range r.out {
				m[k] = v
			}
			if r.ran {
				m["attempt"] = env.Attempt()
			}
		}
		switch {
		case done[h]:
			m["status"] = "succeeded"
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
	if t != nil {
		// Hosts no longer listed (an edited runbook) that may still carry
		// the change of an earlier attempt.
		for _, h := range ran {
			if _, listed := per[h]; !listed {
				s, _ := t.get(h)
				per[h] = map[string]any{"status": "not listed any more, may carry the change (" + s.State + ")", "attempt": s.Attempt}
			}
		}
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
	if len(earlier) > 0 {
		fmt.Fprintf(&sb, ", %d succeeded in an earlier attempt", len(earlier))
	}
	for _, h := range failed {
		fmt.Fprintf(&sb, "; %s", env.Redact(res[h].err.Error()))
	}
	if t != nil && t.err != nil {
		fmt.Fprintf(&sb, "; progress not recorded: %s", env.Redact(t.err.Error()))
	}
	switch {
	case len(ran) == 0 && compensated == 0:
	case undo == nil:
		if len(ok) > 0 {
			fmt.Fprintf(&sb, "; no rollback_command: %s keep the change", strings.Join(ok, ", "))
		}
	case kept:
		fmt.Fprintf(&sb, "; %s keep the change: a retry or a resumed run runs only on the other hosts, the step's rollback undoes these", strings.Join(ran, ", "))
	case len(undoErr) > 0:
		fmt.Fprintf(&sb, "; compensating the hosts it ran on FAILED on some: %v", env.Redact(errors.Join(undoErr...).Error()))
	default:
		n := compensated
		fmt.Fprintf(&sb, "; compensated the %d hosts that succeeded (%s)", len(ok), strings.Join(ok, ", "))
		if extra := n - len(ok); extra > 0 {
			fmt.Fprintf(&sb, " and the %d that failed after connecting, which may have changed too", extra)
		}
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

// fan runs on hosts with at most MaxParallel at once, in list order. The
// first MaxParallel hosts start together; each later host starts when a
// slot frees, unless more than allowed hosts have failed by then (or ctx
// is done), in which case it and the hosts after it do not start. With
// MaxParallel 1 the hosts after the one that failed beyond allowed never
// start; with more, which later hosts still start depends on which hosts
// finished first. With t, each host is recorded before the command starts
// on it (a host whose record fails is not started, and neither is any
// after it) and after it ends.
func (e *Exec) fan(ctx context.Context, env *runbook.Env, hosts []string, allowed int, t *tracker) map[string]hostResult {
	par := e.opts.MaxParallel
	if par <= 0 {
		par = DefaultMaxParallel
	}
	var (
		mu       sync.Mutex
		res      = make(map[string]hostResult, len(hosts))
		failures int
		halted   bool // a host's record failed
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, par)
	for i, h := range hosts {
		sem <- struct{}{}
		mu.Lock()
		stop := halted || ctx.Err() != nil || (i >= par && failures > allowed)
		mu.Unlock()
		if stop {
			<-sem
			break
		}
		wg.Add(1)
		go func(h string) {
			defer wg.Done()
			defer func() { <-sem }()
			if t != nil {
				if err := t.started(ctx, h); err != nil {
					mu.Lock()
					halted = true
					mu.Unlock()
					return
				}
			}
			out, err := e.runOne(ctx, env, h, true)
			r := hostResult{out: out, err: err, ran: true}
			if t != nil {
				t.finished(ctx, h, r)
			}
			mu.Lock()
			res[h] = r
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
