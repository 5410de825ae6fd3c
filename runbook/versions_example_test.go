package runbook_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// sqlStep is an action whose argument is its SQL: it fails on a typo, and
// fingerprints its argument so that an edit changes the node's hash.
type sqlStep struct{ sql string }

func (s sqlStep) Do(context.Context, *runbook.Env) (runbook.Outputs, error) {
	if strings.Contains(s.sql, "VEIW") {
		return nil, runbook.Permanent(errors.New(`syntax error at or near "VEIW"`))
	}
	fmt.Println("ran:", s.sql)
	return nil, nil
}

func (s sqlStep) Describe() runbook.Description {
	return runbook.Description{Provider: "db", Action: "sql"}
}

func (s sqlStep) Fingerprint() string { return s.sql }

// A step fails on a typo and aborts the run; the runbook is fixed and the
// run resumed with it: the comparison says what will run, and only the
// fixed step and what follows it run.
func ExampleExecutor_Compare() {
	build := func(view string) *runbook.Plan {
		undo := runbook.RollbackFunc(func(context.Context, *runbook.Env) error { return nil })
		p, _ := runbook.NewBuilder("release").
			Step(runbook.Step{Name: "backup", Action: sqlStep{"SELECT backup()"}, Rollbacks: []runbook.Rollback{undo}}).
			Step(runbook.Step{Name: "views", Action: sqlStep{view}, Rollbacks: []runbook.Rollback{undo}, OnFail: runbook.PolicyAbort}).
			Step(runbook.Step{Name: "grant", Action: sqlStep{"GRANT SELECT ON stats TO app"}, Rollbacks: []runbook.Rollback{undo}}).
			Build()
		return p
	}
	ctx := context.Background()
	ex := &runbook.Executor{Journal: &runbook.MemJournal{}, Clock: runbook.NewSimClock(time.Date(2026, 1, 4, 2, 0, 0, 0, time.UTC))}
	res, _ := ex.Run(ctx, build("CREATE VEIW stats AS SELECT 1"), runbook.RunOptions{RunID: "r1"})
	fmt.Println("first run:", res.Status)

	fixed := build("CREATE VIEW stats AS SELECT 1")
	cmp, _ := ex.Compare(ctx, fixed, "r1", "resume", runbook.RunOptions{})
	for _, c := range cmp.Nodes {
		fmt.Printf("%s: %s\n", c.Node, c.Change)
	}
	res, _ = ex.Resume(ctx, fixed, "r1", runbook.RunOptions{By: "alice", Reason: "VEIW -> VIEW"})
	fmt.Println("resumed:", res.Status)
	// Output:
	// ran: SELECT backup()
	// first run: aborted
	// backup: kept
	// views: re-run
	// grant: re-run
	// ran: CREATE VIEW stats AS SELECT 1
	// ran: GRANT SELECT ON stats TO app
	// resumed: succeeded
}
