package temporal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// WorkflowClient is what [Client] needs of a Temporal client; a
// client.Client satisfies it.
type WorkflowClient interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
}

var _ WorkflowClient = client.Client(nil)

// Client starts Handrail runs on Temporal, answers their approvals and
// reads what they wait for.
type Client struct {
	// Temporal is the Temporal client.
	Temporal WorkflowClient
	// TaskQueue is the queue the workers of these runbooks poll.
	TaskQueue string
}

// StartOptions configure one run.
type StartOptions struct {
	// WorkflowID names the workflow (default "handrail-<runbook>-<run id>");
	// Temporal refuses a second open workflow with the same ID, which makes
	// it a natural lock per release.
	WorkflowID string
	// RunID names the run in events (default: a new engine.NewRunID).
	RunID string
	// Inputs are the run's variables; sensitive ones travel without value.
	Inputs []runbook.Input
	// Parallelism, StepTimeout, HeartbeatTimeout, RollbackTimeout,
	// RollbackRetry and OnlyUsedOutputs: see [Input].
	Parallelism      int
	StepTimeout      time.Duration
	HeartbeatTimeout time.Duration
	RollbackTimeout  time.Duration
	RollbackRetry    *runbook.Retry
	OnlyUsedOutputs  bool
	// Workflow overrides other Temporal start options (timeouts, search
	// attributes); its ID and TaskQueue are set from the fields above.
	Workflow client.StartWorkflowOptions
}

func (c Client) check() error {
	if c.Temporal == nil {
		return errors.New("temporal: Client has no Temporal client: dial one with client.Dial")
	}
	if c.TaskQueue == "" {
		return errors.New("temporal: Client has no task queue: set TaskQueue to the queue its workers poll")
	}
	return nil
}

// Start starts a run of p. The workers on the task queue must hold p (same
// hash): see [Plans].
func (c Client) Start(ctx context.Context, p *runbook.Plan, o StartOptions) (client.WorkflowRun, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	in, err := NewInput(p)
	if err != nil {
		return nil, err
	}
	in.RunID = o.RunID
	if in.RunID == "" {
		in.RunID = engine.NewRunID(time.Now())
	}
	for _, v := range o.Inputs {
		if v.Sensitive {
			v.Value = ""
		}
		in.Inputs = append(in.Inputs, v)
	}
	in.Parallelism, in.StepTimeout, in.HeartbeatTimeout = o.Parallelism, o.StepTimeout, o.HeartbeatTimeout
	in.RollbackTimeout, in.RollbackRetry, in.OnlyUsedOutputs = o.RollbackTimeout, o.RollbackRetry, o.OnlyUsedOutputs
	wo := o.Workflow
	wo.ID = o.WorkflowID
	if wo.ID == "" {
		wo.ID = "handrail-" + p.Name + "-" + in.RunID
	}
	wo.TaskQueue = c.TaskQueue
	run, err := c.Temporal.ExecuteWorkflow(ctx, wo, WorkflowName, in)
	if err != nil {
		return nil, fmt.Errorf("temporal: starting run %s of %s: %w", in.RunID, p.Name, err)
	}
	return run, nil
}

// StartFile loads the runbook file at path with the given variables and
// provider registry (see hcl.Load) and starts a run of its plan, with its
// variables as the run's inputs. It returns the loaded runbook too: a
// worker in the same process serves it with Plans(rb.Plan()); Close it when
// the worker stops.
func (c Client) StartFile(ctx context.Context, path string, hopts hcl.Options, o StartOptions) (client.WorkflowRun, *hcl.Runbook, error) {
	if err := c.check(); err != nil {
		return nil, nil, err
	}
	rb, diags := hcl.Load(ctx, path, hopts)
	if diags.HasErrors() {
		var sb strings.Builder
		_ = rb.WriteDiagnostics(&sb, diags, 0, false)
		return nil, rb, fmt.Errorf("temporal: loading %s: %w\n%s", path, runbook.ErrInvalidPlan, sb.String())
	}
	if o.Inputs == nil {
		o.Inputs = rb.Inputs()
	}
	run, err := c.Start(ctx, rb.Plan(), o)
	return run, rb, err
}

// Decide sends a decision to what the run waits on at node.
func (c Client) Decide(ctx context.Context, workflowID, runID string, s ApprovalSignal) error {
	if c.Temporal == nil {
		return errors.New("temporal: Client has no Temporal client: dial one with client.Dial")
	}
	if s.Node == "" {
		return errors.New("temporal: a decision names the node it answers (ApprovalSignal.Node)")
	}
	if err := c.Temporal.SignalWorkflow(ctx, workflowID, runID, SignalDecision, s); err != nil {
		return fmt.Errorf("temporal: signalling %s of %s: %w", s.Node, workflowID, err)
	}
	return nil
}

// Approve approves what the run waits on at node.
func (c Client) Approve(ctx context.Context, workflowID, node, by, comment string) error {
	return c.Decide(ctx, workflowID, "", ApprovalSignal{Node: node, Approved: true, By: by, Comment: comment})
}

// Deny denies what the run waits on at node.
func (c Client) Deny(ctx context.Context, workflowID, node, by, comment string) error {
	return c.Decide(ctx, workflowID, "", ApprovalSignal{Node: node, Approved: false, By: by, Comment: comment})
}

// Waiting returns what the run waits on, and for whom.
func (c Client) Waiting(ctx context.Context, workflowID, runID string) ([]Waiting, error) {
	var out []Waiting
	if err := c.query(ctx, workflowID, runID, QueryWaiting, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Progress returns the run's result so far (Status is empty, "running" or
// "rolling_back" until it ends).
func (c Client) Progress(ctx context.Context, workflowID, runID string) (*Result, error) {
	var out Result
	if err := c.query(ctx, workflowID, runID, QueryProgress, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c Client) query(ctx context.Context, workflowID, runID, name string, out any) error {
	if c.Temporal == nil {
		return errors.New("temporal: Client has no Temporal client: dial one with client.Dial")
	}
	v, err := c.Temporal.QueryWorkflow(ctx, workflowID, runID, name)
	if err != nil {
		return fmt.Errorf("temporal: query %s of %s: %w", name, workflowID, err)
	}
	if err := v.Get(out); err != nil {
		return fmt.Errorf("temporal: query %s of %s: %w", name, workflowID, err)
	}
	return nil
}

// RunError is returned by [Wait] for a run that did not succeed.
type RunError struct {
	Status  runbook.Status
	Err     string
	Pending []string
}

// Error implements error.
func (e *RunError) Error() string {
	msg := fmt.Sprintf("run %s: %s", e.Status, e.Err)
	if len(e.Pending) > 0 {
		msg += "; left to undo: " + strings.Join(e.Pending, ", ")
	}
	return msg
}

// Wait waits for the run to end and returns its result; unless it
// succeeded, the error is a *[RunError].
func Wait(ctx context.Context, run client.WorkflowRun) (*Result, error) {
	var res Result
	if err := run.Get(ctx, &res); err != nil {
		return nil, fmt.Errorf("temporal: run %s: %w", run.GetID(), err)
	}
	return checkResult(&res)
}

func checkResult(res *Result) (*Result, error) {
	if res.Status == runbook.StatusSucceeded {
		return res, nil
	}
	return res, &RunError{Status: res.Status, Err: res.Error, Pending: res.Pending}
}
