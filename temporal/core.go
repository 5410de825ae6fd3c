package temporal

// The panic guards around provider code, the local executor's
// (engine.Recover). Sample classification, retry delays and descriptions
// come from runbook itself (Check.Classify, Retry.DelayAfter,
// Description.String), so the two runners decide alike.

import (
	"context"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

func safeDo(ctx context.Context, a runbook.Action, env *runbook.Env) (out runbook.Outputs, err error) {
	defer engine.Recover(&err, runbook.ErrPanic, true)
	return a.Do(ctx, env)
}

func safeSample(ctx context.Context, p runbook.Probe, env *runbook.Env) (s runbook.Sample, err error) {
	defer engine.Recover(&err, runbook.ErrPanic, false)
	return p.Sample(ctx, env)
}

func safeCompensate(ctx context.Context, rb runbook.Rollback, env *runbook.Env) (err error) {
	defer engine.Recover(&err, runbook.ErrPanic, true)
	return rb.Compensate(ctx, env)
}
