package providertest_test

import (
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/providertest"
)

// A provider's conformance test: a fresh world per subtest, its snapshot,
// the injection of faults into the call that changes it, and one case per
// mutating action. (kv is the small provider of this package's tests; a
// real provider passes its fake, or its real client behind a
// fault.Transport, the same way.)
func ExampleSuite() {
	conformance := func(t *testing.T) {
		providertest.Suite{
			Setup: func(t *testing.T) providertest.World {
				w := newKV() // the world holds colour = blue
				return providertest.World{
					Provider: w,
					Snapshot: w.snapshot,
					Inject:   func(call string, f fault.Fault) { w.faults.Arm(call, f) },
				}
			},
			Cases: []providertest.Case{{
				Action: "kv_set",
				Args:   cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal("colour"), "value": cty.StringVal("green")}),
				Call:   "Set",
				Effect: wantData(map[string]string{"colour": "green"}),
			}},
		}.Run(t)
	}
	_ = conformance // func TestConformance(t *testing.T) { conformance(t) }
}
