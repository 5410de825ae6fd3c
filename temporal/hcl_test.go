package temporal_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
	"github.com/handrail-dev/handrail/sandbox"
	"github.com/handrail-dev/handrail/temporal"
)

// fakeTemporal records what the Client asks of Temporal.
type fakeTemporal struct {
	started  client.StartWorkflowOptions
	workflow any
	input    temporal.Input
	signals  []temporal.ApprovalSignal
}

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	f.started, f.workflow = o, wf
	f.input = args[0].(temporal.Input)
	return nil, nil
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, _, _, name string, arg any) error {
	if name != temporal.SignalDecision {
		return errors.New("unknown signal")
	}
	f.signals = append(f.signals, arg.(temporal.ApprovalSignal))
	return nil
}

func (f *fakeTemporal) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	return nil, errors.New("not implemented")
}

const release2 = "../examples/release-2/release-2.hcl"

// TestRelease2FromHCL starts the seed runbook (release-2.hcl, HCL with its
// auto var file, providers from the sandbox's fakes) with Client.StartFile,
// then runs the workflow input it sent in Temporal's test environment, with
// a worker holding the same plan; the two approval gates are approved by
// signal.
func TestRelease2FromHCL(t *testing.T) {
	ctx := context.Background()
	world, err := sandbox.ForRunbook(release2, t0)
	require.NoError(t, err)
	reg, err := world.Registry()
	require.NoError(t, err)
	fake := &fakeTemporal{}
	c := temporal.Client{Temporal: fake, TaskQueue: "releases"}
	_, rb, err := c.StartFile(ctx, release2, hcl.Options{Registry: reg, Now: func() time.Time { return t0 }}, temporal.StartOptions{RunID: "r2", OnlyUsedOutputs: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rb.Close() })
	assert.Equal(t, temporal.WorkflowName, fake.workflow)
	assert.Equal(t, "releases", fake.started.TaskQueue)
	assert.Equal(t, "handrail-release-2-r2", fake.started.ID)
	assert.Equal(t, rb.Plan().Hash(), fake.input.Shape.Hash)
	assert.NotEmpty(t, fake.input.Inputs)
	for _, in := range fake.input.Inputs {
		if in.Sensitive {
			assert.Empty(t, in.Value, "sensitive input %s travels without value", in.Name)
		}
	}

	var gates []string
	for _, n := range rb.Plan().Nodes() {
		if n.Gate != nil && n.Gate.Kind == runbook.GateApproval {
			gates = append(gates, n.Name)
		}
	}
	require.NotEmpty(t, gates)

	var s testsuite.WorkflowTestSuite
	s.SetLogger(quietLogger())
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	env.SetTestTimeout(60 * time.Second)
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
	rec := &runbooktest.Recorder{}
	// The fakes read a simulated clock; move it with the workflow's time,
	// which every event carries.
	sim := runbook.NewSimClock(t0)
	world.Reclock(sim)
	var mu sync.Mutex
	follow := runbook.ObserverFunc(func(ev runbook.Event) {
		mu.Lock()
		defer mu.Unlock()
		if d := ev.EventHeader().Time.Sub(sim.Now()); d > 0 {
			sim.Advance(d)
		}
	})
	r, err := temporal.NewRunner(temporal.Plans(rb.Plan()), temporal.Options{
		Observer: runbook.MultiObserver{follow, rec, world.Observer()},
		Redactor: rb.Redactor(),
		Approver: runbooktest.NewApprover(),
	})
	require.NoError(t, err)
	r.Register(env)
	// Approve each approval gate as soon as it waits.
	var poll func()
	poll = func() {
		v, err := env.QueryWorkflow(temporal.QueryWaiting)
		if err == nil {
			var waiting []temporal.Waiting
			if v.Get(&waiting) == nil {
				for _, wt := range waiting {
					by := "release-manager"
					if len(wt.Approvers) > 0 {
						by = wt.Approvers[0]
					}
					env.SignalWorkflow(temporal.SignalDecision, temporal.ApprovalSignal{Node: wt.Node, Approved: true, By: by})
				}
			}
		}
		if !env.IsWorkflowCompleted() {
			env.RegisterDelayedCallback(poll, 5*time.Minute)
		}
	}
	env.RegisterDelayedCallback(poll, 5*time.Minute)
	env.ExecuteWorkflow(temporal.WorkflowName, fake.input)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res temporal.Result
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, runbook.StatusSucceeded, res.Status, "error: %s", res.Error)
	for _, g := range gates {
		require.NotNil(t, res.Nodes[g].Decision, g)
		assert.True(t, res.Nodes[g].Decision.Approved, g)
	}
	assert.Len(t, res.Completed, len(rb.Plan().Nodes())-countGuards(rb.Plan()))
}

func countGuards(p *runbook.Plan) int {
	n := 0
	for _, node := range p.Nodes() {
		if node.Gate != nil && node.Gate.Kind == runbook.GateGuard {
			n++
		}
	}
	return n
}

func TestClientChecksItsSettings(t *testing.T) {
	ctx := context.Background()
	_, err := temporal.Client{}.Start(ctx, nil, temporal.StartOptions{})
	assert.ErrorContains(t, err, "no Temporal client")
	_, err = temporal.Client{Temporal: &fakeTemporal{}}.Start(ctx, nil, temporal.StartOptions{})
	assert.ErrorContains(t, err, "no task queue")
	_, _, err = temporal.Client{Temporal: &fakeTemporal{}, TaskQueue: "q"}.StartFile(ctx, "testdata/missing.hcl", hcl.Options{}, temporal.StartOptions{})
	assert.ErrorIs(t, err, runbook.ErrInvalidPlan)

	fake := &fakeTemporal{}
	c := temporal.Client{Temporal: fake, TaskQueue: "q"}
	require.NoError(t, c.Approve(ctx, "wf", "go_no_go", "alice", "ok"))
	require.NoError(t, c.Deny(ctx, "wf", "soak", "bob", "no"))
	assert.Equal(t, []temporal.ApprovalSignal{{Node: "go_no_go", Approved: true, By: "alice", Comment: "ok"}, {Node: "soak", By: "bob", Comment: "no"}}, fake.signals)
	assert.Error(t, c.Decide(ctx, "wf", "", temporal.ApprovalSignal{}))
}
