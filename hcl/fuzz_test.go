package hcl_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
)

// FuzzLoadSource feeds arbitrary source to the front end: it must never
// panic, and every diagnostic must carry a source range.
func FuzzLoadSource(f *testing.F) {
	for _, dir := range []string{"../testdata/hcl/valid", "../testdata/hcl/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`runbook "x" {}`))
	reg := testprovider.NewWorld().Registry()
	f.Fuzz(func(t *testing.T, src []byte) {
		rb, diags := hcl.LoadSource(context.Background(), "fuzz.hcl", src, hcl.Options{Registry: reg, Vars: map[string]string{"version": "1.2.3"}})
		if rb == nil {
			t.Fatal("nil runbook")
		}
		for _, d := range diags {
			if d.Subject == nil {
				t.Fatalf("diagnostic without range: %s: %s", d.Summary, d.Detail)
			}
		}
		if !diags.HasErrors() && rb.Plan() == nil {
			t.Fatal("no errors but no plan")
		}
		if diags.HasErrors() && rb.Plan() != nil {
			t.Fatal("errors but a plan")
		}
		if rb.Plan() != nil {
			_ = rb.Describe()
		}
		_, _ = hcl.Format("fuzz.hcl", src)
	})
}
