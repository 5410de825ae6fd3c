package temporal_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/handrail-dev/handrail/temporal"
)

// The histories in testdata were recorded against a real Temporal server by
// temporal/scripts/real-server-test -record: a run whose first worker was
// stopped while the run waited for its approval, and which a second worker
// finished. Replaying them is what a new worker does when it takes over a
// run: it must take the same decisions from the same history, or Temporal
// fails the workflow task with a nondeterminism error.

func loadHistory(t *testing.T, name string) *historypb.History {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err, "recorded history; re-record with temporal/scripts/real-server-test -record")
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	require.NoError(t, err)
	return h
}

func replay(t *testing.T, h *historypb.History) error {
	t.Helper()
	r, err := temporal.NewRunner(temporal.Plans(), temporal.Options{})
	require.NoError(t, err)
	rp := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(rp)
	return rp.ReplayWorkflowHistory(nil, h)
}

func TestReplayRecordedHistories(t *testing.T) {
	for _, name := range []string{"history-approved.json", "history-failing.json"} {
		t.Run(name, func(t *testing.T) {
			h := loadHistory(t, name)
			require.NoError(t, replay(t, h), "the workflow takes the same decisions from its history")
		})
	}
}

// TestReplayUpToTheRestart replays the history only up to where the first
// worker stopped (waiting for the approval signal): the state a second
// worker rebuilds before it goes on.
func TestReplayUpToTheRestart(t *testing.T) {
	h := loadHistory(t, "history-approved.json")
	cut := -1
	for i, ev := range h.Events {
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED {
			cut = i
			break
		}
	}
	require.Positive(t, cut, "the recorded run was signalled")
	// Keep whole workflow tasks: end at the last task completed before the
	// signal.
	for cut > 0 && h.Events[cut-1].GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
		cut--
	}
	prefix := &historypb.History{Events: h.Events[:cut]}
	assert.NoError(t, replay(t, prefix))
}
