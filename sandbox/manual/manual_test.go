package manual_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
	"github.com/handrail-dev/handrail/sandbox/manual"
	"github.com/handrail-dev/handrail/steps"
)

func TestChecklistAsksEachItemInOrder(t *testing.T) {
	team := manual.NewInstance("team")
	list, err := manual.NewChecklist(team, manual.Checklist{Items: []string{"Code freeze initiated", "Security scans completed"}, Approvers: []string{"lead"}})
	require.NoError(t, err)
	task, err := manual.NewTask(team, manual.Task{Message: "Team present"})
	require.NoError(t, err)
	plan, err := runbook.NewBuilder("m").
		Step(runbook.Step{Name: "week_before", Action: list}).
		Step(runbook.Step{Name: "roll_call", Action: task}).
		Build()
	require.NoError(t, err)
	appr := runbooktest.NewApprover()
	h := runbooktest.New(t, plan, runbooktest.WithApprover(appr))
	h.Run()
	h.AssertStatus(runbook.StatusSucceeded)
	asked := appr.Asked()
	require.Len(t, asked, 3)
	assert.Equal(t, "[1/2] Code freeze initiated", asked[0].Message)
	assert.Equal(t, "[2/2] Security scans completed", asked[1].Message)
	assert.Equal(t, []string{"lead"}, asked[0].Approvers)
	assert.Equal(t, "manual", asked[0].Kind)
	assert.Equal(t, []any{"Code freeze initiated", "Security scans completed"}, h.Result.Nodes["week_before"].Outputs["confirmed"])
	assert.Equal(t, runbook.Description{Provider: "manual.team", Action: manual.ActionChecklist}, runbook.Describe(list))
}

func TestDeclinedItemFailsTheStep(t *testing.T) {
	list, err := manual.NewChecklist(manual.NewInstance("team"), manual.Checklist{Items: []string{"DR plan reviewed"}})
	require.NoError(t, err)
	plan, err := runbook.NewBuilder("m").Step(runbook.Step{Name: "two_days", Action: list}).Build()
	require.NoError(t, err)
	h := runbooktest.New(t, plan, runbooktest.WithApprover(runbooktest.NewApprover().Deny("two_days", "lead", "not yet")))
	h.Run()
	h.AssertStatus(runbook.StatusRolledBack)
	assert.True(t, errors.Is(h.Err, steps.ErrNotConfirmed))
}

func TestInvalidArguments(t *testing.T) {
	team := manual.NewInstance("team")
	_, err := manual.NewTask(team, manual.Task{})
	assert.ErrorIs(t, err, manual.ErrInvalid)
	_, err = manual.NewChecklist(team, manual.Checklist{Items: []string{"ok", " "}})
	assert.ErrorContains(t, err, "item #2 is empty")
	at := (&manual.Provider{}).Actions()[manual.ActionTask]
	_, err = at.New(nil, cty.ObjectVal(map[string]cty.Value{"message": cty.StringVal("x")}))
	assert.ErrorContains(t, err, "needs provider = manual.<name>")
	inst, err := (&manual.Provider{}).Configure(context.Background(), "team", cty.EmptyObjectVal)
	require.NoError(t, err)
	act, err := at.New(inst, cty.ObjectVal(map[string]cty.Value{"message": cty.StringVal("Dashboards ready"), "approvers": cty.NullVal(cty.List(cty.String)), "changes_world": cty.True}))
	require.NoError(t, err)
	ro, _ := act.(runbook.ReadOnly)
	require.NotNil(t, ro)
	assert.False(t, ro.ReadOnly(), "a task that changes the world is not read-only")
}
