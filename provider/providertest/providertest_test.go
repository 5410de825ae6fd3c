package providertest_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/providertest"
	"github.com/handrail-dev/handrail/runbook"
)

// kvSuite is the suite over a kv world built by mk.
func kvSuite(mk func() *kvWorld) providertest.Suite {
	return providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			w := mk()
			return providertest.World{Provider: w, Snapshot: w.snapshot,
				Inject: func(call string, f fault.Fault) { w.faults.Arm(call, f) }}
		},
		Cases: []providertest.Case{
			{Name: "replace", Action: "kv_set", Call: "Set",
				Args:   cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal("colour"), "value": cty.StringVal("green")}),
				Effect: wantData(map[string]string{"colour": "green"})},
			{Name: "create", Action: "kv_set", Call: "Set",
				Args:   cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal("size"), "value": cty.StringVal("xl")}),
				Effect: wantData(map[string]string{"colour": "blue", "size": "xl"})},
			{Name: "note", Action: "kv_note", Call: "Note", Lasting: true,
				Args: cty.ObjectVal(map[string]cty.Value{"text": cty.StringVal("deployed")}),
				Effect: func(_, after providertest.Snapshot) error {
					log, _ := after["log"].([]any)
					if len(log) == 0 || log[len(log)-1] != "deployed" {
						return fmt.Errorf("log %v does not end with the note", log)
					}
					return nil
				}},
		},
	}
}

// wantData checks the store holds exactly want (written by hand, not
// computed by the provider).
func wantData(want map[string]string) func(before, after providertest.Snapshot) error {
	return func(_, after providertest.Snapshot) error {
		got, _ := after["data"].(map[string]any)
		if len(got) != len(want) {
			return fmt.Errorf("data %v, want %v", got, want)
		}
		for _, k := range sortedKeys(got) {
			if got[k] != want[k] {
				return fmt.Errorf("data[%s] = %v, want %q", k, got[k], want[k])
			}
		}
		return nil
	}
}

func TestSuiteOnCorrectProvider(t *testing.T) {
	kvSuite(newKV).Run(t)
}

// The suite must fail a provider that has each of the bugs it exists to
// catch. Each broken flavour runs in a child test process (a failing
// subtest would fail this test), whose output is checked.
func TestSuiteCatchesBrokenProviders(t *testing.T) {
	for _, c := range []struct {
		flavour string
		want    []string // lines the child's output must contain
	}{
		{"nocheckpoint", []string{"--- FAIL: TestBrokenChild/replace/retry_after_lost_answer", "--- FAIL: TestBrokenChild/replace/crash_after_effect",
			"--- FAIL: TestBrokenChild/replace/fail_after_effect", "env.Checkpoint BEFORE the change", "~ data.colour: \"blue\" -> \"green\""}},
		{"recapture", []string{"--- FAIL: TestBrokenChild/replace/retry_after_lost_answer", "--- FAIL: TestBrokenChild/replace/timeout"}},
		{"blind", []string{"--- FAIL: TestBrokenChild/replace/clean", "--- FAIL: TestBrokenChild/replace/fail_before_effect", "- data.colour: \"blue\""}},
	} {
		t.Run(c.flavour, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenChild$", "-test.v")
			cmd.Env = append(os.Environ(), "PROVIDERTEST_BROKEN="+c.flavour)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a provider with the %s bug:\n%s", c.flavour, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the output lacks %q:\n%s", w, out)
				}
			}
			// The correct parts still pass: creating a key has nothing to
			// recapture, and the lasting note is untouched by the bugs.
			if c.flavour != "blind" && !strings.Contains(string(out), "--- PASS: TestBrokenChild/note") {
				t.Errorf("the lasting case should still pass:\n%s", out)
			}
		})
	}
}

// TestBrokenChild runs the suite on a broken flavour when the parent test
// asks for it; otherwise it does nothing.
func TestBrokenChild(t *testing.T) {
	flavour := os.Getenv("PROVIDERTEST_BROKEN")
	if flavour == "" {
		return
	}
	kvSuite(func() *kvWorld {
		w := newKV()
		switch flavour {
		case "nocheckpoint":
			w.noCheckpoint = true
		case "recapture":
			w.recapture = true
		case "blind":
			w.blind = true
		}
		return w
	}).Run(t)
}

// TestRealTime runs mode Timeout on the real clock, as for real
// components: the fault holds the answer on the real clock, the step's
// short timeout gives up, the retry succeeds and the compensation restores.
func TestRealTime(t *testing.T) {
	s := kvSuite(newKV)
	s.RealTime = true
	s.StepTimeout = 200 * time.Millisecond
	s.Cases = s.Cases[:1]
	s.Cases[0].Modes = []providertest.Mode{providertest.Timeout}
	s.Cases[0].Skipped = map[providertest.Mode]string{}
	for _, m := range providertest.Modes() {
		if m != providertest.Timeout {
			s.Cases[0].Skipped[m] = "run by TestSuiteOnCorrectProvider"
		}
	}
	var clocks []runbook.Clock
	inner := s.Setup
	s.Setup = func(t *testing.T) providertest.World {
		w := inner(t)
		arm := w.Inject
		w.Inject = func(call string, f fault.Fault) {
			clocks = append(clocks, f.Clock)
			arm(call, f)
		}
		return w
	}
	t0 := time.Now()
	s.Run(t)
	if took := time.Since(t0); took < s.StepTimeout {
		t.Errorf("the mode took %s of wall time, less than the step timeout %s", took, s.StepTimeout)
	}
	if len(clocks) != 1 || clocks[0] != nil {
		t.Errorf("the fault's clock must be the real one (nil), got %v", clocks)
	}
}
