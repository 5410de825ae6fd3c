package runbook_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// A runbook of three steps where the third fails: the two that completed are
// compensated in reverse order, and the run ends rolled back.
func Example() {
	step := func(name string, fail bool) runbook.Step {
		return runbook.Step{
			Name: name,
			Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
				if fail {
					return nil, errors.New("migration 016 failed")
				}
				return runbook.Outputs{"done": name}, nil
			}),
			Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
				fmt.Println("undo", env.Self()["done"])
				return nil
			})},
		}
	}
	plan, err := runbook.NewBuilder("release").
		Step(step("maintenance_on", false)).
		Step(step("backup", false)).
		Step(step("migrate", true)).
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	ex := &runbook.Executor{
		Clock: runbook.NewSimClock(time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)),
		Observer: runbook.ObserverFunc(func(e runbook.Event) {
			if f, ok := e.(runbook.NodeFailed); ok && f.Final {
				fmt.Println("failed:", f.Error)
			}
		}),
	}
	res, err := ex.Run(context.Background(), plan, runbook.RunOptions{RunID: "example"})
	fmt.Println("status:", res.Status)
	fmt.Println("compensated:", res.Compensated)
	fmt.Println(errors.Is(err, runbook.ErrGateFailed))
	// Output:
	// failed: migrate: migration 016 failed
	// undo backup
	// undo maintenance_on
	// status: rolled_back
	// compensated: [backup maintenance_on]
	// false
}

// A soak gate samples a probe every minute for fifteen minutes on a
// simulated clock, and fails at the first breach.
func ExampleGate_soak() {
	start := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)
	clock := runbook.NewSimClock(start)
	errorRate := runbook.ProbeFunc(func(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
		if env.Clock().Now().Sub(start) >= 9*time.Minute {
			return runbook.Sample{Value: 0.06}, nil // errors climb at minute 9
		}
		return runbook.Sample{Value: 0.001}, nil
	})
	plan, _ := runbook.NewBuilder("soak").Gate(runbook.Gate{
		Name: "soak_50", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: time.Minute,
		Checks: []runbook.Check{{
			Name: "error_rate", Probe: errorRate, Threshold: "< 0.01",
			Success: runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) { return v.(float64) < 0.01, nil }),
		}},
	}).Build()
	res, err := (&runbook.Executor{Clock: clock}).Run(context.Background(), plan, runbook.RunOptions{})
	fmt.Println(res.Status, errors.Is(err, runbook.ErrGateFailed))
	fmt.Println("failed after", clock.Now().Sub(start))
	fmt.Println(res.Err)
	// Output:
	// rolled_back true
	// failed after 9m0s
	// soak_50: runbook: gate failed: check error_rate breached: value 0.06, want < 0.01
}
