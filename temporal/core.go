package temporal

// The panic guards around provider code, in the same shape as the local
// executor's. Sample classification, retry delays and descriptions come
// from runbook itself (runbook.Classify, Retry.DelayAfter,
// Description.String), so the two runners decide alike.

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/handrail-dev/handrail/runbook"
)

func safeDo(ctx context.Context, a runbook.Action, env *runbook.Env) (out runbook.Outputs, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("%w: %v\n%s", runbook.ErrPanic, p, firstLines(debug.Stack(), 12))
		}
	}()
	return a.Do(ctx, env)
}

func safeSample(ctx context.Context, p runbook.Probe, env *runbook.Env) (s runbook.Sample, err error) {
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("%w: %v", runbook.ErrPanic, x)
		}
	}()
	return p.Sample(ctx, env)
}

func safeCompensate(ctx context.Context, rb runbook.Rollback, env *runbook.Env) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v\n%s", runbook.ErrPanic, p, firstLines(debug.Stack(), 12))
		}
	}()
	return rb.Compensate(ctx, env)
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
