package compare

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Direction says which way a metric gets worse.
type Direction string

// Directions.
const (
	// HigherIsWorse: latency, error rate.
	HigherIsWorse Direction = "higher_is_worse"
	// LowerIsWorse: throughput, success rate.
	LowerIsWorse Direction = "lower_is_worse"
)

// Verdict is a judgement's outcome.
type Verdict string

// Verdicts.
const (
	// Pass: the canary is shown to be no worse than the baseline beyond the
	// tolerance, at the confidence level.
	Pass Verdict = "pass"
	// Fail: the canary is shown to be worse than the baseline beyond the
	// tolerance, at the confidence level.
	Fail Verdict = "fail"
	// Inconclusive: the samples show neither (too few, or too noisy).
	Inconclusive Verdict = "inconclusive"
)

// Options configure a judgement.
type Options struct {
	// Direction of harm (default HigherIsWorse).
	Direction Direction
	// Tolerance is the relative effect accepted, as a fraction: 0.1 means
	// "no more than 10 % worse". The baseline's values are scaled by
	// 1+Tolerance (HigherIsWorse) or 1−Tolerance (LowerIsWorse) before the
	// test, so the metric must be on a ratio scale (non-negative).
	Tolerance float64
	// Confidence is the confidence level, in (0, 1) (default 0.95).
	Confidence float64
	// MinSamples is the fewest values each side needs before a verdict
	// other than inconclusive (default 3).
	MinSamples int
}

// Judgement is the outcome of [Judge], with what it was based on.
type Judgement struct {
	Verdict Verdict `json:"verdict"`
	// Reason says why, in one sentence.
	Reason string `json:"reason"`
	// U is the Mann-Whitney statistic of the canary against the scaled
	// baseline.
	U float64 `json:"u"`
	// PWorse is the p-value of "the canary is worse than the tolerated
	// bound"; PWithin of "the canary is better than the tolerated bound".
	PWorse  float64 `json:"p_worse"`
	PWithin float64 `json:"p_within"`
	// Alpha is 1 − Confidence.
	Alpha          float64 `json:"alpha"`
	Method         Method  `json:"method"`
	CanaryN        int     `json:"canary_n"`
	BaselineN      int     `json:"baseline_n"`
	CanaryMedian   float64 `json:"canary_median"`
	BaselineMedian float64 `json:"baseline_median"`
	// Bound is the median of the scaled baseline: the tolerated level.
	Bound float64 `json:"bound"`
}

// Judge compares canary with baseline. It fails when the canary is
// significantly worse than the baseline made worse by the tolerance (a
// one-sided Mann-Whitney test at 1 − Confidence), passes when it is
// significantly better than that bound (non-inferiority), and is
// inconclusive otherwise — also when either side has fewer than
// MinSamples values.
func Judge(canary, baseline []float64, o Options) (Judgement, error) {
	if o.Direction == "" {
		o.Direction = HigherIsWorse
	}
	if o.Confidence == 0 {
		o.Confidence = 0.95
	}
	if o.MinSamples == 0 {
		o.MinSamples = 3
	}
	switch {
	case o.Direction != HigherIsWorse && o.Direction != LowerIsWorse:
		return Judgement{}, fmt.Errorf("compare: direction %q: want %q or %q", o.Direction, HigherIsWorse, LowerIsWorse)
	case !(o.Confidence > 0 && o.Confidence < 1):
		return Judgement{}, fmt.Errorf("compare: confidence %v: want a number between 0 and 1 (0.95 for 95 %%)", o.Confidence)
	case o.Tolerance < 0 || o.Tolerance >= 1 || math.IsNaN(o.Tolerance):
		return Judgement{}, fmt.Errorf("compare: tolerance %v: want a fraction in [0, 1) (0.1 for 10 %%)", o.Tolerance)
	case o.MinSamples < 1:
		return Judgement{}, errors.New("compare: min_samples must be at least 1")
	}
	scale := 1 + o.Tolerance
	worse, within := Greater, Less
	if o.Direction == LowerIsWorse {
		scale = 1 - o.Tolerance
		worse, within = Less, Greater
	}
	bound := make([]float64, len(baseline))
	for i, v := range baseline {
		bound[i] = v * scale
	}
	j := Judgement{Alpha: 1 - o.Confidence, CanaryN: len(canary), BaselineN: len(baseline),
		CanaryMedian: median(canary), BaselineMedian: median(baseline), Bound: median(bound)}
	if len(canary) < o.MinSamples || len(baseline) < o.MinSamples {
		j.Verdict = Inconclusive
		j.Reason = fmt.Sprintf("too few samples (canary %d, baseline %d; need %d each)", len(canary), len(baseline), o.MinSamples)
		j.PWorse, j.PWithin = 1, 1 // no evidence either way
		return j, nil
	}
	w, err := MannWhitneyU(canary, bound, worse, Auto)
	if err != nil {
		return Judgement{}, err
	}
	b, err := MannWhitneyU(canary, bound, within, Auto)
	if err != nil {
		return Judgement{}, err
	}
	j.U, j.PWorse, j.PWithin, j.Method = w.U, w.P, b.P, w.Method
	pct := o.Tolerance * 100
	switch {
	case w.P < j.Alpha:
		j.Verdict = Fail
		j.Reason = fmt.Sprintf("canary (median %g) is worse than baseline (median %g) by more than %g%% (p = %.3g < %.3g)", j.CanaryMedian, j.BaselineMedian, pct, w.P, j.Alpha)
	case b.P < j.Alpha:
		j.Verdict = Pass
		j.Reason = fmt.Sprintf("canary (median %g) is within %g%% of baseline (median %g) (p = %.3g < %.3g)", j.CanaryMedian, pct, j.BaselineMedian, b.P, j.Alpha)
	default:
		j.Verdict = Inconclusive
		j.Reason = fmt.Sprintf("canary (median %g) vs baseline (median %g): neither worse nor within %g%% at %g%% confidence (p_worse = %.3g, p_within = %.3g)", j.CanaryMedian, j.BaselineMedian, pct, o.Confidence*100, w.P, b.P)
	}
	return j, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
