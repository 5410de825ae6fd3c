package pgjournal_test

import (
	"context"
	"fmt"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/journal/pgjournal"
	"github.com/handrail-dev/handrail/runbook"
)

// A team shares its runs in PostgreSQL: the schema is created on first use,
// the run lock is an advisory lock, and any machine can list, resume or roll
// back a run. (Not run: it needs a server.)
func ExampleOpen() {
	ctx := context.Background()
	j, err := pgjournal.Open(ctx, "postgres://handrail@db.internal:5432/ops?sslmode=verify-full", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer j.Close()

	p, _ := runbook.NewBuilder("release-2").Step(runbook.Step{Name: "announce", Irreversible: true,
		Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) { return nil, nil })}).Build()
	ex := &runbook.Executor{Journal: j}
	if _, err := ex.Run(ctx, p, runbook.RunOptions{LockKey: "release-2@production"}); err != nil {
		fmt.Println(err)
	}
	runs, err := journal.List(ctx, j, 20)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range runs {
		fmt.Println(s.ID, s.State, s.LeftToUndo)
	}
}
