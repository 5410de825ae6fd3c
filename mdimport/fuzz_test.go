package mdimport_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/mdimport"
)

// FuzzImport: any Markdown gives a formatted runbook that parses, or a
// clear error; never a panic.
func FuzzImport(f *testing.F) {
	files, _ := filepath.Glob("testdata/docs/*.md")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("# T\n\n```sh\nssh a@b 'x'\n```\n"))
	f.Add([]byte("1. Run `ssh h 'rm -rf /tmp/x'`\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		res, err := mdimport.Import("fuzz.md", src)
		if err != nil {
			if !errors.Is(err, mdimport.ErrNoSteps) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if _, diags := hclsyntax.ParseConfig(res.HCL, "fuzz.hcl", hhcl.InitialPos); diags.HasErrors() {
			t.Fatalf("runbook does not parse: %s\n%s", diags.Error(), res.HCL)
		}
		if _, diags := hclsyntax.ParseConfig(res.Vars, "fuzz.auto.hclvars", hhcl.InitialPos); diags.HasErrors() {
			t.Fatalf("variables do not parse: %s\n%s", diags.Error(), res.Vars)
		}
		again, diags := hcl.Format("fuzz.hcl", res.HCL)
		if diags.HasErrors() || string(again) != string(res.HCL) {
			t.Fatalf("runbook is not formatted:\n%s", res.HCL)
		}
	})
}
