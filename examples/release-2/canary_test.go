package release2_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// TestCanarySlowerThanBaseline: four minutes into the 10% soak the new
// version's p95 rises to 160 ms — under the 200 ms limit, a third above the
// old version's 121 ms. The Mann-Whitney comparison fails the soak and the
// release is undone; its samples carry the statistic and p-value.
func TestCanarySlowerThanBaseline(t *testing.T) {
	s := newSetup(t)
	s.w.Prometheus.Script(fmt.Sprintf(s.cfg.P95ByVersionQuery, s.cfg.Version)).Value(0.118).AfterNode("soak[10]", 4*time.Minute, 0.16)
	h := s.harness(t)
	h.Run()
	h.AssertStatus(runbook.StatusRolledBack)
	soak := h.Result.Nodes["soak[10]"]
	require.NotNil(t, soak)
	var verdicts []engine.Verdict
	var last map[string]any
	for _, smp := range soak.Samples {
		if smp.Check == "p95_vs_baseline" {
			verdicts = append(verdicts, smp.Verdict)
			last, _ = smp.Value.(map[string]any)
		}
	}
	require.NotEmpty(t, verdicts)
	assert.Equal(t, engine.VerdictPass, verdicts[0], "identical versions pass")
	assert.Equal(t, engine.VerdictFail, verdicts[len(verdicts)-1], "the slower canary fails")
	assert.Contains(t, verdicts, engine.VerdictInconclusive, "the shift is inconclusive for a while")
	require.NotNil(t, last)
	assert.Equal(t, "fail", last["verdict"])
	assert.Less(t, last["p_worse"].(float64), 0.05)
	assert.EqualValues(t, 0.16, last["canary_median"])
	assert.NotContains(t, h.Executed(), "traffic[50]")
	s.weights(t, 100, 0)
}
