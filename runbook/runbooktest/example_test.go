package runbooktest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
)

func noop(name string) runbook.Step {
	return runbook.Step{
		Name:      name,
		Action:    runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil }),
		Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(context.Context, *runbook.Env) error { return nil })},
	}
}

func releasePlan() *runbook.Plan {
	b := runbook.NewBuilder("release")
	b.Step(noop("maintenance_on")).Step(noop("backup")).Step(noop("migrate")).Step(noop("images"))
	b.Gate(runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "Proceed?"}})
	b.Step(noop("shift_50"))
	b.Gate(runbook.Gate{Name: "soak_50", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: 30 * time.Second,
		Checks: []runbook.Check{{Name: "error_rate",
			Probe:   runbook.ProbeFunc(func(context.Context, *runbook.Env) (runbook.Sample, error) { return runbook.Sample{Value: 0.001}, nil }),
			Success: runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) { return v.(float64) < 0.01, nil })}}})
	b.Step(noop("maintenance_off"))
	p, err := b.Build()
	if err != nil {
		panic(err)
	}
	return p
}

// A soak breach at minute 9 rolls the release back in exactly the reverse
// order. In a test, pass t instead of the stand-in used here.
func Example() {
	t := &testing.T{}
	h := runbooktest.New(t, releasePlan(), runbooktest.BreachAt("soak_50", 9*time.Minute))
	res := h.Run()
	fmt.Println(res.Status, "after", h.Elapsed())
	fmt.Println("compensated:", h.Compensated())
	fmt.Println(h.AssertCompensated("shift_50", "images", "migrate", "backup", "maintenance_on"))
	// Output:
	// rolled_back after 9m0s
	// compensated: [shift_50 images migrate backup maintenance_on]
	// true
}

// A scripted approver says no at the Go/No-Go gate.
func ExampleApprover() {
	t := &testing.T{}
	approver := runbooktest.NewApprover().Deny("go_no_go", "release-manager", "p95 too high")
	h := runbooktest.New(t, releasePlan(), runbooktest.WithApprover(approver))
	res := h.Run()
	fmt.Println(res.Status)
	fmt.Println(res.Err)
	fmt.Println("asked:", approver.AskedNodes())
	// Output:
	// rolled_back
	// go_no_go: runbook: approval denied: denied by release-manager: p95 too high
	// asked: [go_no_go]
}

// Fail the first attempt of a step: without a retry policy the run rolls
// back what completed.
func ExampleFailAttempt() {
	t := &testing.T{}
	h := runbooktest.New(t, releasePlan(), runbooktest.FailAttempt("migrate", 1, nil))
	h.Run()
	fmt.Println(h.Result.Status, h.Executed(), h.Compensated())
	// Output:
	// rolled_back [maintenance_on backup migrate] [backup maintenance_on]
}
