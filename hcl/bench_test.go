package hcl_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
)

// generated returns a runbook of n steps, each with a rollback and a
// reference to the previous step.
func generated(n int) []byte {
	var sb strings.Builder
	sb.WriteString("runbook \"gen\" {}\n\nprovider \"demo\" \"main\" {}\n\n")
	for i := 0; i < n; i++ {
		prev := `"start"`
		if i > 0 {
			prev = fmt.Sprintf("step.s%d.stdout", i-1)
		}
		fmt.Fprintf(&sb, "step \"demo_exec\" \"s%d\" {\n  command = [\"deploy\", %s]\n  timeout = \"1m\"\n  rollback \"demo_exec\" {\n    command = [\"undo\", self.stdout]\n  }\n}\n\n", i, prev)
	}
	return []byte(sb.String())
}

// cpuTime is the CPU time of the process (all threads, GC included): on a
// loaded machine it measures the work better than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkCompile(b *testing.B) {
	reg := testprovider.NewWorld().Registry()
	for _, n := range []int{100, 1000, 10000} {
		src := generated(n)
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				rb, diags := hcl.LoadSource(context.Background(), "gen.hcl", src, hcl.Options{Registry: reg})
				if diags.HasErrors() || rb.Plan() == nil {
					b.Fatal(diags.Error())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/step")
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}
