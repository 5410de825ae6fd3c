package gates_test

import (
	"context"
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/gates"
	"github.com/handrail-dev/handrail/runbook"
)

// A soak that keeps p95 under 150% of the baseline measured before the
// deployment, on a simulated clock: latency climbs at minute 6.
func ExampleRelativeTo() {
	start := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)
	clock := runbook.NewSimClock(start)
	p95 := runbook.ProbeFunc(func(_ context.Context, env *runbook.Env) (runbook.Sample, error) {
		if env.Clock().Now().Sub(start) >= 6*time.Minute {
			return runbook.Sample{Value: 180.0}, nil
		}
		return runbook.Sample{Value: 110.0}, nil
	})
	b := runbook.NewBuilder("ramp")
	b.Step(runbook.Step{Name: "baseline", Action: baseline{}})
	b.Gate(gates.Soak("soak_10", 15*time.Minute, gates.Every(time.Minute),
		gates.Watch("p95", p95, gates.RelativeTo("baseline", "p95", 1.5))))
	plan, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	res, _ := (&runbook.Executor{Clock: clock}).Run(context.Background(), plan, runbook.RunOptions{})
	fmt.Println(res.Status, "after", clock.Now().Sub(start))
	fmt.Println(res.Err)
	// Output:
	// rolled_back after 6m0s
	// soak_10: runbook: gate failed: check p95 breached: value 180, want < 1.5 × step.baseline.p95
}

// baseline measures p95 before the deployment (read-only).
type baseline struct{}

func (baseline) Do(context.Context, *runbook.Env) (runbook.Outputs, error) {
	return runbook.Outputs{"p95": 120.0}, nil
}
func (baseline) ReadOnly() bool { return true }
