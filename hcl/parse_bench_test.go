package hcl_test

import (
	"testing"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func BenchmarkParseOnly(b *testing.B) {
	src := generated(10000)
	for b.Loop() {
		if _, d := hclsyntax.ParseConfig(src, "gen.hcl", hhcl.InitialPos); d.HasErrors() {
			b.Fatal(d)
		}
	}
}
