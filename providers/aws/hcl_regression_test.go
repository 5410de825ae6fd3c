package aws_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/sandbox"
)

// The reproduction as a user writes it: an elbv2_weights step with
// retry { attempts = 2 } whose first ModifyRule applies and then loses its
// answer (a connection reset), then a smoke test that fails. The run must
// end rolled_back with traffic back at 100/0, not stuck at 90/10.
func TestLostModifyRuleAnswerInAnHCLRunbook(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	w, rb, err := sandbox.Load(ctx, "testdata/lost-answer.hcl", start,
		map[string]string{"rule_arn": ruleARN, "old_tg_arn": oldTG, "new_tg_arn": newTG})
	require.NoError(t, err)
	defer rb.Close()
	w.AWS.SetRule(ruleARN, aws.TargetWeight{TargetGroupARN: oldTG, Weight: 100}, aws.TargetWeight{TargetGroupARN: newTG, Weight: 0})
	w.Exec.On("smoke-test", "...").Exit(1).Stderr("GET / returned 502")
	w.AWS.Faults().Arm("ModifyRule", fault.Fault{Kind: fault.After})

	ex := &runbook.Executor{Clock: w.Clock, Journal: &runbook.MemJournal{}, Observer: w.Observer()}
	res, err := ex.Run(ctx, rb.Plan(), runbook.RunOptions{RunID: "hcl-lost-answer"})
	require.Error(t, err)
	var se *runbook.StepError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, "smoke", se.Node)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, 2, res.Nodes["traffic"].Attempts)
	assert.Equal(t, []string{"traffic"}, res.Compensated)
	assert.Equal(t, map[string]int{oldTG: 100, newTG: 0}, w.AWS.Weights(ruleARN), "traffic is back on the old version")
	assert.Equal(t, 1, w.AWS.Faults().Fired("ModifyRule"))
}
