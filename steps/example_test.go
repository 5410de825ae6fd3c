package steps_test

import (
	"context"
	"fmt"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/steps"
)

// A local command as a step, with its compensation; each line it prints is
// reported as an event.
func ExampleExec() {
	plan, err := runbook.NewBuilder("demo").
		Step(runbook.Step{
			Name:      "announce",
			Action:    steps.Exec([]string{"echo", "maintenance on"}),
			Rollbacks: []runbook.Rollback{steps.Exec([]string{"echo", "maintenance off"})},
		}).
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	ex := &runbook.Executor{Observer: runbook.ObserverFunc(func(e runbook.Event) {
		if l, ok := e.(runbook.OutputLine); ok {
			fmt.Printf("%s %s: %s\n", l.Node, l.Stream, l.Line)
		}
	})}
	res, _ := ex.Run(context.Background(), plan, runbook.RunOptions{})
	fmt.Println(res.Status, res.Nodes["announce"].Outputs["exit_code"])
	// Output:
	// announce stdout: maintenance on
	// succeeded 0
}
