package temporal_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/temporal"
)

// loseWorkerOnce replaces the step activity: the first attempt of node
// loses its worker (a heartbeat timeout); every other call succeeds,
// returning the node's name as output.
func loseWorkerOnce(node string, calls *[]string) tOpt {
	var mu sync.Mutex
	lost := false
	return func(env *testsuite.TestWorkflowEnvironment, _ *temporal.Input) {
		env.OnActivity(temporal.ActivityStep, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in temporal.StepInput) (temporal.StepOutput, error) {
				mu.Lock()
				defer mu.Unlock()
				*calls = append(*calls, in.Node)
				if in.Node == node && !lost {
					lost = true
					return temporal.StepOutput{}, sdktemporal.NewHeartbeatTimeoutError()
				}
				return temporal.StepOutput{Outputs: runbook.Outputs{"name": in.Node}, Attempt: 1}, nil
			})
	}
}

// TestStepInDoubtAfterALostWorker: a step whose worker is lost mid-attempt
// is in doubt, as after a crash of the local executor: an idempotent one
// runs again, a non-idempotent one waits for a person to choose rerun,
// done or compensate (by signal, with the choice).
func TestStepInDoubtAfterALostWorker(t *testing.T) {
	for _, tc := range []struct {
		name        string
		idempotent  bool
		choice      string
		status      runbook.Status
		calls       []string
		ops         []string
		compensated []string
	}{
		{name: "idempotent runs again", idempotent: true, status: runbook.StatusSucceeded, calls: []string{"backup", "migrate", "migrate", "finish"}},
		{name: "rerun", choice: "rerun", status: runbook.StatusSucceeded, calls: []string{"backup", "migrate", "migrate", "finish"}},
		{name: "done", choice: "done", status: runbook.StatusSucceeded, calls: []string{"backup", "migrate", "finish"}},
		{name: "compensate", choice: "compensate", status: runbook.StatusRolledBack, calls: []string{"backup", "migrate"},
			ops: []string{"undo ", "undo backup"}, compensated: []string{"migrate", "backup"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{}
			p := mustBuild(t, "indoubt", func(b *runbook.Builder) {
				b.Step(w.step("backup"))
				b.Step(w.step("migrate", with(func(s *runbook.Step) { s.Idempotent = tc.idempotent })))
				b.Step(w.step("finish"))
			})
			var calls []string
			var waiting []temporal.Waiting
			opts := []tOpt{loseWorkerOnce("migrate", &calls)}
			if tc.choice != "" {
				opts = append(opts, func(env *testsuite.TestWorkflowEnvironment, _ *temporal.Input) {
					env.RegisterDelayedCallback(func() {
						v, err := env.QueryWorkflow(temporal.QueryWaiting)
						require.NoError(t, err)
						require.NoError(t, v.Get(&waiting))
						env.SignalWorkflow(temporal.SignalDecision, temporal.ApprovalSignal{Node: "migrate", Choice: "maybe", By: "bob"})
						env.SignalWorkflow(temporal.SignalDecision, temporal.ApprovalSignal{Node: "migrate", Choice: tc.choice, By: "bob"})
					}, time.Hour)
				})
			}
			tr := runOnTemporal(t, p, nil, opts...)
			require.NoError(t, tr.err)
			assert.Equal(t, tc.status, tr.result.Status, tr.result.Error)
			assert.Equal(t, tc.calls, calls)
			assert.Equal(t, tc.compensated, tr.result.Compensated)
			if tc.ops != nil {
				assert.Equal(t, tc.ops, w.log())
			}
			if tc.choice != "" {
				require.Len(t, waiting, 1)
				assert.Equal(t, "in-doubt", waiting[0].Kind)
				assert.Equal(t, []string{"rerun", "compensate", "done"}, waiting[0].Choices)
			}
		})
	}
}
