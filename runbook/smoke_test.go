package runbook_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

type rec struct {
	mu  sync.Mutex
	ops []string
}

func (r *rec) add(s string) { r.mu.Lock(); r.ops = append(r.ops, s); r.mu.Unlock() }

func step(r *rec, name string, fail bool) runbook.Step {
	return runbook.Step{Name: name,
		Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			r.add("do " + name)
			if fail {
				return nil, errors.New("boom")
			}
			return runbook.Outputs{"n": name}, nil
		}),
		Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
			r.add("undo " + env.Self()["n"].(string))
			return nil
		})},
	}
}

func TestSmoke(t *testing.T) {
	r := &rec{}
	b := runbook.NewBuilder("smoke")
	b.Step(step(r, "a", false)).Step(step(r, "b", false))
	b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: 30 * time.Second,
		Checks: []runbook.Check{{Name: "err", Probe: runbook.ProbeFunc(func(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
			return runbook.Sample{Value: 0.001}, nil
		}), Success: runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) { return v.(float64) < 0.01, nil })}}})
	b.Step(step(r, "c", true))
	p, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	clock := runbook.NewSimClock(time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC))
	j := &runbook.MemJournal{}
	ex := &runbook.Executor{Clock: clock, Journal: j}
	res, err := ex.Run(context.Background(), p, runbook.RunOptions{})
	if err == nil {
		t.Fatal("want error")
	}
	if res.Status != runbook.StatusRolledBack {
		t.Fatalf("status %s", res.Status)
	}
	t.Log(r.ops, res.Compensated, clock.Now())
	if got := clock.Now().Sub(time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)); got != 15*time.Minute {
		t.Fatalf("sim time %s", got)
	}
}
