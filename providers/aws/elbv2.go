package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	"github.com/handrail-dev/handrail/runbook"
)

// MaxWeight is the largest weight ELBv2 accepts for a target group.
const MaxWeight = 999

// permanentELB marks errors no retry can fix (see permanentIf).
func permanentELB(err error) error { return permanentIf(err) }

// permanentIf marks errors no retry can fix: a missing rule, target group,
// bucket or object, a rule that cannot take the weights, a checksum
// mismatch, and other client faults of the service (validation, not
// permitted, access denied). Throttling has already been retried by the
// SDK and stays retryable for the step's own retry policy, as do server
// faults and network errors.
func permanentIf(err error) error {
	if err == nil || runbook.IsPermanent(err) {
		return err
	}
	var rnf *elbtypes.RuleNotFoundException
	var tgnf *elbtypes.TargetGroupNotFoundException
	if errors.Is(err, ErrRule) || errors.Is(err, ErrChecksum) || errors.Is(err, ErrNotFound) ||
		errors.As(err, &rnf) || errors.As(err, &tgnf) {
		return runbook.Permanent(err)
	}
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorFault() == smithy.FaultClient {
		switch code := api.ErrorCode(); {
		case strings.Contains(code, "Throttl"), code == "RequestLimitExceeded", code == "TooManyRequestsException",
			code == "SlowDown", code == "ExpiredToken", code == "RequestExpired", code == "RequestTimeout":
			return err
		}
		return runbook.Permanent(err)
	}
	return err
}

// ---- elbv2_weights ----

// WeightsArgs are the arguments of elbv2_weights.
type WeightsArgs struct {
	// RuleARN is the listener rule whose forward action is changed.
	RuleARN string
	// Weights maps target group ARNs to weights (0-999). Groups of the rule
	// not named keep their weight; naming a group the rule does not forward
	// to is an error.
	Weights map[string]int
}

// WeightsAction sets the weights of a listener rule's forward action (the
// seed's traffic ramp 90/10, 50/50, 0/100). It captures the weights before
// the change in its outputs; its natural rollback restores them exactly.
type WeightsAction struct {
	inst *Instance
	args WeightsArgs
}

// NewWeights returns the elbv2_weights action. Outputs: rule_arn,
// previous_weights and weights (maps of target group ARN to weight, every
// group of the rule), target_groups (the rule's groups in order), changed.
// previous_weights is checkpointed before ModifyRule, so that the rollback
// of an attempt whose answer was lost, retried, or cut short by a crash
// restores the weights from before the step's first attempt.
func NewWeights(inst *Instance, a WeightsArgs) (*WeightsAction, error) {
	const act = "elbv2_weights"
	if !strings.HasPrefix(a.RuleARN, "arn:") {
		return nil, fmt.Errorf("%s: rule_arn %q is not an ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/...)", act, a.RuleARN)
	}
	if len(a.Weights) == 0 {
		return nil, fmt.Errorf("%s: weights is empty: give target group ARN = weight, e.g. { (var.old_tg) = 90, (var.new_tg) = 10 }", act)
	}
	for _, tg := range sortedKeys(a.Weights) {
		w := a.Weights[tg]
		if !strings.HasPrefix(tg, "arn:") {
			return nil, fmt.Errorf("%s: weights key %q is not a target group ARN", act, tg)
		}
		if w < 0 || w > MaxWeight {
			return nil, fmt.Errorf("%s: weight %d for %s is out of range: ELBv2 takes 0 to %d", act, w, tg, MaxWeight)
		}
	}
	return &WeightsAction{inst: inst, args: a}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Do captures the rule's weights, checks the groups, checkpoints the
// capture, and sets the new weights (no call when they are already in
// place). A retried or resumed attempt restores from the first attempt's
// checkpoint instead of re-capturing: after a ModifyRule whose answer was
// lost, the rule already holds the new weights, and capturing them as
// "previous" would make the rollback restore the new state.
func (a *WeightsAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	a.inst.register(env)
	wrap := func(err error) error { return permanentELB(fmt.Errorf("elbv2_weights %s: %w", a.args.RuleARN, err)) }
	c, err := a.inst.elbv2(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	cur, err := c.ForwardWeights(ctx, a.args.RuleARN)
	if err != nil {
		return nil, wrap(err)
	}
	in := map[string]bool{}
	groups := make([]string, 0, len(cur))
	for _, tw := range cur {
		in[tw.TargetGroupARN] = true
		groups = append(groups, tw.TargetGroupARN)
	}
	var missing []string
	for _, tg := range sortedKeys(a.args.Weights) {
		if !in[tg] {
			missing = append(missing, tg)
		}
	}
	if len(missing) > 0 {
		return nil, wrap(fmt.Errorf("%w: target group %s is not in the rule's forward action; the rule forwards to: %s",
			ErrRule, strings.Join(missing, ", "), strings.Join(groups, ", ")))
	}
	prev := cur
	if cp, err := checkpointedWeights(checkpointed(env)); err != nil {
		return nil, wrap(err)
	} else if cp != nil {
		prev = cp
		line(env, fmt.Sprintf("rule %s: an earlier attempt captured %s before its change; the rule now holds %s", a.args.RuleARN, formatWeights(prev), formatWeights(cur)))
	} else if err := checkpoint(ctx, env, runbook.Outputs{"rule_arn": a.args.RuleARN, "previous_weights": weightMap(prev), "target_groups": groups}); err != nil {
		return nil, runbook.Permanent(fmt.Errorf("elbv2_weights %s: recording the weights before the change: %w", a.args.RuleARN, err))
	}
	next := make([]TargetWeight, len(cur))
	changed := false
	for i, tw := range cur {
		next[i] = tw
		if w, ok := a.args.Weights[tw.TargetGroupARN]; ok && w != tw.Weight {
			next[i].Weight, changed = w, true
		}
	}
	if changed {
		if err := c.SetForwardWeights(ctx, a.args.RuleARN, next); err != nil {
			return nil, wrap(err)
		}
	}
	line(env, fmt.Sprintf("rule %s: %s -> %s", a.args.RuleARN, formatWeights(prev), formatWeights(next)))
	return runbook.Outputs{"rule_arn": a.args.RuleARN, "previous_weights": weightMap(prev), "weights": weightMap(next),
		"target_groups": targetGroups(prev), "changed": !sameWeights(prev, next)}, nil
}

// checkpointed returns the step's checkpoint (nil outside a run).
func checkpointed(env *runbook.Env) runbook.Outputs {
	if env == nil {
		return nil
	}
	return env.Checkpointed()
}

// checkpoint records outs before a change (nothing outside a run).
func checkpoint(ctx context.Context, env *runbook.Env, outs runbook.Outputs) error {
	if env == nil {
		return nil
	}
	return env.Checkpoint(ctx, outs)
}

// checkpointedWeights reads the weights an earlier attempt checkpointed, or
// nil.
func checkpointedWeights(cp runbook.Outputs) ([]TargetWeight, error) {
	m := anyMap(cp["previous_weights"])
	if len(m) == 0 {
		return nil, nil
	}
	order := stringList(cp["target_groups"])
	if len(order) != len(m) {
		order = sortedKeys(m)
	}
	out := make([]TargetWeight, 0, len(order))
	for _, tg := range order {
		w, err := intValue(m[tg])
		if err != nil {
			return nil, fmt.Errorf("checkpointed previous_weights[%s]: %w", tg, err)
		}
		out = append(out, TargetWeight{TargetGroupARN: tg, Weight: w})
	}
	return out, nil
}

// targetGroups returns the groups of ws in order.
func targetGroups(ws []TargetWeight) []string {
	out := make([]string, len(ws))
	for i, tw := range ws {
		out[i] = tw.TargetGroupARN
	}
	return out
}

func weightMap(ws []TargetWeight) map[string]any {
	m := make(map[string]any, len(ws))
	for _, w := range ws {
		m[w.TargetGroupARN] = int64(w.Weight)
	}
	return m
}

// formatWeights shows weights as "tg-a=90 tg-b=10" with the groups' short
// names.
func formatWeights(ws []TargetWeight) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		name := w.TargetGroupARN
		if j := strings.Index(name, ":targetgroup/"); j >= 0 {
			name, _, _ = strings.Cut(name[j+len(":targetgroup/"):], "/")
		}
		parts[i] = fmt.Sprintf("%s=%d", name, w.Weight)
	}
	return strings.Join(parts, " ")
}

// Describe names the instance and the action.
func (a *WeightsAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "elbv2_weights"}
}

// NaturalRollback restores the captured weights.
func (a *WeightsAction) NaturalRollback() runbook.Rollback { return &weightsBack{a: a} }

type weightsBack struct{ a *WeightsAction }

// Compensate sets the forward action back to exactly the groups and
// weights of the step's previous_weights output (in the order of its
// target_groups output) — the checkpoint of a failed or interrupted
// attempt holds them too. A step without them changed nothing: it
// checkpoints before ModifyRule, which is atomic. Running it twice leaves
// the rule as running it once.
func (r *weightsBack) Compensate(ctx context.Context, env *runbook.Env) error {
	self := env.Self()
	prevMap := anyMap(self["previous_weights"])
	if len(prevMap) == 0 {
		line(env, "the step captured no weights (it did not complete): nothing to restore")
		return nil
	}
	rule := r.a.args.RuleARN
	if s, ok := self["rule_arn"].(string); ok && s != "" {
		rule = s
	}
	order := stringList(self["target_groups"])
	if len(order) != len(prevMap) {
		order = sortedKeys(prevMap)
	}
	prev := make([]TargetWeight, 0, len(order))
	for _, tg := range order {
		w, err := intValue(prevMap[tg])
		if err != nil {
			return fmt.Errorf("elbv2_weights rollback: previous_weights[%s]: %w", tg, err)
		}
		prev = append(prev, TargetWeight{TargetGroupARN: tg, Weight: w})
	}
	r.a.inst.register(env)
	c, err := r.a.inst.elbv2(ctx)
	if err != nil {
		return fmt.Errorf("elbv2_weights rollback: %w", err)
	}
	cur, err := c.ForwardWeights(ctx, rule)
	if err != nil {
		return fmt.Errorf("elbv2_weights rollback %s: %w", rule, err)
	}
	if sameWeights(cur, prev) {
		line(env, fmt.Sprintf("rule %s is already at %s", rule, formatWeights(prev)))
		return nil
	}
	if err := c.SetForwardWeights(ctx, rule, prev); err != nil {
		return fmt.Errorf("elbv2_weights rollback %s: %w", rule, err)
	}
	line(env, fmt.Sprintf("rule %s restored: %s -> %s", rule, formatWeights(cur), formatWeights(prev)))
	return nil
}

func sameWeights(a, b []TargetWeight) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, w := range a {
		m[w.TargetGroupARN] = w.Weight
	}
	for _, w := range b {
		if v, ok := m[w.TargetGroupARN]; !ok || v != w.Weight {
			return false
		}
	}
	return true
}

// Describe names the instance and the action.
func (r *weightsBack) Describe() runbook.Description {
	return runbook.Description{Provider: r.a.inst.Name(), Action: "elbv2_weights"}
}

// intValue reads a whole number output, whatever number type the journal
// gave back.
func intValue(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case int32:
		return int(x), nil
	case float64:
		if x != math.Trunc(x) {
			return 0, fmt.Errorf("%v is not a whole number", x)
		}
		return int(x), nil
	case json.Number:
		i, err := x.Int64()
		return int(i), err
	}
	return 0, fmt.Errorf("want a number, got %T", v)
}

// ---- elbv2_target_health ----

// TargetHealthArgs are the arguments of elbv2_target_health.
type TargetHealthArgs struct {
	// TargetGroupARN is the group whose healthy count is the value.
	TargetGroupARN string
	// Others are more groups described in the outputs (groups).
	Others []string
	// MinHealthy, when set, makes the step fail while fewer targets of
	// TargetGroupARN are healthy.
	MinHealthy *int
}

// TargetHealthAction reports the health of target groups. As a gate's
// check, the value is the healthy count of the named group; as a step it is
// read-only and fails below MinHealthy.
type TargetHealthAction struct {
	inst *Instance
	args TargetHealthArgs
}

// NewTargetHealth returns the elbv2_target_health action. Outputs (and
// probe outputs): healthy, unhealthy (not healthy: initial, draining,
// unhealthy...), total, states (count by state), targets (id, port, state,
// reason), groups (per ARN: healthy, unhealthy, total).
func NewTargetHealth(inst *Instance, a TargetHealthArgs) (*TargetHealthAction, error) {
	const act = "elbv2_target_health"
	if !strings.HasPrefix(a.TargetGroupARN, "arn:") {
		return nil, fmt.Errorf("%s: target_group_arn %q is not an ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)", act, a.TargetGroupARN)
	}
	for _, o := range a.Others {
		if !strings.HasPrefix(o, "arn:") {
			return nil, fmt.Errorf("%s: target_group_arns: %q is not an ARN", act, o)
		}
	}
	if a.MinHealthy != nil && *a.MinHealthy < 0 {
		return nil, fmt.Errorf("%s: min_healthy %d is negative", act, *a.MinHealthy)
	}
	return &TargetHealthAction{inst: inst, args: a}, nil
}

func (a *TargetHealthAction) observe(ctx context.Context, env *runbook.Env) (int64, runbook.Outputs, error) {
	a.inst.register(env)
	c, err := a.inst.elbv2(ctx)
	if err != nil {
		return 0, nil, err
	}
	groups := map[string]any{}
	var out runbook.Outputs
	var healthy int64
	for i, tg := range append([]string{a.args.TargetGroupARN}, a.args.Others...) {
		th, err := c.TargetHealth(ctx, tg)
		if err != nil {
			return 0, nil, permanentELB(err)
		}
		var h, total int64
		states := map[string]any{}
		targets := make([]any, 0, len(th))
		for _, t := range th {
			total++
			if t.State == "healthy" {
				h++
			}
			n, _ := states[t.State].(int64)
			states[t.State] = n + 1
			targets = append(targets, map[string]any{"id": t.ID, "port": int64(t.Port), "state": t.State, "reason": t.Reason})
		}
		groups[tg] = map[string]any{"healthy": h, "unhealthy": total - h, "total": total}
		if i == 0 {
			healthy = h
			out = runbook.Outputs{"healthy": h, "unhealthy": total - h, "total": total, "states": states, "targets": targets}
		}
	}
	out["groups"] = groups
	return healthy, out, nil
}

// Sample returns the healthy count of the named group.
func (a *TargetHealthAction) Sample(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
	h, out, err := a.observe(ctx, env)
	if err != nil {
		return runbook.Sample{}, fmt.Errorf("elbv2_target_health %s: %w", a.args.TargetGroupARN, err)
	}
	return runbook.Sample{Value: h, Outputs: out}, nil
}

// Do reports the health, failing below MinHealthy.
func (a *TargetHealthAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	h, out, err := a.observe(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("elbv2_target_health %s: %w", a.args.TargetGroupARN, err)
	}
	out["value"] = h
	if a.args.MinHealthy != nil && h < int64(*a.args.MinHealthy) {
		return out, fmt.Errorf("elbv2_target_health %s: %w: %d of %d healthy, want at least %d (states: %s)",
			a.args.TargetGroupARN, ErrUnhealthy, h, out["total"], *a.args.MinHealthy, formatStates(out["states"]))
	}
	line(env, fmt.Sprintf("%s: %d of %d targets healthy", a.args.TargetGroupARN, h, out["total"]))
	return out, nil
}

func formatStates(v any) string {
	m := anyMap(v)
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// ReadOnly reports true.
func (a *TargetHealthAction) ReadOnly() bool { return true }

// Describe names the instance and the action.
func (a *TargetHealthAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "elbv2_target_health"}
}

// Compile-time checks.
var (
	_ runbook.NaturalRollback = (*WeightsAction)(nil)
	_ runbook.Describer       = (*weightsBack)(nil)
	_ runbook.Probe           = (*TargetHealthAction)(nil)
	_ runbook.ReadOnly        = (*TargetHealthAction)(nil)
)
