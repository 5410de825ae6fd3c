package prometheus_test

import (
	"context"
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/providers/prometheus/prometheusfake"
	"github.com/handrail-dev/handrail/runbook"
)

// A baseline captured before the deployment, then a soak whose p95 must
// stay under 150% of it; the fake's p95 degrades 4 minutes into the soak.
func ExampleNewBaseline() {
	const p95 = `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))`
	world := prometheusfake.New()
	world.Script(p95).Value(0.120).AfterNode("soak", 4*time.Minute, 0.250)

	prom, _ := world.Provider().(*prometheus.Provider).NewInstance("main", prometheus.Config{URL: "http://prometheus:9090"})
	baseline, _ := prometheus.NewBaseline(prom, prometheus.BaselineConfig{Query: p95, Window: 30 * time.Minute})
	probe, _ := prometheus.NewQuery(prom, p95)

	b := runbook.NewBuilder("release")
	b.Step(runbook.Step{Name: "baseline", Action: baseline})
	b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: time.Minute, Uses: []string{"baseline"},
		Checks: []runbook.Check{{Name: "p95", Probe: probe, Threshold: "< 1.5 × baseline",
			Success: runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) {
				base, _ := env.Output("baseline")
				return v.(float64) < base["value"].(float64)*1.5, nil
			})}}})
	plan, _ := b.Build()
	clock := runbook.NewSimClock(time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC))
	res, err := (&runbook.Executor{Clock: clock, Observer: world}).Run(context.Background(), plan, runbook.RunOptions{})
	fmt.Println(res.Status, clock.Now().Format("15:04"))
	fmt.Println(err)
	// Output:
	// rolled_back 02:04
	// run rolled_back: soak: runbook: gate failed: check p95 breached: value 0.25, want < 1.5 × baseline
}
