package prometheus

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/gates/compare"
	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// ActionCompare is the canary-versus-baseline probe.
const ActionCompare = "prometheus_compare"

// CompareConfig configures a [Compare] probe.
type CompareConfig struct {
	// Canary and Baseline are PromQL expressions yielding one series each:
	// the new version's metric and the old version's.
	Canary, Baseline string
	// Window is how far back each sample looks (default 5m); Step is the
	// resolution of the range queries (default Window/20, at least 1s).
	Window, Step time.Duration
	// Options are the judgement's direction, tolerance and confidence.
	Options compare.Options
}

// Compare is the prometheus_compare probe: on every sample it fetches the
// canary's and the baseline's series over the same window before now and
// judges them with the Mann-Whitney U test ([compare.Judge]). The sample's
// value is the judgement (verdict, u, p_worse, p_within, medians); its
// fields are also the probe's outputs, so a check says
// success = self.verdict == "pass" and failure = self.verdict == "fail".
type Compare struct {
	inst *Instance
	api  API
	cfg  CompareConfig
}

var (
	_ runbook.Probe     = (*Compare)(nil)
	_ runbook.Describer = (*Compare)(nil)
)

// NewCompare returns a prometheus_compare probe of inst.
func NewCompare(inst *Instance, cfg CompareConfig) (*Compare, error) {
	if inst == nil {
		return nil, fmt.Errorf("%s: no provider instance", ActionCompare)
	}
	if strings.TrimSpace(cfg.Canary) == "" || strings.TrimSpace(cfg.Baseline) == "" {
		return nil, fmt.Errorf("%s: canary and baseline queries are both required", ActionCompare)
	}
	if cfg.Window == 0 {
		cfg.Window = 5 * time.Minute
	}
	if cfg.Step == 0 {
		cfg.Step = max(cfg.Window/20, time.Second)
	}
	if cfg.Window < cfg.Step {
		return nil, fmt.Errorf("%s: window %s is shorter than step %s", ActionCompare, cfg.Window, cfg.Step)
	}
	if cfg.Window/cfg.Step > 11000 {
		return nil, fmt.Errorf("%s: window %s at step %s is more than 11000 points (Prometheus' limit): raise step", ActionCompare, cfg.Window, cfg.Step)
	}
	// Validate the options once, on an empty judgement.
	if _, err := compare.Judge(nil, nil, cfg.Options); err != nil {
		return nil, fmt.Errorf("%s: %w", ActionCompare, err)
	}
	return &Compare{inst: inst, api: inst, cfg: cfg}, nil
}

// Describe names the instance and action.
func (c *Compare) Describe() runbook.Description {
	return runbook.Description{Provider: c.inst.Name(), Action: ActionCompare}
}

// Threshold describes the judgement for people and reports.
func (c *Compare) Threshold() string { return c.cfg.Options.String() }

// Sample fetches both series and judges them. A side with no points is no
// data.
func (c *Compare) Sample(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
	c.inst.registerSecrets(env)
	end := env.Clock().Now()
	start := end.Add(-c.cfg.Window)
	canary, err := c.values(ctx, c.cfg.Canary, start, end)
	if err != nil {
		return runbook.Sample{}, err
	}
	baseline, err := c.values(ctx, c.cfg.Baseline, start, end)
	if err != nil {
		return runbook.Sample{}, err
	}
	smp, err := compare.Sample(canary, baseline, c.cfg.Options)
	smp.Query = fmt.Sprintf("canary: %s; baseline: %s; window %s, step %s", c.cfg.Canary, c.cfg.Baseline, c.cfg.Window, c.cfg.Step)
	return smp, err
}

func (c *Compare) values(ctx context.Context, q string, start, end time.Time) ([]float64, error) {
	res, err := c.api.QueryRange(ctx, q, start, end, c.cfg.Step)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", c.inst.Name(), q, err)
	}
	if len(res.Series) > 1 {
		if _, _, err := single(res); err != nil {
			return nil, fmt.Errorf("%s %q: %w", c.inst.Name(), q, err)
		}
	}
	var vals []float64
	for _, s := range res.Series {
		for _, p := range s.Points {
			if !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0) {
				vals = append(vals, p.Value)
			}
		}
	}
	return vals, nil
}

func compareType() provider.ActionType {
	num := func(d string) provider.Output { return provider.Output{Type: cty.Number, Description: d} }
	return provider.ActionType{
		Args: provider.Schema{
			"canary":      {Type: cty.String, Required: true, Description: "PromQL for the new version's series."},
			"baseline":    {Type: cty.String, Required: true, Description: "PromQL for the old version's series over the same interval."},
			"window":      {Type: cty.String, Description: "How far back each sample looks (default 5m)."},
			"step":        {Type: cty.String, Description: "Resolution of the range queries (default window/20, at least 1s)."},
			"direction":   {Type: cty.String, Description: "higher_is_worse (default) or lower_is_worse."},
			"tolerance":   {Type: cty.Number, Description: "Relative effect accepted: 0.1 is \"no more than 10 % worse\" (default 0)."},
			"confidence":  {Type: cty.Number, Description: "Confidence level (default 0.95)."},
			"min_samples": {Type: cty.Number, Description: "Fewest points each side needs for a verdict other than inconclusive (default 3)."},
		},
		Outputs: map[string]provider.Output{
			"value":           {Type: cty.DynamicPseudoType, Description: "The judgement, as an object of the fields below."},
			"verdict":         {Type: cty.String, Description: "pass, fail or inconclusive."},
			"reason":          {Type: cty.String, Description: "Why, in one sentence."},
			"u":               num("Mann-Whitney U of the canary against the baseline scaled by the tolerance."),
			"p_worse":         num("p-value of \"the canary is worse than the tolerated bound\"."),
			"p_within":        num("p-value of \"the canary is better than the tolerated bound\"."),
			"alpha":           num("1 - confidence."),
			"method":          {Type: cty.String, Description: "exact or asymptotic."},
			"canary_n":        num("Points of the canary."),
			"baseline_n":      num("Points of the baseline."),
			"canary_median":   num("Median of the canary."),
			"baseline_median": num("Median of the baseline."),
			"bound":           num("Median of the baseline scaled by the tolerance."),
		},
		ReadOnly:    true,
		Description: "Canary against baseline: judges the new version's series against the old version's over the same window with the Mann-Whitney U test (a gate probe: success = self.verdict == \"pass\", failure = self.verdict == \"fail\").",
		NewProbe: func(inst provider.Instance, v cty.Value) (runbook.Probe, error) {
			i, ok := inst.(*Instance)
			if !ok || i == nil {
				return nil, fmt.Errorf("%s: needs a prometheus provider instance", ActionCompare)
			}
			a := &ctyargs.Attrs{V: v, Where: ActionCompare}
			cfg := CompareConfig{Canary: a.Str("canary"), Baseline: a.Str("baseline"), Window: a.Duration("window"), Step: a.Duration("step")}
			cfg.Options.Direction = compare.Direction(a.Str("direction"))
			cfg.Options.Tolerance = a.Float("tolerance")
			cfg.Options.Confidence = a.Float("confidence")
			cfg.Options.MinSamples = a.Int("min_samples")
			if err := a.Err(); err != nil {
				return nil, err
			}
			return NewCompare(i, cfg)
		},
	}
}
