package prometheus

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/provider/httpclient"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// Action names.
const (
	ActionQuery    = "prometheus_query"
	ActionBaseline = "prometheus_baseline"
)

// registerSecrets registers the instance's credentials with the run's
// redactor (the HCL front end already did; Go runbooks rely on this).
func (i *Instance) registerSecrets(env *runbook.Env) {
	if i.cfg.BearerToken != "" {
		env.AddSecret(i.cfg.BearerToken)
	}
	if i.cfg.Password != "" {
		env.AddSecret(i.cfg.Password)
	}
	for k, v := range i.cfg.Headers {
		if httpclient.IsSensitiveHeader(k) {
			httpclient.AddHeaderSecret(env, v)
		}
	}
}

// Query is the prometheus_query probe (and read-only step): an instant
// query whose single number is the sample value.
type Query struct {
	inst  *Instance
	api   API
	query string
}

var (
	_ runbook.Probe     = (*Query)(nil)
	_ runbook.Action    = (*Query)(nil)
	_ runbook.ReadOnly  = (*Query)(nil)
	_ runbook.Describer = (*Query)(nil)
)

// NewQuery returns a prometheus_query of inst.
func NewQuery(inst *Instance, query string) (*Query, error) {
	if inst == nil {
		return nil, fmt.Errorf("%s: no provider instance", ActionQuery)
	}
	if strings.TrimSpace(query) == "" {
		return nil, fmt.Errorf("%s: query is required", ActionQuery)
	}
	return &Query{inst: inst, api: inst, query: query}, nil
}

// Describe names the instance and action.
func (q *Query) Describe() runbook.Description {
	return runbook.Description{Provider: q.inst.Name(), Action: ActionQuery}
}

// ReadOnly reports true.
func (q *Query) ReadOnly() bool { return true }

// Sample evaluates the query at the run clock's now. An empty result, or
// NaN, is a sample without data; several series are an error.
func (q *Query) Sample(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
	q.inst.registerSecrets(env)
	res, err := q.api.Query(ctx, q.query, env.Clock().Now())
	if err != nil {
		return runbook.Sample{}, fmt.Errorf("%s %q: %w", q.inst.Name(), q.query, err)
	}
	for _, w := range res.Warnings {
		env.Emit("prometheus warning", map[string]string{"query": q.query, "warning": w})
	}
	s, p, err := single(res)
	if err != nil {
		return runbook.Sample{}, fmt.Errorf("%s %q: %w", q.inst.Name(), q.query, err)
	}
	if s == nil || math.IsNaN(p.Value) {
		return runbook.Sample{NoData: true, Query: q.query}, nil
	}
	if math.IsInf(p.Value, 0) {
		return runbook.Sample{}, fmt.Errorf("%s %q: the result is %v, not a usable number", q.inst.Name(), q.query, p.Value)
	}
	return runbook.Sample{Value: p.Value, Query: q.query, Outputs: runbook.Outputs{"labels": labels(s.Labels), "at": p.Time.UTC().Format(time.RFC3339Nano)}}, nil
}

// Do runs the query once as a step; no data is an error wrapping
// [ErrNoData].
func (q *Query) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	s, err := q.Sample(ctx, env)
	if err != nil {
		return nil, err
	}
	if s.NoData {
		return nil, fmt.Errorf("%s %q: %w (empty result)", q.inst.Name(), q.query, ErrNoData)
	}
	out := runbook.Outputs{"value": s.Value}
	for k, v := range s.Outputs {
		out[k] = v
	}
	return out, nil
}

func labels(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// single returns the one series of a result and its last point; nil when
// the result is empty.
func single(res Result) (*Series, Point, error) {
	switch len(res.Series) {
	case 0:
		return nil, Point{}, nil
	case 1:
		s := &res.Series[0]
		if len(s.Points) == 0 {
			return nil, Point{}, nil
		}
		return s, s.Points[len(s.Points)-1], nil
	}
	var names []string
	for k, s := range res.Series {
		if k == 3 {
			names = append(names, "…")
			break
		}
		names = append(names, s.String())
	}
	return nil, Point{}, runbook.Permanent(fmt.Errorf("the query returned %d series (%s), want one: aggregate it, e.g. sum(...) or max(...)", len(res.Series), strings.Join(names, ", ")))
}

// Reducers of a baseline.
const (
	ReduceAvg    = "avg"
	ReduceMin    = "min"
	ReduceMax    = "max"
	ReduceLast   = "last"
	ReduceMedian = "median"
	ReduceP90    = "p90"
	ReduceP95    = "p95"
	ReduceP99    = "p99"
)

var reducers = []string{ReduceAvg, ReduceMin, ReduceMax, ReduceLast, ReduceMedian, ReduceP90, ReduceP95, ReduceP99}

// BaselineConfig configures a prometheus_baseline step.
type BaselineConfig struct {
	// Query is the PromQL expression; it must yield one series.
	Query string
	// Window is how far back the range goes (default 30m).
	Window time.Duration
	// Offset ends the window that long before now (default 0).
	Offset time.Duration
	// Step is the resolution (default Window/120, at least 1s).
	Step time.Duration
	// Reduce turns the points into the value: avg (default), min, max,
	// last, median, p90, p95 or p99.
	Reduce string
}

// Baseline is the prometheus_baseline step: a range query over a window
// before now, reduced to one value that later gates compare with
// (condition = self.value < step.baseline.value * 1.5).
type Baseline struct {
	inst *Instance
	api  API
	cfg  BaselineConfig
}

var (
	_ runbook.Action    = (*Baseline)(nil)
	_ runbook.ReadOnly  = (*Baseline)(nil)
	_ runbook.Describer = (*Baseline)(nil)
)

// NewBaseline returns a prometheus_baseline of inst.
func NewBaseline(inst *Instance, cfg BaselineConfig) (*Baseline, error) {
	if inst == nil {
		return nil, fmt.Errorf("%s: no provider instance", ActionBaseline)
	}
	if strings.TrimSpace(cfg.Query) == "" {
		return nil, fmt.Errorf("%s: query is required", ActionBaseline)
	}
	if cfg.Window == 0 {
		cfg.Window = 30 * time.Minute
	}
	if cfg.Window < 0 || cfg.Offset < 0 || cfg.Step < 0 {
		return nil, fmt.Errorf("%s: window, offset and step must not be negative", ActionBaseline)
	}
	if cfg.Step == 0 {
		cfg.Step = cfg.Window / 120
		if cfg.Step < time.Second {
			cfg.Step = time.Second
		}
	}
	if cfg.Window/cfg.Step > 11000 {
		return nil, fmt.Errorf("%s: window %s at step %s is more than 11000 points (Prometheus' limit): raise step", ActionBaseline, cfg.Window, cfg.Step)
	}
	if cfg.Reduce == "" {
		cfg.Reduce = ReduceAvg
	}
	ok := false
	for _, r := range reducers {
		ok = ok || r == cfg.Reduce
	}
	if !ok {
		return nil, fmt.Errorf("%s: reduce %q is not one of %s", ActionBaseline, cfg.Reduce, strings.Join(reducers, ", "))
	}
	return &Baseline{inst: inst, api: inst, cfg: cfg}, nil
}

// Describe names the instance and action.
func (b *Baseline) Describe() runbook.Description {
	return runbook.Description{Provider: b.inst.Name(), Action: ActionBaseline}
}

// ReadOnly reports true.
func (b *Baseline) ReadOnly() bool { return true }

// Do runs the range query and reduces it.
func (b *Baseline) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	b.inst.registerSecrets(env)
	end := env.Clock().Now().Add(-b.cfg.Offset)
	start := end.Add(-b.cfg.Window)
	res, err := b.api.QueryRange(ctx, b.cfg.Query, start, end, b.cfg.Step)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", b.inst.Name(), b.cfg.Query, err)
	}
	if len(res.Series) > 1 {
		_, _, err := single(res)
		return nil, fmt.Errorf("%s %q: %w", b.inst.Name(), b.cfg.Query, err)
	}
	var vals []float64
	if len(res.Series) == 1 {
		for _, p := range res.Series[0].Points {
			if !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0) {
				vals = append(vals, p.Value)
			}
		}
	}
	if len(vals) == 0 {
		return nil, runbook.Permanent(fmt.Errorf("%s %q: %w over the %s before %s", b.inst.Name(), b.cfg.Query, ErrNoData, b.cfg.Window, end.UTC().Format(time.RFC3339)))
	}
	sum, lo, hi := 0.0, vals[0], vals[0]
	for _, v := range vals {
		sum += v
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	avg := sum / float64(len(vals))
	sorted := append([]float64(nil), vals...)
	sort.Float64s(sorted)
	rank := func(q float64) float64 {
		k := int(math.Ceil(q*float64(len(sorted)))) - 1
		if k < 0 {
			k = 0
		}
		return sorted[k]
	}
	value := map[string]float64{ReduceAvg: avg, ReduceMin: lo, ReduceMax: hi, ReduceLast: vals[len(vals)-1],
		ReduceMedian: rank(0.5), ReduceP90: rank(0.9), ReduceP95: rank(0.95), ReduceP99: rank(0.99)}[b.cfg.Reduce]
	return runbook.Outputs{
		"value": value, "samples": len(vals), "avg": avg, "min": lo, "max": hi, "last": vals[len(vals)-1],
		"reduce": b.cfg.Reduce, "from": start.UTC().Format(time.RFC3339), "to": end.UTC().Format(time.RFC3339),
	}, nil
}

// Actions returns prometheus_query, prometheus_baseline and
// prometheus_compare.
func (p *Provider) Actions() map[string]provider.ActionType {
	queryArgs := provider.Schema{"query": {Type: cty.String, Required: true, Description: "PromQL expression yielding a scalar or one series."}}
	return map[string]provider.ActionType{
		ActionCompare: compareType(),
		ActionQuery: {
			Args: queryArgs,
			Outputs: map[string]provider.Output{
				"value":  {Type: cty.Number, Description: "The query's value now."},
				"labels": {Type: cty.Map(cty.String), Description: "Labels of the series."},
				"at":     {Type: cty.String, Description: "Evaluation time (RFC 3339)."},
			},
			ReadOnly:    true,
			Description: "Instant PromQL query: a gate probe (self.value; empty result is no data) or a step recording the current value.",
			New: func(inst provider.Instance, v cty.Value) (runbook.Action, error) {
				i, q, err := decodeQuery(inst, v, ActionQuery)
				if err != nil {
					return nil, err
				}
				return NewQuery(i, q)
			},
			NewProbe: func(inst provider.Instance, v cty.Value) (runbook.Probe, error) {
				i, q, err := decodeQuery(inst, v, ActionQuery)
				if err != nil {
					return nil, err
				}
				return NewQuery(i, q)
			},
		},
		ActionBaseline: {
			Args: provider.Schema{
				"query":  queryArgs["query"],
				"window": {Type: cty.String, Description: "How far back to look (default 30m)."},
				"offset": {Type: cty.String, Description: "End the window this long before now (default 0s)."},
				"step":   {Type: cty.String, Description: "Resolution (default window/120, at least 1s)."},
				"reduce": {Type: cty.String, Description: "How to reduce the points to value: " + strings.Join(reducers, ", ") + " (default avg)."},
			},
			Outputs: map[string]provider.Output{
				"value":   {Type: cty.Number, Description: "The reduced value."},
				"samples": {Type: cty.Number, Description: "Number of points used."},
				"avg":     {Type: cty.Number}, "min": {Type: cty.Number}, "max": {Type: cty.Number}, "last": {Type: cty.Number},
				"reduce": {Type: cty.String},
				"from":   {Type: cty.String, Description: "Start of the window (RFC 3339)."},
				"to":     {Type: cty.String, Description: "End of the window (RFC 3339)."},
			},
			ReadOnly:    true,
			Description: "Range query over a window before now, reduced to one value (the pre-deployment p95) for later gates.",
			New: func(inst provider.Instance, v cty.Value) (runbook.Action, error) {
				i, q, err := decodeQuery(inst, v, ActionBaseline)
				if err != nil {
					return nil, err
				}
				a := &ctyargs.Attrs{V: v, Where: ActionBaseline}
				cfg := BaselineConfig{Query: q, Window: a.Duration("window"), Offset: a.Duration("offset"), Step: a.Duration("step"), Reduce: a.Str("reduce")}
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewBaseline(i, cfg)
			},
		},
	}
}

func decodeQuery(inst provider.Instance, v cty.Value, action string) (*Instance, string, error) {
	i, ok := inst.(*Instance)
	if !ok || i == nil {
		name := "none"
		if inst != nil {
			name = inst.Name()
		}
		return nil, "", fmt.Errorf("%s: needs a prometheus provider instance, got %s", action, name)
	}
	a := &ctyargs.Attrs{V: v, Where: action}
	q := a.Str("query")
	return i, q, a.Err()
}
