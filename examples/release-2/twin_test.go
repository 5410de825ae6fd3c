package release2_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	release2 "github.com/handrail-dev/handrail/examples/release-2"
	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
	"github.com/handrail-dev/handrail/sandbox"
)

func TestTwinDump(t *testing.T) {
	ctx := context.Background()
	w := sandbox.New(time.Now())
	reg, err := w.Registry()
	require.NoError(t, err)
	rb, diags := hcl.Load(ctx, "release-2.hcl", hcl.Options{Registry: reg})
	require.False(t, diags.HasErrors(), diags.Error())
	in, err := release2.Configure(ctx, reg, release2.SeedConfig())
	require.NoError(t, err)
	plan, err := release2.Plan(release2.SeedConfig(), in)
	require.NoError(t, err)
	require.Greater(t, len(plan.Dump()), 5000)
	require.Equal(t, rb.Plan().Dump(), plan.Dump())
	require.Equal(t, rb.Plan().Hash(), plan.Hash())
	// Budgets follow the seed's timeline: 4 hours in all.
	require.Equal(t, 4*time.Hour, plan.Budget())
	require.Equal(t, 4*time.Hour, plan.Window)
}

// TestTwinRunsAlike runs both plans in the same world and compares what
// ran and what was undone: the 50% soak breaches at minute 9.
func TestTwinRunsAlike(t *testing.T) {
	ctx := context.Background()
	run := func(hclPlan bool) ([]string, []string) {
		w, rb, err := sandbox.Load(ctx, "release-2.hcl", start, nil)
		require.NoError(t, err)
		defer rb.Close()
		plan := rb.Plan()
		if !hclPlan {
			reg, err := w.Registry()
			require.NoError(t, err)
			in, err := release2.Configure(ctx, reg, release2.SeedConfig())
			require.NoError(t, err)
			plan, err = release2.Plan(release2.SeedConfig(), in)
			require.NoError(t, err)
		}
		h := runbooktest.New(t, plan, runbooktest.WithClock(w.Clock), runbooktest.WithObserver(w.Observer()), runbooktest.BreachAt("soak[50]", 9*time.Minute))
		h.Run()
		h.AssertStatus(runbook.StatusRolledBack)
		comp := h.Compensated()
		// The parallel backend updates complete in any order.
		sort.Strings(comp)
		return h.Executed(), comp
	}
	hclExec, hclComp := run(true)
	goExec, goComp := run(false)
	require.Equal(t, hclExec, goExec)
	require.Equal(t, hclComp, goComp)
}
