package runbook_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

var t0 = time.Date(2026, time.January, 1, 2, 0, 0, 0, time.UTC)

// world records what steps and rollbacks did to it, in order.
type world struct {
	mu  sync.Mutex
	ops []string
}

func (w *world) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops = append(w.ops, s)
}

func (w *world) log() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string{}, w.ops...)
}

// stepOpt adjusts a test step.
type stepOpt func(*runbook.Step, *stepCfg)

type stepCfg struct {
	err     error
	failN   int // fail the first failN attempts
	sleep   time.Duration
	panicV  any
	rbErr   int // compensation fails this many times (-1: always)
	noRb    bool
	outputs runbook.Outputs
}

func fails(err error) stepOpt { return func(_ *runbook.Step, c *stepCfg) { c.err = err } }
func failsFirst(n int) stepOpt {
	return func(_ *runbook.Step, c *stepCfg) { c.failN = n; c.err = errors.New("transient") }
}
func takes(d time.Duration) stepOpt        { return func(_ *runbook.Step, c *stepCfg) { c.sleep = d } }
func panics(v any) stepOpt                 { return func(_ *runbook.Step, c *stepCfg) { c.panicV = v } }
func rollbackFails(n int) stepOpt          { return func(_ *runbook.Step, c *stepCfg) { c.rbErr = n } }
func outputs(o runbook.Outputs) stepOpt    { return func(_ *runbook.Step, c *stepCfg) { c.outputs = o } }
func with(f func(s *runbook.Step)) stepOpt { return func(s *runbook.Step, _ *stepCfg) { f(s) } }

// step returns a step that logs "do NAME" to w (after waiting its duration
// on the run's clock) and whose rollback logs "undo NAME".
func (w *world) step(name string, opts ...stepOpt) runbook.Step {
	cfg := &stepCfg{}
	s := runbook.Step{Name: name}
	for _, o := range opts {
		o(&s, cfg)
	}
	var mu sync.Mutex
	n, rbn := 0, 0
	s.Action = runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
		mu.Lock()
		n++
		attempt := n
		mu.Unlock()
		if cfg.panicV != nil {
			panic(cfg.panicV)
		}
		if cfg.sleep > 0 {
			if err := env.Clock().Sleep(ctx, cfg.sleep); err != nil {
				w.add("cancelled " + name)
				return nil, err
			}
		}
		if cfg.err != nil && (cfg.failN == 0 || attempt <= cfg.failN) {
			w.add(fmt.Sprintf("fail %s", name))
			return nil, cfg.err
		}
		w.add("do " + name)
		out := runbook.Outputs{"name": name}
		for k, v := range cfg.outputs {
			out[k] = v
		}
		return out, nil
	})
	if !cfg.noRb {
		s.Rollbacks = []runbook.Rollback{runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
			if ctx.Err() != nil {
				return fmt.Errorf("rollback of %s ran under a cancelled context", name)
			}
			mu.Lock()
			rbn++
			k := rbn
			mu.Unlock()
			if cfg.rbErr < 0 || k <= cfg.rbErr {
				w.add("undo-fail " + name)
				return errors.New("rollback broke")
			}
			who, _ := env.Self()["name"].(string)
			w.add("undo " + who)
			return nil
		})}
	}
	return s
}

// constProbe returns the same value for every sample.
func constProbe(v any) runbook.Probe {
	return runbook.ProbeFunc(func(context.Context, *runbook.Env) (runbook.Sample, error) {
		return runbook.Sample{Value: v}, nil
	})
}

// seqProbe returns the values in turn, then the last one forever. A value
// of type error makes the probe fail; nil means no data.
func seqProbe(vals ...any) runbook.Probe {
	var mu sync.Mutex
	i := 0
	return runbook.ProbeFunc(func(context.Context, *runbook.Env) (runbook.Sample, error) {
		mu.Lock()
		v := vals[min(i, len(vals)-1)]
		i++
		mu.Unlock()
		switch x := v.(type) {
		case error:
			return runbook.Sample{}, x
		case nil:
			return runbook.Sample{NoData: true}, nil
		}
		return runbook.Sample{Value: v}, nil
	})
}

// timedProbe returns healthy until the clock reaches t0+at, then bad.
func timedProbe(at time.Duration, healthy, bad float64) runbook.Probe {
	return runbook.ProbeFunc(func(_ context.Context, env *runbook.Env) (runbook.Sample, error) {
		if env.Clock().Now().Before(t0.Add(at)) {
			return runbook.Sample{Value: healthy}, nil
		}
		return runbook.Sample{Value: bad}, nil
	})
}

func below(limit float64) runbook.Condition {
	return runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) {
		f, ok := v.(float64)
		if !ok {
			return false, fmt.Errorf("not a number: %v", v)
		}
		return f < limit, nil
	})
}

func above(limit float64) runbook.Condition {
	return runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) {
		return v.(float64) > limit, nil
	})
}

func build(name string, fn func(b *runbook.Builder)) (*runbook.Plan, error) {
	b := runbook.NewBuilder(name)
	fn(b)
	return b.Build()
}

func mustBuild(name string, fn func(b *runbook.Builder)) *runbook.Plan {
	p, err := build(name, fn)
	if err != nil {
		panic(err)
	}
	return p
}
