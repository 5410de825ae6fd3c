package gates_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/gates"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
	"github.com/handrail-dev/handrail/steps"
)

func value(v any) runbook.Probe {
	return runbook.ProbeFunc(func(context.Context, *runbook.Env) (runbook.Sample, error) { return runbook.Sample{Value: v}, nil })
}

func TestConstructors(t *testing.T) {
	probe := value(0.001)
	soak := gates.Soak("soak_50", 15*time.Minute, gates.Every(30*time.Second), gates.InitialDelay(time.Minute), gates.Budget(16*time.Minute),
		gates.OnFail(runbook.PolicyPause), gates.OnInconclusive(runbook.PolicyRollback), gates.DependsOn("shift_50"), gates.Describe("watch the 50% ramp"),
		gates.Watch("error_rate", probe, gates.Below(0.01), gates.Tolerate(2), gates.FailureLimit(3), gates.ErrorLimit(4), gates.InconclusiveLimit(5),
			gates.NoData(runbook.NoDataWait), gates.Message("error rate above 1%"), gates.CheckEvery(time.Minute), gates.CheckCount(9), gates.CheckInitialDelay(time.Second)),
		gates.Watch("p95", probe, gates.RelativeTo("baseline", "p95", 1.5), gates.FailWhen(gates.Above(1000)), gates.DryRun()),
		gates.Uses("baseline", "other"))
	assert.Equal(t, runbook.GateSoak, soak.Kind)
	assert.Equal(t, "soak_50", soak.Name)
	assert.Equal(t, 15*time.Minute, soak.Duration)
	assert.Equal(t, 30*time.Second, soak.Every)
	assert.Equal(t, time.Minute, soak.InitialDelay)
	assert.Equal(t, 16*time.Minute, soak.Budget)
	assert.Equal(t, runbook.PolicyPause, soak.OnFail)
	assert.Equal(t, runbook.PolicyRollback, soak.OnInconclusive)
	assert.Equal(t, []string{"shift_50"}, soak.DependsOn)
	assert.Equal(t, []string{"baseline", "other"}, soak.Uses, "RelativeTo declares its baseline once")
	require.Len(t, soak.Checks, 2)
	c := soak.Checks[0]
	assert.Equal(t, "< 0.01", c.Threshold)
	assert.Equal(t, [...]int{2, 3, 4, 5, 9}, [...]int{c.Tolerate, c.FailureLimit, c.ErrorLimit, c.InconclusiveLimit, c.Count})
	assert.Equal(t, runbook.NoDataWait, c.NoData)
	assert.Equal(t, "error rate above 1%", c.Message)
	assert.Equal(t, time.Minute, c.Every)
	assert.Equal(t, time.Second, c.InitialDelay)
	assert.Equal(t, "< 1.5 × step.baseline.p95; fail when > 1000", soak.Checks[1].Threshold)
	assert.True(t, soak.Checks[1].DryRun)
	assert.NotNil(t, soak.Checks[1].Failure)

	check := gates.Check("healthy", gates.Timeout(2*time.Minute), gates.Count(3), gates.Watch("status", probe, gates.Between(200, 299)))
	assert.Equal(t, runbook.GateCheck, check.Kind)
	assert.Equal(t, 2*time.Minute, check.Timeout)
	assert.Equal(t, "between 200 and 299", check.Checks[0].Threshold)

	guard := gates.Guard("error_guard", "traffic_10", "maintenance_off", gates.Watch("e", probe, gates.Below(0.05)))
	assert.Equal(t, runbook.GateGuard, guard.Kind)
	assert.Equal(t, [2]string{"traffic_10", "maintenance_off"}, [2]string{guard.From, guard.Until})

	appr := gates.Approval("go_no_go", "Proceed to 100%?", gates.Approvers("release-manager", "cto"), gates.TimeoutDefault(30*time.Minute, false))
	require.NotNil(t, appr.Approval)
	assert.Equal(t, runbook.Approval{Message: "Proceed to 100%?", Approvers: []string{"release-manager", "cto"}, Timeout: 30 * time.Minute}, *appr.Approval)
	appr2 := gates.Approval("a", "m", gates.Timeout(time.Minute))
	assert.Equal(t, time.Minute, appr2.Approval.Timeout)
	assert.Zero(t, appr2.Timeout)

	// The gates built here compile into a valid plan.
	b := runbook.NewBuilder("gates")
	b.Step(runbook.Step{Name: "baseline", Action: steps.Sleep(0)})
	b.Step(runbook.Step{Name: "shift_50", Action: steps.Sleep(0)})
	b.Step(runbook.Step{Name: "other", Action: steps.Sleep(0)})
	b.Gate(soak).Gate(check).Gate(appr)
	_, err := b.Build()
	require.NoError(t, err)
}

func TestThresholds(t *testing.T) {
	tests := []struct {
		th    gates.Threshold
		value any
		want  bool
		err   bool
	}{
		{gates.Below(0.01), 0.001, true, false},
		{gates.Below(0.01), 0.01, false, false},
		{gates.Below(200), 150, true, false},
		{gates.Below(200), int64(250), false, false},
		{gates.Below(200), "199.5", true, false},
		{gates.Below(200), json.Number("201"), false, false},
		{gates.Above(0.99), 0.995, true, false},
		{gates.Above(0.99), float32(0.5), false, false},
		{gates.Between(200, 299), 204, true, false},
		{gates.Between(200, 299), 299, true, false},
		{gates.Between(200, 299), 503, false, false},
		{gates.Below(1), "n/a", false, true},
		{gates.Below(1), nil, false, true},
		{gates.Below(1), map[string]any{}, false, true},
		{gates.Threshold{}, 1.0, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.th.String(), func(t *testing.T) {
			got, err := tc.th.Holds(nil, tc.value)
			if tc.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "%v", tc.value)
		})
	}
	_, err := gates.Below(1).Holds(nil, "x")
	assert.ErrorIs(t, err, gates.ErrNotANumber)
}

func TestRelativeToBaseline(t *testing.T) {
	tests := []struct {
		name    string
		p95     float64
		outputs runbook.Outputs
		status  runbook.Status
		errHas  string
	}{
		{"under 150% of the pre-deployment p95", 140, runbook.Outputs{"p95": 100.0}, runbook.StatusSucceeded, ""},
		{"over 150% of the pre-deployment p95", 151, runbook.Outputs{"p95": 100.0}, runbook.StatusRolledBack, "want < 1.5 × step.baseline.p95"},
		{"baseline given as a string", 140, runbook.Outputs{"p95": "100"}, runbook.StatusSucceeded, ""},
		{"baseline output missing", 140, runbook.Outputs{"p99": 100.0}, runbook.StatusRolledBack, `no output "p95"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := runbook.NewBuilder("relative")
			b.Step(runbook.Step{Name: "baseline", Action: readOnly(tc.outputs)})
			b.Gate(gates.Soak("watch", 5*time.Minute, gates.Every(time.Minute),
				gates.Watch("p95", value(tc.p95), gates.RelativeTo("baseline", "p95", 1.5))))
			p, err := b.Build()
			require.NoError(t, err)
			h := runbooktest.New(t, p)
			h.Run()
			h.AssertStatus(tc.status)
			if tc.errHas != "" {
				assert.ErrorContains(t, h.Err, tc.errHas)
			}
		})
	}
	t.Run("a baseline that comes later is a forward reference", func(t *testing.T) {
		b := runbook.NewBuilder("relative")
		b.Gate(gates.Soak("watch", 5*time.Minute, gates.Watch("p95", value(1.0), gates.RelativeTo("baseline", "p95", 1.5))))
		b.Step(runbook.Step{Name: "baseline", Action: readOnly(nil)})
		_, err := b.Build()
		assert.ErrorContains(t, err, `reads outputs of "baseline", which comes later in the plan`)
	})
}

type readOnly runbook.Outputs

func (r readOnly) Do(context.Context, *runbook.Env) (runbook.Outputs, error) {
	return runbook.Outputs(r), nil
}
func (readOnly) ReadOnly() bool { return true }

func TestApprovers(t *testing.T) {
	ctx := context.Background()
	req := runbook.ApprovalRequest{Node: "go", Message: "go?"}
	d, err := gates.AutoApprove{}.Approve(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, runbook.Decision{Approved: true, By: "auto-approve", Override: true}, d)
	d, _ = gates.AutoApprove{By: "ci"}.Approve(ctx, req)
	assert.Equal(t, "ci", d.By)
	d, _ = gates.Deny{Reason: "freeze"}.Approve(ctx, req)
	assert.Equal(t, runbook.Decision{By: "deny", Comment: "freeze", Override: true}, d)
	d, _ = gates.Func(func(_ context.Context, r runbook.ApprovalRequest) (runbook.Decision, error) {
		return runbook.Decision{Approved: r.Node == "go", By: "callback"}, nil
	}).Approve(ctx, req)
	assert.True(t, d.Approved)
}

func TestApproversInARun(t *testing.T) {
	// A person who never answers: waits on the run's clock until the
	// request's context ends.
	silentOn := func(clock runbook.Clock) runbook.Approver {
		return gates.Func(func(ctx context.Context, _ runbook.ApprovalRequest) (runbook.Decision, error) {
			_ = clock.Sleep(ctx, 24*time.Hour)
			return runbook.Decision{}, ctx.Err()
		})
	}
	tests := []struct {
		name     string
		approver func(clock runbook.Clock) runbook.Approver
		status   runbook.Status
		elapsed  time.Duration
		by       string
	}{
		{"auto-approve", func(runbook.Clock) runbook.Approver { return gates.AutoApprove{By: "ci"} }, runbook.StatusSucceeded, 0, "ci"},
		{"deny", func(runbook.Clock) runbook.Approver { return gates.Deny{By: "freeze-bot", Reason: "change freeze"} }, runbook.StatusRolledBack, 0, ""},
		{"timeout with default yes", func(c runbook.Clock) runbook.Approver { return gates.WithTimeout(silentOn(c), c, 10*time.Minute, true) }, runbook.StatusSucceeded, 10 * time.Minute, "timeout"},
		{"timeout with default no", func(c runbook.Clock) runbook.Approver {
			return gates.WithTimeout(silentOn(c), c, 10*time.Minute, false)
		}, runbook.StatusRolledBack, 10 * time.Minute, ""},
		{"an answer before the timeout wins", func(c runbook.Clock) runbook.Approver {
			return gates.WithTimeout(gates.AutoApprove{By: "alice"}, c, 10*time.Minute, false)
		}, runbook.StatusSucceeded, 0, "alice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := runbook.NewBuilder("approvers")
			b.Step(runbook.Step{Name: "deploy", Action: steps.Sleep(0)})
			b.Step(runbook.Step{Name: "smoke_ok", Action: steps.Manual("Smoke tests look right?")})
			p, err := b.Build()
			require.NoError(t, err)
			clock := runbook.NewSimClock(runbooktest.Start)
			h := runbooktest.New(t, p, runbooktest.WithClock(clock), runbooktest.WithApprover(tc.approver(clock)))
			h.Run()
			h.AssertStatus(tc.status)
			assert.Equal(t, tc.elapsed, clock.Now().Sub(runbooktest.Start))
			if tc.by != "" {
				assert.Equal(t, tc.by, h.Result.Nodes["smoke_ok"].Outputs["confirmed_by"])
			}
		})
	}
}
