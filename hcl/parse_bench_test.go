package hcl_test

import (
	"fmt"
	"testing"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// BenchmarkParseOnly is the anchor of BenchmarkCompile: HCL's own parser
// reading the same generated sources, nothing else.
func BenchmarkParseOnly(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		src := generated(n)
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				if _, d := hclsyntax.ParseConfig(src, "gen.hcl", hhcl.InitialPos); d.HasErrors() {
					b.Fatal(d)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/step")
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}
