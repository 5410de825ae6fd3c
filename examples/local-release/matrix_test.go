package localrelease_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/sandbox"
)

// TestScenarios runs local-release.test.hcl: the release against the
// sandbox's fakes (what `handrail test examples/local-release` prints).
func TestScenarios(t *testing.T) {
	res, err := sandbox.RunTestFile(context.Background(), "local-release.test.hcl", sandbox.TestOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, res)
	for _, sc := range res {
		if !sc.Passed {
			t.Errorf("scenario %s: %v", sc.Name, sc.Failures)
		}
	}
}

// TestEveryFailure runs local-release's whole rollback matrix in the world
// of local-release.test.hcl (what `handrail test -every-failure
// examples/local-release` prints): every step under every fault mode,
// every gate breached or denied; every case must restore the world.
func TestEveryFailure(t *testing.T) {
	rep, err := sandbox.RunMatrix(context.Background(), "local-release.hcl", sandbox.MatrixOptions{})
	require.NoError(t, err)
	t.Log(rep.Verdict())
	require.Greater(t, len(rep.Cases), 150, "every node × mode")
	for _, c := range rep.Failed() {
		t.Errorf("%s × %s: %s %v", c.Node, c.Mode, c.Status, c.Failures)
		for _, d := range c.Diff {
			t.Errorf("    %s", d)
		}
	}
}
