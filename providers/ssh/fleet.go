package ssh

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/handrail-dev/handrail/provider/cmdout"
	"github.com/handrail-dev/handrail/runbook"
)

// A fan-out records each host's state in the step's progress
// (runbook.Env.RecordProgress), one item per host entry, so that a retry or
// a resumed run runs only on the hosts that did not succeed, and its
// compensation undoes exactly the hosts that may carry the change, across
// attempts and processes.
const (
	// hostRunning: the command was started on the host and its end is
	// not recorded (in doubt after a crash).
	hostRunning = "running"
	// hostSucceeded: the command succeeded on the host.
	hostSucceeded = "succeeded"
	// hostFailed: the command failed on the host (touched tells whether
	// it ran there at all).
	hostFailed = "failed"
	// hostCompensated: the rollback command undid the host.
	hostCompensated = "compensated"
	// hostCompensationFailed: the rollback command failed on the host.
	hostCompensationFailed = "compensation_failed"
)

// hostState is one host's item in a fan-out's progress.
type hostState struct {
	State string
	// Touched: the host may carry the command's change (it ran there,
	// succeeded or failed after connecting, or its end is unknown) and no
	// compensation undid it since. It stays set across attempts: a host
	// changed by one attempt and unreachable in the next still needs its
	// rollback.
	Touched bool
	// Command fingerprints the command that last ran on the host: a host
	// counts as done only for the command that succeeded there.
	Command string
	Attempt int
	Error   string
	// Outputs of the command on the host when it succeeded (stdout,
	// stderr, exit_code, json, truncated).
	Outputs map[string]any
}

func (s hostState) value() map[string]any {
	m := map[string]any{"state": s.State, "touched": s.Touched, "command": s.Command, "attempt": s.Attempt}
	if s.Error != "" {
		m["error"] = s.Error
	}
	if s.Outputs != nil {
		m["outputs"] = s.Outputs
	}
	return m
}

// parseHostState reads an item a fan-out recorded; ok is false for any
// other value.
func parseHostState(v any) (hostState, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return hostState{}, false
	}
	st, ok1 := m["state"].(string)
	touched, ok2 := m["touched"].(bool)
	cmd, ok3 := m["command"].(string)
	if !ok1 || !ok2 || !ok3 {
		return hostState{}, false
	}
	s := hostState{State: st, Touched: touched, Command: cmd}
	switch a := m["attempt"].(type) {
	case int:
		s.Attempt = a
	case float64:
		s.Attempt = int(a)
	}
	s.Error, _ = m["error"].(string)
	s.Outputs, _ = m["outputs"].(map[string]any)
	return s, true
}

// readHosts returns the hosts a fan-out recorded in its progress.
func readHosts(p runbook.Outputs) map[string]hostState {
	out := map[string]hostState{}
	for h, v := range p {
		if s, ok := parseHostState(v); ok {
			out[h] = s
		}
	}
	return out
}

// fingerprint identifies what the command does to a host: the instance,
// argv or script, sudo, environment, directory and stdin. Secrets are
// redacted before hashing, so the journal holds nothing derived from them
// (a change of a secret value alone does not make a host run again).
func (e *Exec) fingerprint(env *runbook.Env) string {
	c := e.command()
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vars := make([][2]string, len(keys))
	for i, k := range keys {
		vars[i] = [2]string{k, c.Env[k]}
	}
	doc := struct {
		Instance string      `json:"instance"`
		Argv     []string    `json:"argv,omitempty"`
		Script   string      `json:"script,omitempty"`
		Sudo     bool        `json:"sudo,omitempty"`
		Env      [][2]string `json:"env,omitempty"`
		Dir      string      `json:"dir,omitempty"`
		Stdin    string      `json:"stdin,omitempty"`
	}{e.c.Name(), c.Argv, c.Script, c.Sudo, vars, c.Dir, e.opts.Stdin}
	b, _ := json.Marshal(doc) // strings and bools: cannot fail
	sum := sha256.Sum256([]byte(env.Redact(string(b))))
	return hex.EncodeToString(sum[:8])
}

// tracker records a fan-out's hosts in the step's progress.
type tracker struct {
	env     *runbook.Env
	command string // fingerprint of the forward command
	mu      sync.Mutex
	hosts   map[string]hostState
	// before holds whether each host started by this attempt was touched
	// before it started.
	before map[string]bool
	err    error // the first progress record that failed
}

func newTracker(env *runbook.Env, command string) *tracker {
	return &tracker{env: env, command: command, hosts: readHosts(env.Progress()), before: map[string]bool{}}
}

func (t *tracker) get(h string) (hostState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.hosts[h]
	return s, ok
}

func (t *tracker) set(ctx context.Context, h string, s hostState) error {
	t.mu.Lock()
	t.hosts[h] = s
	t.mu.Unlock()
	err := t.env.RecordProgress(ctx, runbook.Outputs{h: s.value()})
	if err != nil {
		t.mu.Lock()
		if t.err == nil {
			t.err = err
		}
		t.mu.Unlock()
	}
	return err
}

// started records, before the command runs on h, that it may change h.
// The command must not run if this fails.
func (t *tracker) started(ctx context.Context, h string) error {
	t.mu.Lock()
	t.before[h] = t.hosts[h].Touched
	t.mu.Unlock()
	err := t.set(ctx, h, hostState{State: hostRunning, Touched: true, Command: t.command, Attempt: t.env.Attempt()})
	if err != nil {
		return fmt.Errorf("%s: record that the command starts on it (it was not run): %w", h, err)
	}
	return nil
}

// finished records the command's end on h.
func (t *tracker) finished(ctx context.Context, h string, r hostResult) {
	t.mu.Lock()
	wasTouched := t.before[h]
	t.mu.Unlock()
	s := hostState{State: hostSucceeded, Touched: true, Command: t.command, Attempt: t.env.Attempt()}
	if r.err != nil {
		// A host the command could not reach keeps what earlier attempts
		// left on it.
		s.State, s.Error = hostFailed, t.env.Redact(r.err.Error())
		s.Touched = wasTouched || !errors.Is(r.err, ErrConnect)
	} else {
		s.Outputs = hostOutputs(r.out)
	}
	// A failure here is the run's journal failing: the executor stops the
	// run on it; what ran is known to this attempt.
	_ = t.set(ctx, h, s)
}

// undone records the end of the rollback command on h.
func (t *tracker) undone(ctx context.Context, h string, err error) {
	prev, _ := t.get(h)
	s := prev
	s.Attempt = t.env.Attempt()
	s.Outputs = nil
	if err != nil {
		s.State, s.Touched, s.Error = hostCompensationFailed, true, t.env.Redact(err.Error())
	} else {
		s.State, s.Touched, s.Error = hostCompensated, false, ""
	}
	if s.Command == "" {
		s.Command = t.command
	}
	_ = t.set(ctx, h, s)
}

// touched returns the hosts that may carry the change: first those of
// order that are, then any other (a host removed from an edited runbook's
// list), sorted.
func (t *tracker) touched(order []string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for _, h := range order {
		seen[h] = true
		if t.hosts[h].Touched {
			out = append(out, h)
		}
	}
	var rest []string
	for h, s := range t.hosts {
		if !seen[h] && s.Touched {
			rest = append(rest, h)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// hostOutputs is what a host's progress keeps of its outputs
// (stdout_lines is derived from stdout again).
func hostOutputs(o runbook.Outputs) map[string]any {
	m := make(map[string]any, len(o))
	for k, v := range o {
		if k != "stdout_lines" {
			m[k] = v
		}
	}
	return m
}

// fromHostOutputs restores a host's outputs from its progress.
func fromHostOutputs(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	if s, ok := m["stdout"].(string); ok {
		out["stdout_lines"] = toAny(cmdout.Lines(s))
	}
	return out
}
