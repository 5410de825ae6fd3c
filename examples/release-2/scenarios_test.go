package release2_test

import (
	"context"
	"testing"

	"github.com/handrail-dev/handrail/sandbox"
)

// TestScenarios runs every scenario of release-2.test.hcl, as `handrail
// test examples/release-2` does.
func TestScenarios(t *testing.T) {
	results, err := sandbox.RunTestFile(context.Background(), "release-2.test.hcl", sandbox.TestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) == 0 {
		t.Fatal("no scenarios in release-2.test.hcl")
	}
	for _, r := range results {
		t.Run(r.Name, func(t *testing.T) {
			for _, f := range r.Failures {
				t.Error(f)
			}
			t.Logf("%s: %s simulated in %s (executed %d nodes, compensated %v)", r.Name, r.Simulated, r.Wall, len(r.Executed), r.Compensated)
		})
	}
}
