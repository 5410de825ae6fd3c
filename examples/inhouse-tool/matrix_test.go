package main

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/sandbox"
)

// TestEveryFailure runs the rollback matrix of rollout.hcl: every step
// under every fault mode, every gate breached, each case in a fresh world
// that includes the tool's flag service, which must end as it started.
func TestEveryFailure(t *testing.T) {
	var mu sync.Mutex
	flags := map[*sandbox.World]*MemFlags{}
	rep, err := sandbox.RunMatrix(context.Background(), "rollout.hcl", sandbox.MatrixOptions{
		TestFile: "testdata/rollout.test.hcl",
		Providers: func(w *sandbox.World) []provider.Provider {
			f := &MemFlags{}
			mu.Lock()
			flags[w] = f
			mu.Unlock()
			return []provider.Provider{&FlagsProvider{Service: f}}
		},
		Snapshot: func(w *sandbox.World) map[string]any {
			mu.Lock()
			f := flags[w]
			mu.Unlock()
			st, _ := f.Get(context.Background(), "checkout_v2")
			return map[string]any{"checkout_v2": map[string]any{"enabled": st.Enabled, "percentage": st.Percentage}}
		},
	})
	require.NoError(t, err)
	t.Log(rep.Verdict())
	require.NotEmpty(t, rep.Cases)
	for _, c := range rep.Failed() {
		t.Errorf("%s × %s: %s %v %v", c.Node, c.Mode, c.Status, c.Failures, c.Diff)
	}
}
