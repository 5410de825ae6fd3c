package release2_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/sandbox"
)

// TestEveryFailure runs release-2's whole rollback matrix (what `handrail
// test -every-failure examples/release-2` prints): every step under every
// fault mode, every gate breached or denied, each case in a fresh world of
// release-2.test.hcl; every case must restore the world. About 20 s of CPU.
func TestEveryFailure(t *testing.T) {
	rep, err := sandbox.RunMatrix(context.Background(), "release-2.hcl", sandbox.MatrixOptions{})
	require.NoError(t, err)
	t.Log(rep.Verdict())
	require.Greater(t, len(rep.Cases), 250, "every node × mode")
	for _, c := range rep.Failed() {
		t.Errorf("%s × %s: %s %v", c.Node, c.Mode, c.Status, c.Failures)
		for _, d := range c.Diff {
			t.Errorf("    %s", d)
		}
	}
}
