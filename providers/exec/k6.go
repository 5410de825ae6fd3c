package exec

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/provider/cmdout"
	"github.com/handrail-dev/handrail/runbook"
)

// K6Options are the arguments of a k6_run step.
type K6Options struct {
	// Script is the k6 script (smoke-test.js).
	Script string
	// Binary is the k6 program (default "k6" on PATH).
	Binary string
	// Args are extra arguments of `k6 run` (e.g. ["--vus", "10"]).
	Args []string
	Env  map[string]string
	Dir  string
	// Timeout bounds the run.
	Timeout time.Duration
	// OutputLimit caps each captured stream (default 1 MiB).
	OutputLimit int
}

// K6ScratchPrefix starts the name of the directory a k6_run step creates
// under os.TempDir() for k6's summary (K6ScratchPrefix + random
// characters, holding "summary.json"); the step removes it when k6 ends.
const K6ScratchPrefix = "handrail-k6-"

// K6 is the k6_run action: `k6 run --summary-export FILE [args] script`.
// It is read-only (a test of the system, not a change). Its outputs:
//
//   - thresholds: {"metric": {"expression": true when it passed}}
//   - thresholds_failed: ["metric: expression", ...]
//   - thresholds_passed: every threshold passed
//   - metrics: {"metric": {"avg": .., "p(95)": .., "rate": .., "count": ..}}
//   - http_req_duration_p95 (ms), http_req_failed_rate, checks_rate,
//     http_reqs (present when k6 reported them)
//   - exit_code, stdout, stderr
type K6 struct {
	r    Runner
	opts K6Options
}

// NewK6 returns a k6_run action after checking opts.
func NewK6(r Runner, opts K6Options) (*K6, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: k6_run needs a provider instance (provider = exec.<name>)", ErrInvalid)
	}
	if opts.Script == "" {
		return nil, fmt.Errorf("%w: %s k6_run: script is required (e.g. \"smoke-test.js\")", ErrInvalid, r.Name())
	}
	for _, a := range opts.Args {
		if a == "--summary-export" || strings.HasPrefix(a, "--summary-export=") {
			return nil, fmt.Errorf("%w: %s k6_run: args must not set --summary-export: the step sets it to read the results", ErrInvalid, r.Name())
		}
	}
	if opts.Binary == "" {
		opts.Binary = "k6"
	}
	return &K6{r: r, opts: opts}, nil
}

// Describe implements runbook.Describer.
func (k *K6) Describe() runbook.Description {
	return runbook.Description{Provider: k.r.Name(), Action: "k6_run"}
}

// ReadOnly implements runbook.ReadOnly.
func (k *K6) ReadOnly() bool { return true }

// Do implements runbook.Action.
func (k *K6) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	bin, err := k.r.LookPath(k.opts.Binary)
	if err != nil {
		return nil, runbook.Permanent(fmt.Errorf("%s k6_run: %w: install k6 (https://grafana.com/docs/k6/latest/set-up/install-k6/) or set binary to its path", k.r.Name(), err))
	}
	dir, err := os.MkdirTemp("", K6ScratchPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("%s k6_run: %w", k.r.Name(), err)
	}
	defer os.RemoveAll(dir)
	summary := filepath.Join(dir, "summary.json")
	argv := append([]string{bin, "run", "--summary-export", summary}, k.opts.Args...)
	argv = append(argv, k.opts.Script)
	res, err := run(ctx, env, k.r, Cmd{Argv: argv, Env: k.opts.Env, Dir: k.opts.Dir}, "", k.opts.Timeout, k.opts.OutputLimit)
	if err != nil {
		return nil, err
	}
	out := res.outputs()
	b, rerr := os.ReadFile(summary)
	if rerr != nil {
		return out, fmt.Errorf("%s k6_run %s: k6 exited with status %d and wrote no summary: %s", k.r.Name(), k.opts.Script, res.exit, env.Redact(cmdout.Tail(res.stderr, 512)))
	}
	s, perr := ParseK6Summary(b)
	if perr != nil {
		return out, fmt.Errorf("%s k6_run %s: %w", k.r.Name(), k.opts.Script, perr)
	}
	for key, v := range s.Outputs() {
		out[key] = v
	}
	if failed := s.Failed(); len(failed) > 0 {
		return out, fmt.Errorf("%w: %s k6_run %s: %s", ErrThresholds, k.r.Name(), k.opts.Script, strings.Join(failed, "; "))
	}
	if res.exit != 0 {
		return out, &ExitError{Command: "k6 run " + k.opts.Script, Status: res.exit, Stderr: env.Redact(cmdout.Tail(res.stderr, 512))}
	}
	return out, nil
}

// K6Summary is the content of a k6 --summary-export file (or of the
// handleSummary data, whose shape differs slightly: both are read).
type K6Summary struct {
	// Metrics maps a metric name to its values ("avg", "p(95)", "rate",
	// "count", ...).
	Metrics map[string]map[string]float64
	// Thresholds maps a metric name to its threshold expressions and
	// whether each passed.
	Thresholds map[string]map[string]bool
}

// ParseK6Summary reads a k6 summary. In --summary-export files a threshold
// is true when it FAILED (k6#1498); in handleSummary data it is an object
// {"ok": bool}.
func ParseK6Summary(b []byte) (*K6Summary, error) {
	var raw struct {
		Metrics map[string]map[string]json.RawMessage `json:"metrics"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("k6 summary is not valid JSON: %w", err)
	}
	if raw.Metrics == nil {
		return nil, fmt.Errorf("k6 summary has no \"metrics\" object")
	}
	s := &K6Summary{Metrics: map[string]map[string]float64{}, Thresholds: map[string]map[string]bool{}}
	for name, fields := range raw.Metrics {
		vals := map[string]float64{}
		for k, v := range fields {
			switch k {
			case "thresholds":
				th, err := parseThresholds(v)
				if err != nil {
					return nil, fmt.Errorf("k6 summary: metric %s: %w", name, err)
				}
				s.Thresholds[name] = th
			case "values":
				var inner map[string]float64
				if err := json.Unmarshal(v, &inner); err == nil {
					for ik, iv := range inner {
						vals[ik] = iv
					}
				}
			default:
				var f float64
				if json.Unmarshal(v, &f) == nil {
					vals[k] = f
				}
			}
		}
		// A legacy rate's fraction is "value"; handleSummary calls it
		// "rate".
		if _, ok := vals["rate"]; !ok {
			if v, ok := vals["value"]; ok {
				if _, passes := vals["passes"]; passes {
					vals["rate"] = v
				}
			}
		}
		s.Metrics[name] = vals
	}
	return s, nil
}

func parseThresholds(b json.RawMessage) (map[string]bool, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("thresholds: %w", err)
	}
	out := map[string]bool{}
	for expr, v := range m {
		var failed bool
		if json.Unmarshal(v, &failed) == nil {
			out[expr] = !failed
			continue
		}
		var obj struct {
			OK *bool `json:"ok"`
		}
		if json.Unmarshal(v, &obj) == nil && obj.OK != nil {
			out[expr] = *obj.OK
			continue
		}
		return nil, fmt.Errorf("threshold %q: want true/false or {\"ok\": bool}, got %s", expr, v)
	}
	return out, nil
}

// Failed returns the failed thresholds as "metric: expression", sorted.
func (s *K6Summary) Failed() []string {
	var out []string
	for m, ths := range s.Thresholds {
		for expr, ok := range ths {
			if !ok {
				out = append(out, m+": "+expr)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Outputs returns the summary as step outputs.
func (s *K6Summary) Outputs() runbook.Outputs {
	metrics := map[string]any{}
	for name, vals := range s.Metrics {
		m := map[string]any{}
		for k, v := range vals {
			m[k] = v
		}
		metrics[name] = m
	}
	th := map[string]any{}
	for name, exprs := range s.Thresholds {
		m := map[string]any{}
		for e, ok := range exprs {
			m[e] = ok
		}
		th[name] = m
	}
	failed := s.Failed()
	out := runbook.Outputs{
		"metrics":           metrics,
		"thresholds":        th,
		"thresholds_failed": toAny(failed),
		"thresholds_passed": len(failed) == 0,
	}
	pick := func(key, metric string, stats ...string) {
		for _, st := range stats {
			if v, ok := s.Metrics[metric][st]; ok {
				out[key] = v
				return
			}
		}
	}
	pick("http_req_duration_p95", "http_req_duration", "p(95)")
	pick("http_req_failed_rate", "http_req_failed", "rate")
	pick("checks_rate", "checks", "rate")
	pick("http_reqs", "http_reqs", "count")
	return out
}
