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

// weightsWorld is a load balancer rule whose weights a step changes.
type weightsWorld struct{ weights string }

// setWeights captures the previous weights, checkpoints them, then changes
// the world; a retried attempt reuses the checkpointed capture.
func setWeights(w *weightsWorld, to string, failAfterChange *int) runbook.Action {
	return runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
		prev := w.weights
		if cp := env.Checkpointed(); cp != nil {
			prev = cp["previous"].(string)
		}
		if err := env.Checkpoint(ctx, runbook.Outputs{"previous": prev}); err != nil {
			return nil, err
		}
		w.weights = to
		if *failAfterChange > 0 {
			*failAfterChange--
			return nil, errors.New("response lost after the change")
		}
		return runbook.Outputs{"now": to}, nil
	})
}

func restore(w *weightsWorld, seen *[]string) runbook.Rollback {
	return runbook.RollbackFunc(func(_ context.Context, env *runbook.Env) error {
		prev, _ := env.Self()["previous"].(string)
		*seen = append(*seen, prev)
		w.weights = prev
		return nil
	})
}

func TestCheckpointSurvivesRetryAndFailure(t *testing.T) {
	w := &weightsWorld{weights: "100/0"}
	fails := 1
	var seen []string
	b := runbook.NewBuilder("checkpoint")
	b.Step(runbook.Step{Name: "shift", Action: setWeights(w, "90/10", &fails), Rollbacks: []runbook.Rollback{restore(w, &seen)},
		Retry: runbook.Retry{Attempts: 2, Delay: time.Second}})
	b.Step(runbook.Step{Name: "boom", Irreversible: true, Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
		return nil, runbook.Permanent(errors.New("boom"))
	})})
	p, err := b.Build()
	require.NoError(t, err)
	j := &runbook.MemJournal{}
	ex := &runbook.Executor{Clock: runbook.NewSimClock(time.Unix(0, 0)), Journal: j}
	res, err := ex.Run(context.Background(), p, runbook.RunOptions{RunID: "c1"})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	// The retry captured "90/10" from the world but used the checkpoint.
	assert.Equal(t, []string{"100/0"}, seen)
	assert.Equal(t, "100/0", w.weights)
	assert.Equal(t, "100/0", res.Nodes["shift"].Outputs["previous"], "checkpoint merged under outputs")
}

func TestCheckpointOfInDoubtStepRolledBackLater(t *testing.T) {
	w := &weightsWorld{weights: "100/0"}
	var seen []string
	never := 0
	b := runbook.NewBuilder("checkpoint")
	b.Step(runbook.Step{Name: "shift", Action: setWeights(w, "90/10", &never), Rollbacks: []runbook.Rollback{restore(w, &seen)}, RollbackOnFailure: true})
	p, err := b.Build()
	require.NoError(t, err)
	// A process that died after the checkpoint and the change, before
	// recording success.
	j := &runbook.MemJournal{}
	ctx := context.Background()
	require.NoError(t, j.Append(ctx,
		runbook.Record{Run: "c2", Kind: runbook.RecRunStarted, Runbook: "checkpoint", PlanHash: p.Hash()},
		runbook.Record{Run: "c2", Kind: runbook.RecNodeStarted, Node: "shift", Attempt: 1},
		runbook.Record{Run: "c2", Kind: runbook.RecCheckpoint, Node: "shift", Attempt: 1, Outputs: runbook.Outputs{"previous": "100/0"}},
	))
	w.weights = "90/10"
	ex := &runbook.Executor{Clock: runbook.NewSimClock(time.Unix(0, 0)), Journal: j}
	res, err := ex.Rollback(ctx, p, "c2", runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, []string{"100/0"}, seen)
	assert.Equal(t, "100/0", w.weights)
}
