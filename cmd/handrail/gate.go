package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/handrail-dev/handrail/gates/explain"
	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/runbook"
)

const gateUsage = `Usage: handrail gate <subcommand> [arguments]

Subcommands:
  eval RUN GATE [-set CHECK.KEY=VALUE]...   re-evaluate a recorded gate under changed conditions or limits
  backtest FILE -gate NAME -prometheus URL -from T [-to T] [-window D] [-step D] [-good A..B]... [-bad A..B]...
                                            replay a gate over Prometheus history, window by window

Run 'handrail show RUN -gate GATE' to see why a gate decided what it did.
`

func (a *app) cmdGate(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, gateUsage)
		return exitInvalid
	}
	switch args[0] {
	case "eval":
		return a.cmdGateEval(ctx, args[1:])
	case "backtest":
		return a.cmdGateBacktest(ctx, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(a.stdout, gateUsage)
		return exitOK
	}
	fmt.Fprintf(a.stderr, "handrail gate: unknown subcommand %q.\n\n%s", args[0], gateUsage)
	return exitInvalid
}

// gateRecords returns a gate's recorded decision and samples.
func gateRecords(recs []runbook.Record, gate string) (*runbook.GateDecision, []runbook.SampleRecord, []string) {
	var dec *runbook.GateDecision
	var samples []runbook.SampleRecord
	seen := map[string]bool{}
	var names []string
	for _, r := range recs {
		switch {
		case r.Kind == runbook.RecGateDecided && r.Gate != nil:
			if !seen[r.Node] {
				seen[r.Node] = true
				names = append(names, r.Node)
			}
			if r.Node == gate {
				dec = r.Gate
			}
		case r.Kind == runbook.RecGateSample && r.Sample != nil && r.Node == gate:
			samples = append(samples, *r.Sample)
		}
	}
	return dec, samples, names
}

// gateNotDecided explains why a gate has no recorded decision.
func (a *app) gateNotDecided(id, gate string, names []string) int {
	if len(names) == 0 {
		a.errorf("run %s has no recorded gate decision (no check, soak or guard gate has decided yet)", id)
		return exitInvalid
	}
	a.errorf("run %s has no decision of gate %q; gates that decided: %s", id, gate, strings.Join(names, ", "))
	return exitInvalid
}

// gateDoc is the JSON of `show RUN -gate NAME`.
type gateDoc struct {
	FormatVersion string                 `json:"format_version"`
	Run           string                 `json:"run"`
	Decision      *runbook.GateDecision  `json:"decision"`
	Samples       []runbook.SampleRecord `json:"samples"`
}

// showGate prints why a gate decided what it did.
func (a *app) showGate(id string, recs []runbook.Record, gate string, asJSON bool) int {
	dec, samples, names := gateRecords(recs, gate)
	if dec == nil {
		return a.gateNotDecided(id, gate, names)
	}
	if asJSON {
		return a.writeJSON(gateDoc{FormatVersion: formatVersion, Run: id, Decision: dec, Samples: samples})
	}
	writeGateDecision(a.stdout, dec, samples)
	return exitOK
}

func writeGateDecision(w io.Writer, dec *runbook.GateDecision, samples []runbook.SampleRecord) {
	sched := string(dec.Kind)
	if dec.Duration > 0 {
		sched += " for " + dec.Duration.String()
	}
	if dec.Count > 0 {
		sched += fmt.Sprintf(", %d samples", dec.Count)
	}
	by := ""
	if dec.Decider != "" {
		by = ", decided by check " + dec.Decider
	}
	fmt.Fprintf(w, "Gate %s (%s): %s at %s%s\n", dec.Gate, sched, dec.Outcome, dec.Time.Format(time.RFC3339), by)
	for _, c := range dec.Checks {
		fmt.Fprintf(w, "\n  check %s — %s", c.Check, c.Outcome)
		if c.Rule != "" {
			fmt.Fprintf(w, " (%s)", c.Rule)
		}
		fmt.Fprintf(w, ": %s\n", c.Explanation)
		if p := c.Probe.String(); p != "" {
			fmt.Fprintf(w, "    probe:     %s\n", p)
		}
		if c.Query != "" {
			fmt.Fprintf(w, "    query:     %s\n", oneLine(c.Query))
		}
		if c.Threshold != "" {
			fmt.Fprintf(w, "    threshold: %s\n", oneLine(c.Threshold))
		}
		t := c.Tally
		noData := c.NoData
		if noData == "" {
			noData = string(runbook.NoDataInconclusive)
		}
		fmt.Fprintf(w, "    limits:    failure_limit %d, tolerate %d, inconclusive_limit %d, error_limit %d, no_data %s%s\n",
			t.FailureLimit, t.Tolerate, t.InconclusiveLimit, t.ErrorLimit, noData, map[bool]string{true: ", dry run"}[t.DryRun])
		fmt.Fprintf(w, "    schedule:  every %s", c.Every)
		if c.InitialDelay > 0 {
			fmt.Fprintf(w, ", after %s", c.InitialDelay)
		}
		if c.Count > 0 {
			fmt.Fprintf(w, ", %d samples", c.Count)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "    counters:  %d samples: %d pass, %d breach (%d in a row), %d inconclusive, %d error (%d in a row), %d no data, %d pending\n",
			t.Samples, t.Passes, t.Breaches, t.Consecutive, t.Inconclusive, t.Errors, t.ConsecutiveErrors, t.NoData, t.Pending)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "    SEQ\tTIME\tVERDICT\tVALUE")
		for _, s := range samples {
			if s.Check != c.Check {
				continue
			}
			val := displaySample(s)
			fmt.Fprintf(tw, "    %d\t%s\t%s\t%s\n", s.Seq, s.Time.Format("15:04:05"), s.Verdict, val)
		}
		_ = tw.Flush()
	}
}

// displaySample renders a sample's value on one line.
func displaySample(s runbook.SampleRecord) string {
	if s.Error != "" && s.Value == nil {
		return "(" + oneLine(s.Error) + ")"
	}
	if m, ok := s.Value.(map[string]any); ok {
		if v, ok := m["verdict"]; ok {
			// A judgement (canary against baseline): its verdict and p-value.
			return fmt.Sprintf("%v (p_worse %v, canary median %v, baseline median %v)", v, m["p_worse"], m["canary_median"], m["baseline_median"])
		}
	}
	return oneLine(fmt.Sprint(s.Value))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// setFlags are the -set changes of `gate eval`.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ", ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// overrides turns -set CHECK.KEY=VALUE (or KEY=VALUE for every check) into
// explain overrides.
func overrides(sets []string) (map[string]explain.Override, error) {
	out := map[string]explain.Override{}
	for _, s := range sets {
		lhs, val, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(val) == "" {
			return nil, fmt.Errorf("-set %q: want CHECK.KEY=VALUE or KEY=VALUE (for every check), for example -set 'error_rate.failure_limit=2' or -set 'p95.condition=self.value < 0.3'", s)
		}
		lhs = strings.TrimSpace(lhs)
		check, key := "*", lhs
		if i := strings.LastIndexByte(lhs, '.'); i >= 0 {
			check, key = lhs[:i], lhs[i+1:]
		}
		o := out[check]
		num := func() (*int, error) {
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("-set %s: %q is not a whole number of 0 or more", lhs, val)
			}
			return &n, nil
		}
		var err error
		switch key {
		case "condition", "success":
			if o.Success, err = hcl.ParseCondition(val); err != nil {
				return nil, fmt.Errorf("-set %s: %w", lhs, err)
			}
			o.Threshold = strings.TrimSpace(val)
		case "failure":
			if o.Failure, err = hcl.ParseCondition(val); err != nil {
				return nil, fmt.Errorf("-set %s: %w", lhs, err)
			}
			if o.Threshold == "" {
				o.Threshold = "not " + strings.TrimSpace(val)
			}
		case "failure_limit":
			o.FailureLimit, err = num()
		case "tolerate":
			o.Tolerate, err = num()
		case "inconclusive_limit":
			o.InconclusiveLimit, err = num()
		case "error_limit":
			o.ErrorLimit, err = num()
		case "no_data":
			p := runbook.NoDataPolicy(strings.TrimSpace(val))
			switch p {
			case runbook.NoDataInconclusive, runbook.NoDataFail, runbook.NoDataPass, runbook.NoDataWait:
				o.NoData = &p
			default:
				err = fmt.Errorf("-set %s: no_data is inconclusive, fail, pass or wait, not %q", lhs, val)
			}
		case "dry_run":
			b, perr := strconv.ParseBool(strings.TrimSpace(val))
			if perr != nil {
				err = fmt.Errorf("-set %s: %q is not true or false", lhs, val)
			}
			o.DryRun = &b
		default:
			keys := []string{"condition", "success", "failure", "failure_limit", "tolerate", "inconclusive_limit", "error_limit", "no_data", "dry_run"}
			return nil, fmt.Errorf("-set %s: unknown key %q; one of %s", lhs, key, strings.Join(keys, ", "))
		}
		if err != nil {
			return nil, err
		}
		out[check] = o
	}
	return out, nil
}

// evalDoc is the JSON of `gate eval`.
type evalDoc struct {
	FormatVersion string         `json:"format_version"`
	Run           string         `json:"run"`
	Result        explain.Result `json:"result"`
}

func (a *app) cmdGateEval(ctx context.Context, args []string) int {
	fs := newFlagSet("gate eval", a.stderr, "gate eval RUN GATE [-set CHECK.KEY=VALUE]... [-state-dir D | -journal URL] [-json]")
	var sf stateFlags
	sf.register(fs)
	var sets setFlags
	fs.Var(&sets, "set", "change a check: CHECK.KEY=VALUE (KEY=VALUE for every check); keys: condition, success, failure (HCL over self.value), failure_limit, tolerate, inconclusive_limit, error_limit, no_data, dry_run; repeatable")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) != 2 {
		a.errorf("gate eval takes a run id and a gate name: handrail gate eval RUN GATE [-set CHECK.KEY=VALUE]...")
		return exitInvalid
	}
	over, err := overrides(sets)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	id, recs, _, closeFn, ok := a.loadRun(ctx, sf, pos[0])
	if !ok {
		return exitInvalid
	}
	defer closeFn()
	dec, samples, names := gateRecords(recs, pos[1])
	if dec == nil {
		return a.gateNotDecided(id, pos[1], names)
	}
	res, err := explain.Reevaluate(*dec, samples, over)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	if *asJSON {
		return a.writeJSON(evalDoc{FormatVersion: formatVersion, Run: id, Result: res})
	}
	verdict := "the decision would be the same"
	if res.Differs {
		verdict = "the decision would differ"
	}
	orig := string(dec.Outcome)
	if dec.Decider != "" {
		orig += " (by " + dec.Decider + ")"
	}
	now := string(res.Outcome)
	if res.Decider != "" {
		now += fmt.Sprintf(" (by %s at %s)", res.Decider, res.At.Format("15:04:05"))
	}
	fmt.Fprintf(a.stdout, "Gate %s of run %s: recorded %s; re-evaluated %s: %s.\n", dec.Gate, id, orig, now, verdict)
	keys := make([]string, 0, len(over))
	for k := range over {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(sets) > 0 {
		fmt.Fprintf(a.stdout, "  changes: %s\n", strings.Join(sets, "; "))
	}
	for _, c := range res.Checks {
		fmt.Fprintf(a.stdout, "  check %s: %s", c.Check, c.Outcome)
		if c.Seq > 0 {
			fmt.Fprintf(a.stdout, " at sample %d (%s)", c.Seq, c.At.Format("15:04:05"))
		}
		fmt.Fprintf(a.stdout, " — %s; %d verdict(s) changed\n", c.Explanation, c.Changed)
	}
	return exitOK
}
