package temporal_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/temporal"
)

// A plan built in Go runs as a workflow; its approval gate waits for a
// signal. Here the worker is Temporal's test environment; in production it
// is temporal.NewWorker(c, "releases", temporal.Plans(p), opts,
// worker.Options{}) and the run is started with temporal.Client.Start.
func Example() {
	say := func(what string) runbook.Action {
		return runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			fmt.Println(what)
			return nil, nil
		})
	}
	b := runbook.NewBuilder("hello")
	b.Step(runbook.Step{Name: "prepare", Action: say("prepared"), Irreversible: true})
	b.Gate(runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "Ship?", Approvers: []string{"alice"}}})
	b.Step(runbook.Step{Name: "ship", Action: say("shipped"), Irreversible: true})
	p, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	r, err := temporal.NewRunner(temporal.Plans(p), temporal.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	r.Register(env)
	// Alice approves an hour later (Client.Approve in production).
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(temporal.SignalDecision, temporal.ApprovalSignal{Node: "go_no_go", Approved: true, By: "alice"})
	}, time.Hour)
	in, err := temporal.NewInput(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	env.ExecuteWorkflow(temporal.WorkflowName, in)
	var res temporal.Result
	if err := env.GetWorkflowResult(&res); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Status, res.Completed, "approved by", res.Nodes["go_no_go"].Decision.By)
	// Output:
	// prepared
	// shipped
	// succeeded [prepare go_no_go ship] approved by alice
}
