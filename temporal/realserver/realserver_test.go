// Package realserver tests the Temporal runner against a real, in-process
// Temporal server (go.temporal.io/server/temporaltest). It is its own module
// because the server is a large build (about 10 minutes cold on 2 cores)
// and needs a patched copy of the server (see the script): run it with
// temporal/scripts/real-server-test, which scripts/test runs.
package realserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
	"github.com/handrail-dev/handrail/temporal"
)

type world struct {
	mu  sync.Mutex
	ops []string
}

func (w *world) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops = append(w.ops, s)
}

func (w *world) log() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string{}, w.ops...)
}

func (w *world) step(name string, fail bool) runbook.Step { return w.slowStep(name, fail, 0) }

// slowStep is step, taking at least d before it answers.
func (w *world) slowStep(name string, fail bool, d time.Duration) runbook.Step {
	return runbook.Step{
		Name: name,
		Action: runbook.ActionFunc(func(ctx context.Context, _ *runbook.Env) (runbook.Outputs, error) {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if fail {
				w.add("fail " + name)
				return nil, errors.New("boom")
			}
			w.add("do " + name)
			return runbook.Outputs{"name": name}, nil
		}),
		Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(_ context.Context, env *runbook.Env) error {
			w.add(fmt.Sprintf("undo %v", env.Self()["name"]))
			return nil
		})},
	}
}

// releasePlan: prepare, an approval, a parallel pair, a short soak, then
// release (failing when fail is set). Of the pair, web answers a second
// after api, so the completion order — and the compensation order, its
// reverse — is known: web, then api.
func releasePlan(t *testing.T, w *world, fail bool) *runbook.Plan {
	t.Helper()
	b := runbook.NewBuilder("real-release")
	b.Step(w.step("prepare", false))
	b.Gate(runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "Go?", Approvers: []string{"alice"}}})
	b.Parallel(func(b *runbook.Builder) {
		b.Step(w.step("api", false))
		b.Step(w.slowStep("web", false, time.Second))
	})
	b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Duration: 2 * time.Second, Every: 500 * time.Millisecond,
		Checks: []runbook.Check{{Name: "errors", Probe: runbook.ProbeFunc(func(context.Context, *runbook.Env) (runbook.Sample, error) {
			return runbook.Sample{Value: 0.001}, nil
		}), Success: runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) { return v.(float64) < 0.01, nil })}}})
	b.Step(w.step("release", fail))
	p, err := b.Build()
	require.NoError(t, err)
	return p
}

func newWorker(t *testing.T, c client.Client, queue string, p *runbook.Plan, obs runbook.Observer) worker.Worker {
	t.Helper()
	w, err := temporal.NewWorker(c, queue, temporal.Plans(p), temporal.Options{Observer: obs}, worker.Options{})
	require.NoError(t, err)
	require.NoError(t, w.Start())
	return w
}

// TestWorkerRestartMidRun starts a run on one worker, stops that worker
// while the run waits for its approval, answers the approval, and lets a
// second worker (a new process in real life) finish the run from the
// server's history. The history is then replayed, and written to
// ../testdata when HANDRAIL_RECORD_HISTORY is set (the default suite
// replays those files without a server).
func TestWorkerRestartMidRun(t *testing.T) {
	for _, tc := range []struct {
		name        string
		fail        bool
		status      runbook.Status
		ops         []string
		compensated []string
	}{
		{name: "approved", status: runbook.StatusSucceeded, ops: []string{"do prepare", "do api", "do web", "do release"}},
		{name: "failing", fail: true, status: runbook.StatusRolledBack,
			ops: []string{"do prepare", "do api", "do web", "fail release", "undo web", "undo api", "undo prepare"}, compensated: []string{"web", "api", "prepare"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := temporaltest.NewServer(temporaltest.WithT(t))
			c := ts.GetDefaultClient()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			const queue = "handrail-real"
			w := &world{}
			p := releasePlan(t, w, tc.fail)
			rec1 := &runbooktest.Recorder{}
			w1 := newWorker(t, c, queue, p, rec1)

			hc := temporal.Client{Temporal: c, TaskQueue: queue}
			run, err := hc.Start(ctx, p, temporal.StartOptions{WorkflowID: "release-" + tc.name, RunID: "run-" + tc.name, HeartbeatTimeout: 5 * time.Second})
			require.NoError(t, err)

			var waiting []temporal.Waiting
			require.Eventually(t, func() bool {
				waiting, err = hc.Waiting(ctx, run.GetID(), run.GetRunID())
				return err == nil && len(waiting) == 1
			}, 30*time.Second, 100*time.Millisecond)
			assert.Equal(t, "go_no_go", waiting[0].Node)
			assert.Equal(t, []string{"alice"}, waiting[0].Approvers)
			w1.Stop()

			rec2 := &runbooktest.Recorder{}
			w2 := newWorker(t, c, queue, p, rec2)
			defer w2.Stop()
			require.NoError(t, hc.Approve(ctx, run.GetID(), "go_no_go", "alice", "ship it"))

			res, err := temporal.Wait(ctx, run)
			if tc.status == runbook.StatusSucceeded {
				require.NoError(t, err)
			} else {
				var re *temporal.RunError
				require.ErrorAs(t, err, &re)
			}
			assert.Equal(t, tc.status, res.Status)
			assert.Equal(t, tc.ops[:1], w.log()[:1])
			assert.ElementsMatch(t, tc.ops, w.log())
			assert.Equal(t, tc.compensated, res.Compensated)
			assert.Equal(t, []string{"prepare"}, rec1.Completed(), "the first worker stopped after prepare")
			assert.NotContains(t, rec2.Completed(), "prepare", "the second worker did not run prepare again")

			hist := history(t, ctx, c, run)
			replayer := worker.NewWorkflowReplayer()
			r, err := temporal.NewRunner(temporal.Plans(p), temporal.Options{})
			require.NoError(t, err)
			r.RegisterWorkflow(replayer)
			require.NoError(t, replayer.ReplayWorkflowHistory(nil, hist))
			if os.Getenv("HANDRAIL_RECORD_HISTORY") != "" {
				b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(hist)
				require.NoError(t, err)
				path := filepath.Join("..", "testdata", "history-"+tc.name+".json")
				require.NoError(t, os.WriteFile(path, b, 0o644))
				t.Logf("wrote %s (%d events)", path, len(hist.Events))
			}
		})
	}
}

func history(t *testing.T, ctx context.Context, c client.Client, run client.WorkflowRun) *historypb.History {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	return h
}

// BenchmarkSequenceOnRealServer measures one run of a 50-step sequence of
// no-op steps on the in-process server: the orchestration overhead per step
// (an activity task round trip and a workflow task each).
func BenchmarkSequenceOnRealServer(b *testing.B) {
	const steps = 50
	bld := runbook.NewBuilder("bench-sequence")
	for i := 0; i < steps; i++ {
		bld.Step(runbook.Step{Name: fmt.Sprintf("s%02d", i), Irreversible: true,
			Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil })})
	}
	p, err := bld.Build()
	require.NoError(b, err)
	ts := temporaltest.NewServer()
	defer ts.Stop()
	c := ts.GetDefaultClient()
	const queue = "handrail-bench"
	w, err := temporal.NewWorker(c, queue, temporal.Plans(p), temporal.Options{}, worker.Options{})
	require.NoError(b, err)
	require.NoError(b, w.Start())
	defer w.Stop()
	hc := temporal.Client{Temporal: c, TaskQueue: queue}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run, err := hc.Start(ctx, p, temporal.StartOptions{WorkflowID: fmt.Sprintf("bench-%d", i)})
		require.NoError(b, err)
		res, err := temporal.Wait(ctx, run)
		require.NoError(b, err)
		require.Len(b, res.Completed, steps)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/steps, "ms/step")
}
