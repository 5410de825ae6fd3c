package docker

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/handrail-dev/handrail/runbook"
)

// maxOutput bounds the stdout and stderr kept in outputs.
const maxOutput = 64 << 10

// Exec is docker_exec: run a command in a running container (the seed's
// `docker exec dcmms-backend npm run db:ping`).
type Exec struct {
	Target     Target
	Command    []string
	User       string
	WorkingDir string
	Env        map[string]string
	// ExpectExit lists the exit codes that count as success (default 0).
	ExpectExit []int
	// ReadOnlyCmd declares that the command changes nothing (a ping), so
	// the step needs no rollback.
	ReadOnlyCmd bool
}

type execAction struct {
	inst *Instance
	e    Exec
}

// NewExec returns the docker_exec action. Outputs: exit_code, stdout,
// stderr, container_id. An exit code outside ExpectExit fails the step
// with [ErrUnexpectedExit].
func NewExec(inst *Instance, e Exec) (runbook.Action, error) {
	what := inst.Name() + " docker_exec"
	if err := e.Target.validate(what); err != nil {
		return nil, err
	}
	if len(e.Command) == 0 {
		return nil, fmt.Errorf("%s: command is required, as a list (command = [\"npm\", \"run\", \"db:ping\"]): %w", what, errBadArgs)
	}
	if len(e.ExpectExit) == 0 {
		e.ExpectExit = []int{0}
	}
	return &execAction{inst: inst, e: e}, nil
}

// Describe implements runbook.Describer.
func (a *execAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "docker_exec"}
}

// ReadOnly reports what the step declared (read_only = true).
func (a *execAction) ReadOnly() bool { return a.e.ReadOnlyCmd }

func (a *execAction) run(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	eng, err := a.inst.Engine(ctx)
	if err != nil {
		return nil, err
	}
	where := a.inst.where() + " docker_exec"
	c, err := resolve(ctx, eng, where, a.e.Target)
	if err != nil {
		return nil, err
	}
	var envs []string
	for _, k := range sortedKeys(a.e.Env) {
		envs = append(envs, k+"="+a.e.Env[k])
	}
	name := containerName(c)
	res, err := eng.Exec(ctx, c.ID, ExecSpec{Cmd: a.e.Command, User: a.e.User, WorkingDir: a.e.WorkingDir, Env: envs})
	if err != nil {
		return nil, fmt.Errorf("%s: %s in %s: %w", where, argv(a.e.Command), name, err)
	}
	for _, s := range []struct{ stream, text string }{{"stdout", res.Stdout}, {"stderr", res.Stderr}} {
		for _, l := range splitLines(s.text) {
			env.Line(s.stream, l)
		}
	}
	return runbook.Outputs{
		"exit_code": res.ExitCode, "stdout": truncate(res.Stdout), "stderr": truncate(res.Stderr), "container_id": c.ID,
	}, nil
}

// Do runs the command and checks its exit code.
func (a *execAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	out, err := a.run(ctx, env)
	if err != nil {
		return nil, err
	}
	code := out["exit_code"].(int)
	if !slices.Contains(a.e.ExpectExit, code) {
		detail := strings.TrimSpace(out["stderr"].(string))
		if detail == "" {
			detail = strings.TrimSpace(out["stdout"].(string))
		}
		if len(detail) > 300 {
			detail = detail[len(detail)-300:]
		}
		return out, fmt.Errorf("%s docker_exec: %s exited %d, want %v: %s: %w", a.inst.where(), argv(a.e.Command), code, a.e.ExpectExit, detail, ErrUnexpectedExit)
	}
	return out, nil
}

// Sample runs the command as a gate probe: the value is the exit code;
// stdout and stderr are outputs.
func (a *execAction) Sample(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
	out, err := a.run(ctx, env)
	if err != nil {
		return runbook.Sample{}, err
	}
	return runbook.Sample{Value: out["exit_code"], Outputs: out}, nil
}

func argv(cmd []string) string { return strings.Join(cmd, " ") }

func truncate(s string) string {
	if len(s) > maxOutput {
		return s[len(s)-maxOutput:]
	}
	return s
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
