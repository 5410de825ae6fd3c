package console

import (
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// TestChecksShowWhyTheGateDecided: a gate's recorded decision appears beside
// each check's chart, live (from the event) and from the journal (serve).
func TestChecksShowWhyTheGateDecided(t *testing.T) {
	now := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)
	dec := &runbook.GateDecision{Gate: "soak", Kind: runbook.GateSoak, Outcome: engine.OutcomeFailed, Decider: "error_rate", Time: now,
		Checks: []runbook.CheckDecision{{Check: "error_rate", Threshold: "self.value < 0.01", Outcome: engine.OutcomeFailed,
			Rule: engine.RuleFailureLimit, Explanation: "1 breaches in all > failure_limit 0 and 1 in a row > tolerate 0"}}}
	h := runbook.Header{Run: "r1", Node: "soak", Time: now}
	live := newTracker("r1", nil, runbook.NewRedactor())
	live.Observe(runbook.GateFailed{Header: h, Outcome: engine.OutcomeFailed, Decision: dec})
	recs := []runbook.Record{{Run: "r1", Kind: runbook.RecGateDecided, Node: "soak", Time: now, Gate: dec}}
	for name, tr := range map[string]*tracker{"live": live, "journal": fromRecords("r1", recs, nil, runbook.NewRedactor())} {
		b, _, err := tr.snapshot(nil)
		if err != nil {
			t.Fatal(err)
		}
		want := `"why":"decided the gate: failed (failure_limit): 1 breaches in all \u003e failure_limit 0 and 1 in a row \u003e tolerate 0"`
		if !strings.Contains(string(b), want) {
			t.Errorf("%s: view lacks %s:\n%s", name, want, b)
		}
	}
}
