package runbook_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
)

// A failing step's partial outputs reach its own rollback, in the same
// process and in a later one that rolls back from the journal.
func TestPartialOutputsReachOwnRollback(t *testing.T) {
	var seen []any
	build := func() *runbook.Plan {
		b := runbook.NewBuilder("partial")
		b.Step(runbook.Step{
			Name: "migrate",
			Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
				return runbook.Outputs{"from_version": 14}, errors.New("016 failed")
			}),
			Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(_ context.Context, env *runbook.Env) error {
				seen = append(seen, env.Self()["from_version"])
				return nil
			})},
			RollbackOnFailure: true,
		})
		p, err := b.Build()
		require.NoError(t, err)
		return p
	}
	j := &runbook.MemJournal{}
	ex := &runbook.Executor{Clock: runbook.NewSimClock(time.Unix(0, 0)), Journal: j}
	res, err := ex.Run(context.Background(), build(), runbook.RunOptions{RunID: "r1"})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	require.Len(t, seen, 1)
	assert.EqualValues(t, 14, seen[0])

	recs, err := j.Load(context.Background(), "r1")
	require.NoError(t, err)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	assert.EqualValues(t, 14, st.Outputs["migrate"]["from_version"], "partial outputs are journaled")
}
