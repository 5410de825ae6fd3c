package aws_test

import (
	"context"
	"errors"
	"testing"
	"time"

	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	ruleARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/dcmms/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
	oldTG   = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dcmms-0-2-9/73e2d6bc24d8a067"
	newTG   = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dcmms-0-3-0/2453ed029918f21f"
	otherTG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/other/0000000000000000"
)

func newELBWorld(t testing.TB, maxAttempts int) (*elbServer, *aws.Instance) {
	t.Helper()
	s := newELBServer(t)
	sticky := true
	s.setRule(ruleARN,
		elbAction{Type: "authenticate-oidc", Order: 1, OIDC: map[string]string{"Issuer": "https://idp.example.com", "ClientId": "dcmms",
			"AuthorizationEndpoint": "https://idp.example.com/auth", "TokenEndpoint": "https://idp.example.com/token", "UserInfoEndpoint": "https://idp.example.com/userinfo"}},
		elbAction{Type: "forward", Order: 2, TGs: []elbTG{{oldTG, 100}, {newTG, 0}}, Sticky: &sticky, StickySecs: 300})
	inst, err := aws.NewInstance("prod", aws.Config{Region: "eu-west-1", AccessKeyID: "AKIDTEST", SecretAccessKey: "s3cr3t-key",
		ELBv2Endpoint: s.srv.URL, MaxAttempts: maxAttempts, RetryMaxBackoff: 5 * time.Millisecond})
	require.NoError(t, err)
	return s, inst
}

func setWeights(t *testing.T, inst *aws.Instance, w map[string]int) (*aws.WeightsAction, runbook.Outputs, error) {
	t.Helper()
	a, err := aws.NewWeights(inst, aws.WeightsArgs{RuleARN: ruleARN, Weights: w})
	require.NoError(t, err)
	out, err := a.Do(context.Background(), envAt(time.Now()))
	return a, out, err
}

func TestWeightsRampAndRollback(t *testing.T) {
	s, inst := newELBWorld(t, 3)
	type done struct {
		a   *aws.WeightsAction
		out runbook.Outputs
	}
	var steps []done
	for _, pct := range []int{10, 50, 100} {
		a, out, err := setWeights(t, inst, map[string]int{oldTG: 100 - pct, newTG: pct})
		require.NoError(t, err)
		assert.Equal(t, map[string]int{oldTG: 100 - pct, newTG: pct}, s.weights(ruleARN))
		assert.Equal(t, true, out["changed"])
		steps = append(steps, done{a, out})
	}
	assert.Equal(t, map[string]any{oldTG: int64(100), newTG: int64(0)}, steps[0].out["previous_weights"])
	assert.Equal(t, map[string]any{oldTG: int64(50), newTG: int64(50)}, steps[2].out["previous_weights"])

	// What ModifyRule sent: every action back, the OIDC one keeping its
	// stored secret, the forward one with stickiness and no TargetGroupArn.
	f := s.lastForm("ModifyRule")
	assert.Equal(t, ruleARN, f.Get("RuleArn"))
	assert.Equal(t, "authenticate-oidc", f.Get("Actions.member.1.Type"))
	assert.Equal(t, "1", f.Get("Actions.member.1.Order"))
	assert.Equal(t, "true", f.Get("Actions.member.1.AuthenticateOidcConfig.UseExistingClientSecret"))
	assert.Equal(t, "https://idp.example.com", f.Get("Actions.member.1.AuthenticateOidcConfig.Issuer"))
	assert.Equal(t, "forward", f.Get("Actions.member.2.Type"))
	assert.Equal(t, "", f.Get("Actions.member.2.TargetGroupArn"))
	assert.Equal(t, "true", f.Get("Actions.member.2.ForwardConfig.TargetGroupStickinessConfig.Enabled"))
	assert.Equal(t, "300", f.Get("Actions.member.2.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds"))
	assert.Empty(t, f.Get("Conditions.member.1.Field"), "conditions are left alone")

	// Roll back in reverse order, from journaled outputs only (a fresh
	// action, as after a crash).
	for i := len(steps) - 1; i >= 0; i-- {
		fresh, err := aws.NewWeights(inst, aws.WeightsArgs{RuleARN: ruleARN, Weights: map[string]int{oldTG: 1}})
		require.NoError(t, err)
		require.NoError(t, fresh.NaturalRollback().Compensate(context.Background(), rollbackEnv(t, steps[i].out)))
	}
	assert.Equal(t, map[string]int{oldTG: 100, newTG: 0}, s.weights(ruleARN), "after rollback the rule is back at 100/0")
}

func TestWeightsErrors(t *testing.T) {
	tests := []struct {
		name     string
		weights  map[string]int
		throttle int
		rule     string
		check    func(t *testing.T, s *elbServer, out runbook.Outputs, err error)
	}{
		{name: "rule not found", rule: ruleARN + "0", weights: map[string]int{oldTG: 50},
			check: func(t *testing.T, s *elbServer, _ runbook.Outputs, err error) {
				var rnf *elbtypes.RuleNotFoundException
				require.ErrorAs(t, err, &rnf)
				assert.True(t, runbook.IsPermanent(err))
				assert.Equal(t, 1, s.count("DescribeRules"), "not retried")
			}},
		{name: "target group not in the rule", weights: map[string]int{oldTG: 50, otherTG: 50},
			check: func(t *testing.T, s *elbServer, _ runbook.Outputs, err error) {
				require.ErrorIs(t, err, aws.ErrRule)
				assert.True(t, runbook.IsPermanent(err))
				assert.Contains(t, err.Error(), "target group "+otherTG+" is not in the rule's forward action; the rule forwards to: "+oldTG+", "+newTG)
				assert.Equal(t, 0, s.count("ModifyRule"))
			}},
		{name: "throttled, retried by the SDK, then success", weights: map[string]int{oldTG: 90, newTG: 10}, throttle: 2,
			check: func(t *testing.T, s *elbServer, out runbook.Outputs, err error) {
				require.NoError(t, err)
				// 2 throttled + 1 to capture, + 1 read-modify-write before ModifyRule.
				assert.Equal(t, 4, s.count("DescribeRules"))
				assert.Equal(t, 1, s.count("ModifyRule"))
				assert.Equal(t, map[string]int{oldTG: 90, newTG: 10}, s.weights(ruleARN))
			}},
		{name: "throttled beyond max_attempts", weights: map[string]int{oldTG: 90, newTG: 10}, throttle: 10,
			check: func(t *testing.T, s *elbServer, _ runbook.Outputs, err error) {
				var api smithy.APIError
				require.ErrorAs(t, err, &api)
				assert.Equal(t, "Throttling", api.ErrorCode())
				assert.False(t, runbook.IsPermanent(err), "the step's retry policy may try again later")
				assert.Equal(t, 3, s.count("DescribeRules"))
			}},
		{name: "already there: no ModifyRule", weights: map[string]int{oldTG: 100},
			check: func(t *testing.T, s *elbServer, out runbook.Outputs, err error) {
				require.NoError(t, err)
				assert.Equal(t, false, out["changed"])
				assert.Equal(t, 0, s.count("ModifyRule"))
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, inst := newELBWorld(t, 3)
			s.throttle["DescribeRules"] = tc.throttle
			rule := tc.rule
			if rule == "" {
				rule = ruleARN
			}
			a, err := aws.NewWeights(inst, aws.WeightsArgs{RuleARN: rule, Weights: tc.weights})
			require.NoError(t, err)
			out, err := a.Do(context.Background(), envAt(time.Now()))
			tc.check(t, s, out, err)
		})
	}
}

func TestWeightsValidation(t *testing.T) {
	inst, err := aws.NewInstance("x", aws.Config{Region: "eu-west-1"})
	require.NoError(t, err)
	tests := []struct {
		name string
		args aws.WeightsArgs
		want string
	}{
		{"weight above 999", aws.WeightsArgs{RuleARN: ruleARN, Weights: map[string]int{oldTG: 1000}}, "weight 1000 for " + oldTG + " is out of range: ELBv2 takes 0 to 999"},
		{"negative weight", aws.WeightsArgs{RuleARN: ruleARN, Weights: map[string]int{oldTG: -1}}, "out of range"},
		{"no weights", aws.WeightsArgs{RuleARN: ruleARN}, "weights is empty"},
		{"not an ARN", aws.WeightsArgs{RuleARN: "my-rule", Weights: map[string]int{oldTG: 1}}, "rule_arn \"my-rule\" is not an ARN"},
		{"target group not an ARN", aws.WeightsArgs{RuleARN: ruleARN, Weights: map[string]int{"blue": 1}}, "\"blue\" is not a target group ARN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := aws.NewWeights(inst, tc.args)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestTargetHealthSDK(t *testing.T) {
	s, inst := newELBWorld(t, 3)
	s.health[newTG] = []elbTarget{{ID: "i-1", Port: 8080, State: "healthy"}, {ID: "i-2", Port: 8080, State: "unhealthy", Reason: "Target.FailedHealthChecks"}, {ID: "i-3", Port: 8080, State: "healthy"}}
	s.health[oldTG] = []elbTarget{{ID: "i-9", Port: 8080, State: "healthy"}}

	two := 2
	a, err := aws.NewTargetHealth(inst, aws.TargetHealthArgs{TargetGroupARN: newTG, Others: []string{oldTG}, MinHealthy: &two})
	require.NoError(t, err)
	smp, err := a.Sample(context.Background(), envAt(time.Now()))
	require.NoError(t, err)
	assert.Equal(t, int64(2), smp.Value)
	assert.Equal(t, int64(3), smp.Outputs["total"])
	assert.Equal(t, map[string]any{"healthy": int64(2), "unhealthy": int64(1)}, smp.Outputs["states"])
	assert.Equal(t, map[string]any{"healthy": int64(1), "unhealthy": int64(0), "total": int64(1)}, smp.Outputs["groups"].(map[string]any)[oldTG])

	out, err := a.Do(context.Background(), envAt(time.Now()))
	require.NoError(t, err)
	assert.Equal(t, int64(2), out["value"])

	s.mu.Lock()
	s.health[newTG][0].State = "draining"
	s.mu.Unlock()
	_, err = a.Do(context.Background(), envAt(time.Now()))
	require.ErrorIs(t, err, aws.ErrUnhealthy)
	assert.Contains(t, err.Error(), "1 of 3 healthy, want at least 2 (states: draining=1 healthy=1 unhealthy=1)")

	missing, err := aws.NewTargetHealth(inst, aws.TargetHealthArgs{TargetGroupARN: otherTG})
	require.NoError(t, err)
	_, err = missing.Sample(context.Background(), envAt(time.Now()))
	var tgnf *elbtypes.TargetGroupNotFoundException
	require.True(t, errors.As(err, &tgnf), "got %v", err)
}
