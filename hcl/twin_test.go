package hcl_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
	"github.com/handrail-dev/handrail/runbook"
)

// rampInGo builds testdata/hcl/valid/ramp.hcl with the Go API and the demo
// provider's Go constructors.
func rampInGo(w *testprovider.World, version string) (*runbook.Plan, error) {
	lb, app := w.NewInstance("lb"), w.NewInstance("app")
	yes := runbook.ConditionFunc(func(*runbook.Env, any) (bool, error) { return true, nil })
	b := runbook.NewBuilder("ramp").Describe("Demo release with a ramp").Window(4 * time.Hour)
	b.Phase("prepare", func(b *runbook.Builder) {
		b.Step(runbook.Step{Name: "maintenance_on", Action: testprovider.Set(lb, "maintenance", "on"), Timeout: 5 * time.Minute, Budget: 5 * time.Minute})
		b.Step(runbook.Step{Name: "backup", Action: testprovider.Exec(app, "backup", version),
			Retry:     runbook.Retry{Attempts: 3, Delay: 10 * time.Second},
			Rollbacks: []runbook.Rollback{testprovider.Exec(app, "delete-backup")}})
	})
	b.Phase("deploy", func(b *runbook.Builder) {
		b.Step(runbook.Step{Name: "image", Action: testprovider.Set(app, "image", "app:"+version), DependsOn: []string{"backup"}, Uses: []string{"maintenance_on"}})
		b.Gate(runbook.Gate{Name: "healthy", Kind: runbook.GateCheck, Every: 10 * time.Second, Timeout: 5 * time.Minute,
			Checks: []runbook.Check{{Name: "up", Probe: testprovider.Metric(app, "health"), Success: yes, Threshold: "self.value >= 1"}}})
	})
	b.Phase("ramp", func(b *runbook.Builder) {
		for _, w := range []int{10, 50, 100} {
			b.Step(runbook.Step{Name: fmt.Sprintf("shift[%d]", w), Action: testprovider.Set(lb, "weight", fmt.Sprint(w))})
			b.Gate(runbook.Gate{Name: fmt.Sprintf("watch[%d]", w), Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: 30 * time.Second,
				Checks: []runbook.Check{{Name: "errors", Probe: testprovider.Metric(app, "errors"), Success: yes, Failure: yes,
					FailureLimit: 2, Message: "error rate too high", Threshold: "self.value < 0.01"}}})
		}
	})
	b.Gate(runbook.Gate{Name: "go", Kind: runbook.GateApproval, Approval: &runbook.Approval{
		Message: "Shift done, keep " + version + "?", Approvers: []string{"lead"}, Timeout: 30 * time.Minute}})
	b.Step(runbook.Step{Name: "final", Action: testprovider.Read(lb, "weight"), Uses: []string{"go"},
		When: func(context.Context, *runbook.Env) (bool, error) { return true, nil }})
	return b.Build()
}

func TestSameGraphFromBothFronts(t *testing.T) {
	w := testprovider.NewWorld()
	goPlan, err := rampInGo(w, "0.3.0")
	require.NoError(t, err)
	src, err := os.ReadFile("../testdata/hcl/valid/ramp.hcl")
	require.NoError(t, err)
	rb, diags := hcl.LoadSource(context.Background(), "ramp.hcl", src, hcl.Options{Registry: w.Registry(), Vars: map[string]string{"version": "0.3.0"}})
	require.False(t, diags.HasErrors(), diags.Error())
	require.Equal(t, goPlan.Dump(), rb.Plan().Dump())
	require.Equal(t, goPlan.Hash(), rb.Plan().Hash())
}

// gatesInGo builds testdata/hcl/valid/gates.hcl with the Go API.
func gatesInGo(w *testprovider.World) (*runbook.Plan, error) {
	m := w.NewInstance("main")
	yes := runbook.ConditionFunc(func(*runbook.Env, any) (bool, error) { return true, nil })
	b := runbook.NewBuilder("gates").Describe("Every gate knob: limits, dry runs, guards")
	b.Step(runbook.Step{Name: "baseline", Action: testprovider.Read(m, "p95"), OnFail: runbook.PolicyRollback})
	b.Step(runbook.Step{Name: "traffic_10", Action: testprovider.Set(m, "weight", "10"), OnFail: runbook.PolicyRollback})
	b.Gate(runbook.Gate{Name: "error_budget", Kind: runbook.GateGuard, From: "traffic_10", Until: "maintenance_off", Every: 15 * time.Second,
		OnFail: runbook.PolicyRollback, OnInconclusive: runbook.PolicyContinue, Uses: []string{"baseline"},
		Checks: []runbook.Check{
			{Name: "errors", Probe: testprovider.Metric(m, "errors"), Success: yes, Threshold: "self.value < 0.05"},
			{Name: "latency", Probe: testprovider.Metric(m, "p95"), Success: yes, Threshold: "self.value < 1.5 * tonumber(step.baseline.value)", NoData: runbook.NoDataWait},
		}})
	b.Gate(runbook.Gate{Name: "healthy", Kind: runbook.GateCheck, Every: 5 * time.Second, InitialDelay: 10 * time.Second, Timeout: 2 * time.Minute,
		Checks: []runbook.Check{{Name: "up", Probe: testprovider.Metric(m, "health"), Success: yes, Threshold: "self.value == 1", ErrorLimit: 3, Message: "the service did not come up"}}})
	b.Gate(runbook.Gate{Name: "watch", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: 30 * time.Second, OnFail: runbook.PolicyPause, OnInconclusive: runbook.PolicyRollback,
		Checks: []runbook.Check{
			{Name: "error_rate", Probe: testprovider.Metric(m, "errors"), Success: yes, Failure: yes, Threshold: "self.value < 0.01", FailureLimit: 2, Tolerate: 1, InconclusiveLimit: 3, NoData: runbook.NoDataFail},
			{Name: "new_threshold", Probe: testprovider.Metric(m, "errors"), Success: yes, Threshold: "< 0.5%", Tolerate: 1, DryRun: true},
		}})
	b.Gate(runbook.Gate{Name: "count_only", Kind: runbook.GateSoak, Every: time.Minute, Count: 5,
		Checks: []runbook.Check{{Name: "latency", Probe: testprovider.Metric(m, "p95"), Success: yes, Threshold: "self.latency < 200", Count: 5}}})
	b.Gate(runbook.Gate{Name: "go", Kind: runbook.GateApproval, OnFail: runbook.PolicyAbort,
		Approval: &runbook.Approval{Message: "Errors stayed low. Open to everyone?", Approvers: []string{"lead", "sre"}, Timeout: 30 * time.Minute, OnTimeout: true}})
	b.Step(runbook.Step{Name: "maintenance_off", Action: testprovider.Set(m, "maintenance", "off"), PointOfNoReturn: true, Idempotent: true, OnFail: runbook.PolicyContinue})
	return b.Build()
}

func TestSameGraphFromBothFrontsGates(t *testing.T) {
	w := testprovider.NewWorld()
	goPlan, err := gatesInGo(w)
	require.NoError(t, err)
	rb, diags := hcl.Load(context.Background(), "../testdata/hcl/valid/gates.hcl", hcl.Options{Registry: w.Registry()})
	require.False(t, diags.HasErrors(), diags.Error())
	require.Equal(t, goPlan.Dump(), rb.Plan().Dump())
}
