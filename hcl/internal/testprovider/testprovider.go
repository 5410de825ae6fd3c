// Package testprovider is a small in-memory provider for the hcl package's
// tests: a "demo" provider whose world is a key/value store with scripted
// metrics. It is intended for use only in test code.
package testprovider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// World is the fake world the demo provider acts on. It records every
// operation in order.
type World struct {
	mu      sync.Mutex
	values  map[string]string
	log     []string
	metrics map[string][]float64
	fail    map[string]bool
	// Configs records the configuration each instance received (unmarked).
	configs map[string]cty.Value
}

// NewWorld returns an empty world.
func NewWorld() *World {
	return &World{values: map[string]string{}, metrics: map[string][]float64{}, fail: map[string]bool{}, configs: map[string]cty.Value{}}
}

// Provider returns the demo provider acting on w.
func (w *World) Provider() provider.Provider { return &Provider{w: w} }

// Registry returns a registry holding only the demo provider.
func (w *World) Registry() *provider.Registry {
	r, err := provider.NewRegistry(w.Provider())
	if err != nil {
		panic(err) // cannot happen: one provider
	}
	return r
}

// Set presets a value.
func (w *World) Set(key, value string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.values[key] = value
}

// Value returns a value.
func (w *World) Value(key string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.values[key]
}

// FailKey makes every demo_set of key fail.
func (w *World) FailKey(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fail[key] = true
}

// Metric scripts the successive samples of a metric; the last repeats.
func (w *World) Metric(name string, samples ...float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.metrics[name] = samples
}

// Log returns the operations so far.
func (w *World) Log() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.log...)
}

// Config returns the configuration an instance received.
func (w *World) Config(name string) cty.Value {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.configs[name]
}

func (w *World) record(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, fmt.Sprintf(format, args...))
}

// Provider is the demo provider.
type Provider struct{ w *World }

// Type returns "demo".
func (p *Provider) Type() string { return "demo" }

// ConfigSchema returns the demo configuration schema.
func (p *Provider) ConfigSchema() provider.Schema {
	return provider.Schema{
		"endpoint": {Type: cty.String},
		"token":    {Type: cty.String, Sensitive: true},
		"via":      {Type: provider.InstanceType},
		"ca_file":  {Type: cty.String, LocalPath: true},
	}
}

// Instance is a configured demo provider.
type Instance struct {
	name string
	w    *World
	// Via is the instance this one tunnels through, if any.
	Via    provider.Instance
	Closed bool
}

// Name returns "demo.<name>".
func (i *Instance) Name() string { return i.name }

// Close marks the instance closed and records it.
func (i *Instance) Close() error {
	i.Closed = true
	i.w.record("%s closed", i.name)
	return nil
}

// NewInstance returns an instance for Go-built plans.
func (w *World) NewInstance(name string) *Instance { return &Instance{name: "demo." + name, w: w} }

// Configure returns an instance.
func (p *Provider) Configure(_ context.Context, name string, config cty.Value) (provider.Instance, error) {
	inst := &Instance{name: "demo." + name, w: p.w}
	if !config.IsNull() && config.Type().IsObjectType() && config.Type().HasAttribute("via") {
		if v := config.GetAttr("via"); !v.IsNull() {
			via, err := provider.InstanceFromValue(v)
			if err != nil {
				return nil, err
			}
			inst.Via = via
		}
	}
	p.w.mu.Lock()
	p.w.configs[inst.name] = config
	p.w.mu.Unlock()
	return inst, nil
}

// Actions returns demo_set (mutating, natural rollback), demo_read
// (read-only), demo_exec (mutating, no natural rollback), and the probes
// demo_metric and demo_ping, and demo_files (mutating: sets key to its
// local paths, file then files, joined by "|").
func (p *Provider) Actions() map[string]provider.ActionType {
	return map[string]provider.ActionType{
		"demo_files": {
			Args: provider.Schema{
				"key":   {Type: cty.String, Required: true},
				"file":  {Type: cty.String, LocalPath: true},
				"files": {Type: cty.List(cty.String), LocalPath: true},
			},
			Outputs:         map[string]provider.Output{"previous": {Type: cty.String}, "key": {Type: cty.String}},
			NaturalRollback: true,
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				paths := []string{str(args, "file")}
				if v := args.GetAttr("files"); !v.IsNull() {
					for it := v.ElementIterator(); it.Next(); {
						_, e := it.Element()
						paths = append(paths, e.AsString())
					}
				}
				return Set(inst.(*Instance), str(args, "key"), strings.Join(paths, "|")), nil
			},
		},
		"demo_set": {
			Args: provider.Schema{
				"key":    {Type: cty.String, Required: true},
				"value":  {Type: cty.String, Required: true},
				"secret": {Type: cty.String, Sensitive: true},
				"tags":   {Type: cty.Map(cty.String)},
			},
			Outputs: map[string]provider.Output{
				"previous": {Type: cty.String},
				"key":      {Type: cty.String},
				"token":    {Type: cty.String, Sensitive: true},
			},
			NaturalRollback: true,
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				i, ok := inst.(*Instance)
				if !ok {
					return nil, errors.New("demo_set: not a demo instance")
				}
				if v := str(args, "value"); strings.HasPrefix(v, "invalid:") {
					return nil, fmt.Errorf("demo_set: value %q is refused", v)
				}
				return Set(i, str(args, "key"), str(args, "value")), nil
			},
		},
		"demo_read": {
			Args:     provider.Schema{"key": {Type: cty.String, Required: true}},
			Outputs:  map[string]provider.Output{"value": {Type: cty.String}},
			ReadOnly: true,
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				return Read(inst.(*Instance), str(args, "key")), nil
			},
		},
		"demo_exec": {
			Args: provider.Schema{"command": {Type: cty.List(cty.String), Required: true}, "weight": {Type: cty.Number},
				"timeout": {Type: cty.String, Description: "shares its name with the step's meta-argument"}},
			Outputs: map[string]provider.Output{"stdout": {Type: cty.String}, "count": {Type: cty.Number}},
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				var argv []string
				if v := args.GetAttr("command"); !v.IsNull() {
					for it := v.ElementIterator(); it.Next(); {
						_, e := it.Element()
						argv = append(argv, e.AsString())
					}
				}
				a := Exec(inst.(*Instance), argv...)
				a.Timeout = str(args, "timeout")
				return a, nil
			},
		},
		"demo_ping": {
			Args: provider.Schema{"host": {Type: cty.String, Required: true}},
			NewProbe: func(inst provider.Instance, args cty.Value) (runbook.Probe, error) {
				host := str(args, "host")
				return runbook.ProbeFunc(func(context.Context, *runbook.Env) (runbook.Sample, error) {
					inst.(*Instance).w.record("%s ping %s", inst.Name(), host)
					return runbook.Sample{Value: 1}, nil
				}), nil
			},
		},
		"demo_metric": {
			Args:    provider.Schema{"metric": {Type: cty.String, Required: true}},
			Outputs: map[string]provider.Output{"latency": {Type: cty.Number}},
			NewProbe: func(inst provider.Instance, args cty.Value) (runbook.Probe, error) {
				return Metric(inst.(*Instance), str(args, "metric")), nil
			},
		},
	}
}

func str(args cty.Value, name string) string {
	if args.IsNull() || !args.Type().HasAttribute(name) {
		return ""
	}
	v := args.GetAttr(name)
	if v.IsNull() || !v.IsKnown() {
		return ""
	}
	return v.AsString()
}

// SetAction sets a key; its natural rollback restores the previous value.
type SetAction struct {
	inst       *Instance
	key, value string
}

// Set returns the demo_set action.
func Set(inst *Instance, key, value string) *SetAction {
	return &SetAction{inst: inst, key: key, value: value}
}

// Do sets the key.
func (a *SetAction) Do(_ context.Context, env *runbook.Env) (runbook.Outputs, error) {
	w := a.inst.w
	w.mu.Lock()
	if w.fail[a.key] {
		w.log = append(w.log, fmt.Sprintf("%s set %s=%s failed", a.inst.name, a.key, a.value))
		w.mu.Unlock()
		return nil, fmt.Errorf("demo_set %s: scripted failure", a.key)
	}
	prev := w.values[a.key]
	w.values[a.key] = a.value
	w.log = append(w.log, fmt.Sprintf("%s set %s=%s", a.inst.name, a.key, a.value))
	w.mu.Unlock()
	return runbook.Outputs{"previous": prev, "key": a.key, "token": env.AddSecret("tok-" + a.key + "-s3cr3t")}, nil
}

// Describe names the instance and action.
func (a *SetAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.name, Action: "demo_set"}
}

// NaturalRollback restores the previous value from the step's outputs.
func (a *SetAction) NaturalRollback() runbook.Rollback { return &restore{inst: a.inst, key: a.key} }

type restore struct {
	inst *Instance
	key  string
}

// Compensate puts the previous value back.
func (r *restore) Compensate(_ context.Context, env *runbook.Env) error {
	prev, _ := env.Self()["previous"].(string)
	r.inst.w.record("%s restore %s=%s", r.inst.name, r.key, prev)
	r.inst.w.mu.Lock()
	r.inst.w.values[r.key] = prev
	r.inst.w.mu.Unlock()
	return nil
}

// Describe names the instance and action.
func (r *restore) Describe() runbook.Description {
	return runbook.Description{Provider: r.inst.name, Action: "demo_set"}
}

// ReadAction reads a key.
type ReadAction struct {
	inst *Instance
	key  string
}

// Read returns the demo_read action.
func Read(inst *Instance, key string) *ReadAction { return &ReadAction{inst: inst, key: key} }

// Do reads the key.
func (a *ReadAction) Do(context.Context, *runbook.Env) (runbook.Outputs, error) {
	v := a.inst.w.Value(a.key)
	a.inst.w.record("%s read %s", a.inst.name, a.key)
	return runbook.Outputs{"value": v}, nil
}

// ReadOnly reports true.
func (a *ReadAction) ReadOnly() bool { return true }

// Describe names the instance and action.
func (a *ReadAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.name, Action: "demo_read"}
}

// ExecAction records a command.
type ExecAction struct {
	inst *Instance
	argv []string
	// Timeout is recorded with the command when set.
	Timeout string
}

// Exec returns the demo_exec action.
func Exec(inst *Instance, argv ...string) *ExecAction { return &ExecAction{inst: inst, argv: argv} }

// Do records the command.
func (a *ExecAction) Do(context.Context, *runbook.Env) (runbook.Outputs, error) {
	if a.Timeout != "" {
		a.inst.w.record("%s exec %v timeout=%s", a.inst.name, a.argv, a.Timeout)
	} else {
		a.inst.w.record("%s exec %v", a.inst.name, a.argv)
	}
	if len(a.argv) > 0 && a.argv[0] == "false" {
		return nil, errors.New("demo_exec: exit 1")
	}
	return runbook.Outputs{"stdout": fmt.Sprint(a.argv), "count": len(a.argv)}, nil
}

// Describe names the instance and action.
func (a *ExecAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.name, Action: "demo_exec"}
}

// MetricProbe samples a scripted metric.
type MetricProbe struct {
	inst *Instance
	name string
}

// Metric returns the demo_metric probe.
func Metric(inst *Instance, name string) *MetricProbe { return &MetricProbe{inst: inst, name: name} }

// Sample returns the next scripted value.
func (p *MetricProbe) Sample(context.Context, *runbook.Env) (runbook.Sample, error) {
	w := p.inst.w
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.metrics[p.name]
	if len(s) == 0 {
		return runbook.Sample{NoData: true}, nil
	}
	// The sample counter lives in the world so that probes rebuilt per
	// sample continue the script.
	k := "#" + p.name
	n := 0
	fmt.Sscan(w.values[k], &n)
	w.values[k] = fmt.Sprint(n + 1)
	if n >= len(s) {
		n = len(s) - 1
	}
	return runbook.Sample{Value: s[n], Outputs: runbook.Outputs{"latency": 12.5}}, nil
}

// Describe names the instance and probe.
func (p *MetricProbe) Describe() runbook.Description {
	return runbook.Description{Provider: p.inst.name, Action: "demo_metric"}
}

// Keys returns the world's keys, sorted (for tests).
func (w *World) Keys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ks []string
	for k := range w.values {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Compensate runs the command as a rollback.
func (a *ExecAction) Compensate(ctx context.Context, env *runbook.Env) error {
	_, err := a.Do(ctx, env)
	return err
}
