package filejournal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/runbook"
)

// A run journaled in a state directory is rolled back later, by another
// executor, from the journal alone.
func Example() {
	dir, _ := os.MkdirTemp("", "handrail-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	j, err := filejournal.Open(filejournal.DirFor(filepath.Join(dir, "release-2.hcl")), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer j.Close()

	image := "dcmms/backend:0.2.9"
	b := runbook.NewBuilder("release-2")
	b.Step(runbook.Step{Name: "deploy",
		Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			prev := image
			image = "dcmms/backend:0.3.0"
			return runbook.Outputs{"previous_image": prev}, nil
		}),
		Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
			image = env.Self()["previous_image"].(string)
			return nil
		})},
	})
	p, _ := b.Build()
	start := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	ex := &runbook.Executor{Journal: j, Clock: runbook.NewSimClock(start)}
	if _, err := ex.Run(ctx, p, runbook.RunOptions{RunID: "20261126T020000Z-r2"}); err != nil {
		fmt.Println(err)
	}
	fmt.Println("after the run:", image)

	// While a run holds the lock, a second apply is refused.
	unlock, _ := j.Lock(ctx, "release-2")
	_, err = ex.Run(ctx, p, runbook.RunOptions{})
	fmt.Println("second apply refused:", errors.Is(err, journal.ErrLocked))
	_ = unlock.Release()

	// Later (the bake window showed a problem), in another process.
	later := &runbook.Executor{Journal: j, Clock: runbook.NewSimClock(start.Add(2 * time.Hour))}
	if _, err := later.Rollback(ctx, p, "20261126T020000Z-r2", runbook.RunOptions{}); err != nil {
		fmt.Println(err)
	}
	fmt.Println("after the rollback:", image)

	runs, _ := journal.List(ctx, j, 10)
	for _, s := range runs {
		fmt.Println(s.ID, s.State, s.Modes, "left to undo:", s.LeftToUndo)
	}
	// Output:
	// after the run: dcmms/backend:0.3.0
	// second apply refused: true
	// after the rollback: dcmms/backend:0.2.9
	// 20261126T020000Z-r2 rolled_back [run rollback] left to undo: []
}
