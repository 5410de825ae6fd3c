// Package explain re-evaluates a recorded gate decision offline: the
// samples a run journaled, replayed through the same counting rule
// ([engine.Tally]) under changed limits or conditions, to say whether the
// gate would have decided otherwise. It backs `handrail gate eval`.
package explain

import (
	"fmt"
	"sort"
	"time"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// Undecided is the outcome of a re-evaluation in which no check decided
// within the recorded samples (the run stopped sampling earlier, because
// the original decision ended the gate).
const Undecided engine.Outcome = "undecided"

// Override changes one check for a re-evaluation; nil fields keep what was
// recorded.
type Override struct {
	// Success and Failure, when either is set, replace the check's
	// conditions and every recorded value is classified again (a recorded
	// probe error stays an error). A nil one means none.
	Success, Failure runbook.Condition
	// Threshold describes the new conditions.
	Threshold         string
	FailureLimit      *int
	Tolerate          *int
	InconclusiveLimit *int
	ErrorLimit        *int
	NoData            *runbook.NoDataPolicy
	DryRun            *bool
}

// CheckResult is one check's replay.
type CheckResult struct {
	Check       string         `json:"check"`
	Threshold   string         `json:"threshold,omitempty"`
	Outcome     engine.Outcome `json:"outcome"`
	Rule        string         `json:"rule,omitempty"`
	Explanation string         `json:"explanation"`
	// Seq and At are the sample that decided (zero when none did).
	Seq   int          `json:"seq,omitempty"`
	At    time.Time    `json:"at,omitempty"`
	Tally engine.Tally `json:"tally"`
	// Changed counts the samples whose verdict differs from the recorded
	// one.
	Changed int `json:"changed_verdicts"`
}

// Result is a whole gate's replay.
type Result struct {
	Gate     string         `json:"gate"`
	Original engine.Outcome `json:"original_outcome"`
	Outcome  engine.Outcome `json:"outcome"`
	// Decider is the check that decided first ("" when none did).
	Decider string        `json:"decider,omitempty"`
	At      time.Time     `json:"at,omitempty"`
	Checks  []CheckResult `json:"checks"`
	// Differs reports whether the outcome or the deciding check differ
	// from the recorded decision.
	Differs bool `json:"differs"`
}

// Reevaluate replays samples (a gate's [runbook.SampleRecord]s, in any
// order) through each check's rule, changed by over (keyed by check name;
// the key "*" applies to every check). dec is the gate's recorded decision.
func Reevaluate(dec runbook.GateDecision, samples []runbook.SampleRecord, over map[string]Override) (Result, error) {
	res := Result{Gate: dec.Gate, Original: dec.Outcome, Outcome: engine.OutcomePassed}
	known := map[string]bool{}
	for _, c := range dec.Checks {
		known[c.Check] = true
	}
	for name := range over {
		if name != "*" && !known[name] {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			return res, fmt.Errorf("gate %s has no check %q (its checks: %v)", dec.Gate, name, names)
		}
	}
	byCheck := map[string][]runbook.SampleRecord{}
	for _, s := range samples {
		if s.Gate == dec.Gate {
			byCheck[s.Check] = append(byCheck[s.Check], s)
		}
	}
	first := -1
	for _, cd := range dec.Checks {
		o := merge(over["*"], over[cd.Check])
		cr, err := replay(dec.Kind, cd, byCheck[cd.Check], o)
		if err != nil {
			return res, fmt.Errorf("gate %s, check %s: %w", dec.Gate, cd.Check, err)
		}
		res.Checks = append(res.Checks, cr)
		if cr.Seq > 0 && cr.Outcome != engine.OutcomePassed {
			if first < 0 || cr.At.Before(res.Checks[first].At) {
				first = len(res.Checks) - 1
			}
		}
	}
	undecided := false
	for _, cr := range res.Checks {
		if cr.Outcome == Undecided {
			undecided = true
		}
	}
	switch {
	case first >= 0:
		res.Outcome, res.Decider, res.At = res.Checks[first].Outcome, res.Checks[first].Check, res.Checks[first].At
	case undecided:
		res.Outcome = Undecided
	}
	res.Differs = res.Outcome != dec.Outcome || res.Decider != dec.Decider
	return res, nil
}

func merge(all, one Override) Override {
	o := all
	if one.Success != nil || one.Failure != nil {
		o.Success, o.Failure, o.Threshold = one.Success, one.Failure, one.Threshold
	}
	for _, f := range []struct{ dst, src **int }{{&o.FailureLimit, &one.FailureLimit}, {&o.Tolerate, &one.Tolerate},
		{&o.InconclusiveLimit, &one.InconclusiveLimit}, {&o.ErrorLimit, &one.ErrorLimit}} {
		if *f.src != nil {
			*f.dst = *f.src
		}
	}
	if one.NoData != nil {
		o.NoData = one.NoData
	}
	if one.DryRun != nil {
		o.DryRun = one.DryRun
	}
	return o
}

func replay(kind runbook.GateKind, cd runbook.CheckDecision, samples []runbook.SampleRecord, o Override) (CheckResult, error) {
	sort.Slice(samples, func(i, j int) bool { return samples[i].Seq < samples[j].Seq })
	t := cd.Tally
	check := runbook.Check{Name: cd.Check, FailureLimit: t.FailureLimit, Tolerate: t.Tolerate,
		InconclusiveLimit: t.InconclusiveLimit, ErrorLimit: t.ErrorLimit, DryRun: t.DryRun, NoData: runbook.NoDataPolicy(cd.NoData)}
	for _, f := range []struct {
		src *int
		dst *int
	}{{o.FailureLimit, &check.FailureLimit}, {o.Tolerate, &check.Tolerate}, {o.InconclusiveLimit, &check.InconclusiveLimit}, {o.ErrorLimit, &check.ErrorLimit}} {
		if f.src != nil {
			if *f.src < 0 {
				return CheckResult{}, fmt.Errorf("limits are 0 or more, not %d", *f.src)
			}
			*f.dst = *f.src
		}
	}
	if o.NoData != nil {
		check.NoData = *o.NoData
	}
	if o.DryRun != nil {
		check.DryRun = *o.DryRun
	}
	reclassify := o.Success != nil || o.Failure != nil
	check.Success, check.Failure = o.Success, o.Failure
	cr := CheckResult{Check: cd.Check, Threshold: cd.Threshold, Outcome: Undecided}
	if reclassify && o.Threshold != "" {
		cr.Threshold = o.Threshold
	}
	tally := engine.NewTally(string(kind), check.Limits())
	env := runbook.NewEnv(runbook.EnvConfig{})
	for _, s := range samples {
		v := s.Verdict
		switch {
		case s.Error != "" && s.Verdict == engine.VerdictError:
			// A probe error stays one.
		case s.Value == nil && s.Error == "no data":
			v, _, _ = check.Classify(kind, env, runbook.Sample{NoData: true}, nil)
		case reclassify:
			var errText string
			v, _, errText = check.Classify(kind, env, runbook.Sample{Value: s.Value}, nil)
			if v == engine.VerdictError {
				return cr, fmt.Errorf("sample %d (value %v): %s", s.Seq, s.Value, errText)
			}
		}
		if v != s.Verdict {
			cr.Changed++
		}
		if decided, outcome, rule := tally.Add(v); decided {
			cr.Outcome, cr.Rule, cr.Seq, cr.At = outcome, rule, s.Seq, s.Time
			cr.Tally, cr.Explanation = tally, tally.Explain(rule)
			return cr, nil
		}
	}
	cr.Tally = tally
	// Nothing decided: a soak or guard that sampled to its end (as the
	// recorded check did) passes; one cut short by another check's
	// decision is undecided; a check gate that never held timed out.
	switch {
	case kind == runbook.GateCheck && cd.Rule == engine.RuleTimeout:
		cr.Outcome, cr.Rule = engine.OutcomeFailed, engine.RuleTimeout
	case kind != runbook.GateCheck && (cd.Rule == engine.RuleEnd || cd.Rule == engine.RuleDryRun):
		cr.Outcome, cr.Rule = engine.OutcomePassed, engine.RuleEnd
	case check.DryRun:
		cr.Outcome, cr.Rule = engine.OutcomePassed, engine.RuleDryRun
	}
	if cr.Rule != "" {
		cr.Explanation = tally.Explain(cr.Rule)
	} else {
		cr.Explanation = fmt.Sprintf("no decision within the %d recorded samples (the run stopped sampling this check when the gate was decided)", tally.Samples)
	}
	return cr, nil
}
