package hcl_test

import (
	"context"
	"os"
	"testing"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
)

func TestQuick(t *testing.T) {
	w := testprovider.NewWorld()
	rb, diags := hcl.Load(context.Background(), "../testdata/hcl/valid/ramp.hcl", hcl.Options{Registry: w.Registry(), Vars: map[string]string{"version": "0.3.0"}})
	if diags.HasErrors() {
		rb.WriteDiagnostics(os.Stderr, diags, 100, false)
		t.Fatal(diags)
	}
	t.Log(rb.Plan().Dump())
	rb.WritePlan(os.Stderr)
}
