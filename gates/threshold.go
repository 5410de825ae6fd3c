package gates

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/handrail-dev/handrail/runbook"
)

// ErrNotANumber is wrapped by the error of a threshold given a value that is
// not a number.
var ErrNotANumber = errors.New("gates: value is not a number")

// Threshold is a numeric [runbook.Condition] that can describe itself
// ("< 0.01", "< 1.5 × step.baseline.p95").
type Threshold struct {
	text string
	uses []string
	f    func(env *runbook.Env, v float64) (bool, error)
}

var _ runbook.Condition = Threshold{}

// String describes the threshold.
func (t Threshold) String() string { return t.text }

// Holds converts value to a number and tests it.
func (t Threshold) Holds(env *runbook.Env, value any) (bool, error) {
	if t.f == nil {
		return false, errors.New("gates: zero Threshold: build one with Below, Above, Between or RelativeTo")
	}
	f, err := Number(value)
	if err != nil {
		return false, err
	}
	return t.f(env, f)
}

// Below holds for values strictly less than limit.
func Below(limit float64) Threshold {
	return Threshold{text: "< " + num(limit), f: func(_ *runbook.Env, v float64) (bool, error) { return v < limit, nil }}
}

// Above holds for values strictly greater than limit.
func Above(limit float64) Threshold {
	return Threshold{text: "> " + num(limit), f: func(_ *runbook.Env, v float64) (bool, error) { return v > limit, nil }}
}

// Between holds for values in [lo, hi].
func Between(lo, hi float64) Threshold {
	return Threshold{text: fmt.Sprintf("between %s and %s", num(lo), num(hi)), f: func(_ *runbook.Env, v float64) (bool, error) {
		return v >= lo && v <= hi, nil
	}}
}

// RelativeTo holds for values strictly less than factor times a baseline:
// the output named output of the earlier step baselineStep, read through
// env at sampling time ("p95 must stay under 150% of the pre-deployment
// p95": RelativeTo("baseline", "p95", 1.5)). A gate built with [Watch]
// declares that it reads baselineStep.
func RelativeTo(baselineStep, output string, factor float64) Threshold {
	return Threshold{
		text: fmt.Sprintf("< %s × step.%s.%s", num(factor), baselineStep, output),
		uses: []string{baselineStep},
		f: func(env *runbook.Env, v float64) (bool, error) {
			out, ok := env.Output(baselineStep)
			if !ok {
				return false, fmt.Errorf("gates: baseline step %q has no outputs in this run (has it completed?)", baselineStep)
			}
			raw, ok := out[output]
			if !ok {
				return false, fmt.Errorf("gates: baseline step %q has no output %q", baselineStep, output)
			}
			base, err := Number(raw)
			if err != nil {
				return false, fmt.Errorf("gates: baseline %s.%s: %w", baselineStep, output, err)
			}
			return v < base*factor, nil
		},
	}
}

// Number converts a JSON-compatible value to float64: any Go number, a
// json.Number, or a string holding a number (Prometheus returns strings).
func Number(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, fmt.Errorf("%w: %q", ErrNotANumber, string(x))
		}
		return f, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %q", ErrNotANumber, x)
		}
		return f, nil
	case nil:
		return 0, fmt.Errorf("%w: no value", ErrNotANumber)
	}
	return 0, fmt.Errorf("%w: %T", ErrNotANumber, v)
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
