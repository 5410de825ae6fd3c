package compare

import (
	"context"
	"fmt"

	"github.com/handrail-dev/handrail/runbook"
)

// Series fetches the canary's and the baseline's values of one metric over
// the same interval (typically the last few minutes before env's clock).
type Series func(ctx context.Context, env *runbook.Env) (canary, baseline []float64, err error)

// Probe returns a [runbook.Probe] whose every sample judges the series
// fetched by s. The sample's value is the judgement as a JSON object
// ({"verdict": "fail", "u": 310, "p_worse": 0.001, ...}), and its fields
// are the sample's outputs too (self.verdict in HCL); a side with no
// values at all is reported as no data, so the check's no_data policy
// applies.
func Probe(s Series, o Options) runbook.Probe {
	return runbook.ProbeFunc(func(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
		canary, baseline, err := s(ctx, env)
		if err != nil {
			return runbook.Sample{}, err
		}
		return Sample(canary, baseline, o)
	})
}

// Sample judges canary against baseline and returns it as a probe's
// sample (see [Probe]).
func Sample(canary, baseline []float64, o Options) (runbook.Sample, error) {
	if len(canary) == 0 || len(baseline) == 0 {
		return runbook.Sample{NoData: true}, nil
	}
	j, err := Judge(canary, baseline, o)
	if err != nil {
		return runbook.Sample{}, err
	}
	return runbook.Sample{Value: j.Value(), Outputs: j.Value()}, nil
}

// Value is the judgement as a JSON-compatible object.
func (j Judgement) Value() map[string]any {
	return map[string]any{
		"verdict": string(j.Verdict), "reason": j.Reason, "u": j.U, "p_worse": j.PWorse, "p_within": j.PWithin,
		"alpha": j.Alpha, "method": string(j.Method), "canary_n": j.CanaryN, "baseline_n": j.BaselineN,
		"canary_median": j.CanaryMedian, "baseline_median": j.BaselineMedian, "bound": j.Bound,
	}
}

// VerdictIs is a [runbook.Condition] on a judgement sample's verdict.
type VerdictIs Verdict

// Holds reports whether value is a judgement with this verdict.
func (v VerdictIs) Holds(_ *runbook.Env, value any) (bool, error) {
	m, ok := value.(map[string]any)
	if !ok {
		return false, fmt.Errorf("compare: sample value %T is not a judgement", value)
	}
	return m["verdict"] == string(v), nil
}

// The conditions of a compare check. With Passed as success and Failed as
// failure, an inconclusive judgement is an inconclusive sample, counted
// against the check's inconclusive limit.
const (
	Passed VerdictIs = VerdictIs(Pass)
	Failed VerdictIs = VerdictIs(Fail)
)

// Check returns a check that judges s on every sample: pass, fail or
// inconclusive, as [Judge] decides.
func Check(name string, s Series, o Options) runbook.Check {
	return runbook.Check{Name: name, Probe: Probe(s, o), Success: Passed, Failure: Failed, Threshold: o.String()}
}

// String describes the options for people and reports
// ("canary ≤ baseline +10% at 95% confidence").
func (o Options) String() string {
	conf := o.Confidence
	if conf == 0 {
		conf = 0.95
	}
	if o.Direction == LowerIsWorse {
		return fmt.Sprintf("canary ≥ baseline −%g%% at %g%% confidence (Mann-Whitney)", o.Tolerance*100, conf*100)
	}
	return fmt.Sprintf("canary ≤ baseline +%g%% at %g%% confidence (Mann-Whitney)", o.Tolerance*100, conf*100)
}
