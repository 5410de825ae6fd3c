package release2_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	release2 "github.com/handrail-dev/handrail/examples/release-2"
	"github.com/handrail-dev/handrail/hcl"
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
