package docker

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// maxMatches bounds the matching lines kept in outputs and messages.
const maxMatches = 100

// LogsCheck is docker_logs_check: fail when a container's recent log lines
// match a pattern (the seed's `docker logs --tail=50 dcmms-backend 2>&1 |
// grep -i error`).
type LogsCheck struct {
	Target Target
	// Pattern is a regular expression (RE2 syntax), matched
	// case-insensitively unless CaseSensitive.
	Pattern       string
	CaseSensitive bool
	// Tail is the number of last lines read (default 50; 0 with Since
	// set means all lines since then).
	Tail int
	// Since keeps only lines written within this duration before the
	// check; SinceRunStart keeps lines written since the run started.
	Since         time.Duration
	SinceRunStart bool
	// SinceTime keeps only lines written at or after it.
	SinceTime time.Time
	// MaxMatches is how many matching lines are tolerated (default 0).
	MaxMatches int
}

type logsAction struct {
	inst *Instance
	l    LogsCheck
	re   *regexp.Regexp
}

// NewLogsCheck returns the docker_logs_check action (read-only). Outputs:
// matches (the matching lines), match_count, lines_checked. More than
// MaxMatches matching lines fail the step with [ErrLogsMatched], the
// lines quoted in the error.
func NewLogsCheck(inst *Instance, l LogsCheck) (runbook.Action, error) {
	what := inst.Name() + " docker_logs_check"
	if err := l.Target.validate(what); err != nil {
		return nil, err
	}
	if l.Pattern == "" {
		return nil, fmt.Errorf("%s: pattern is required (pattern = \"error\"): %w", what, errBadArgs)
	}
	expr := l.Pattern
	if !l.CaseSensitive {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("%s: pattern %q: %w: %w", what, l.Pattern, err, errBadArgs)
	}
	if l.Tail < 0 || l.MaxMatches < 0 || l.Since < 0 {
		return nil, fmt.Errorf("%s: tail, since and max_matches must not be negative: %w", what, errBadArgs)
	}
	if l.Tail == 0 && l.Since == 0 && !l.SinceRunStart && l.SinceTime.IsZero() {
		l.Tail = 50
	}
	return &logsAction{inst: inst, l: l, re: re}, nil
}

// Describe implements runbook.Describer.
func (a *logsAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "docker_logs_check"}
}

// ReadOnly reports true.
func (a *logsAction) ReadOnly() bool { return true }

func (a *logsAction) scan(ctx context.Context, env *runbook.Env) (runbook.Outputs, []string, error) {
	eng, err := a.inst.Engine(ctx)
	if err != nil {
		return nil, nil, err
	}
	where := a.inst.where() + " docker_logs_check"
	c, err := resolve(ctx, eng, where, a.l.Target)
	if err != nil {
		return nil, nil, err
	}
	opts := LogsOptions{Tail: a.l.Tail}
	switch {
	case !a.l.SinceTime.IsZero():
		opts.Since = a.l.SinceTime
	case a.l.SinceRunStart && !env.Run().StartedAt.IsZero():
		opts.Since = env.Run().StartedAt
	case a.l.Since > 0:
		opts.Since = env.Clock().Now().Add(-a.l.Since)
	}
	lines, err := eng.Logs(ctx, c.ID, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: logs of %s: %w", where, containerName(c), err)
	}
	var matches []string
	count := 0
	for _, l := range lines {
		if a.re.MatchString(l.Text) {
			count++
			if len(matches) < maxMatches {
				matches = append(matches, l.Text)
				env.Line(l.Stream, l.Text)
			}
		}
	}
	anyMatches := make([]any, len(matches))
	for i, m := range matches {
		anyMatches[i] = m
	}
	return runbook.Outputs{"matches": anyMatches, "match_count": count, "lines_checked": len(lines), "container_id": c.ID}, matches, nil
}

// Do reads the lines and fails when too many match.
func (a *logsAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	out, matches, err := a.scan(ctx, env)
	if err != nil {
		return nil, err
	}
	if n := out["match_count"].(int); n > a.l.MaxMatches {
		shown := matches
		if len(shown) > 5 {
			shown = shown[:5]
		}
		return out, fmt.Errorf("%s docker_logs_check: %d of %d log lines of %s match %q (at most %d allowed): %s: %w",
			a.inst.where(), n, out["lines_checked"], a.l.Target, a.l.Pattern, a.l.MaxMatches, strings.Join(shown, " | "), ErrLogsMatched)
	}
	return out, nil
}

// Sample is the gate probe: the value is the number of matching lines.
func (a *logsAction) Sample(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
	out, _, err := a.scan(ctx, env)
	if err != nil {
		return runbook.Sample{}, err
	}
	return runbook.Sample{Value: out["match_count"], Outputs: out}, nil
}
