package runbook_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/runbook"
)

// BenchmarkRealistic runs no-op steps the way the CLI does: a file journal
// (write + fsync before every side effect) and every event written as a
// JSON line (to io.Discard), for 1,000 and 10,000 steps, in sequence and
// as one 10-wide parallel group. (With a journal the walk never runs a lone
// step inline; "sequence-no-inline" is the same run, kept as the row that
// decided it: with the inline path the sequence measured 1.3-1.5x slower in
// wall time at equal CPU.) Each run gets a run id of its own in a fresh
// state directory.
func BenchmarkRealistic(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1_000, 10_000} {
		for _, layout := range []string{"sequence", "sequence-no-inline", "parallel10"} {
			b.Run(fmt.Sprintf("steps=%d/%s", n, layout), func(b *testing.B) {
				p := sizedPlan(b, n, layout == "parallel10")
				j, err := filejournal.Open(b.TempDir(), nil)
				if err != nil {
					b.Fatal(err)
				}
				ex := &runbook.Executor{Journal: j, Observer: runbook.NewJSONObserver(io.Discard), Parallelism: 10}
				if layout == "sequence-no-inline" {
					runbook.NoInline(ex)
				}
				b.ReportAllocs()
				cpu := cpuTime()
				k := 0
				for b.Loop() {
					k++
					if _, err := ex.Run(ctx, p, runbook.RunOptions{RunID: fmt.Sprintf("bench-%d", k)}); err != nil {
						b.Fatal(err)
					}
				}
				n := float64(b.N) * float64(n)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/step")
				if c := cpuTime(); c > 0 {
					b.ReportMetric(float64((c-cpu).Nanoseconds())/n, "cpu-ns/step")
				}
			})
		}
	}
}

// sizedPlan is n no-op steps in sequence, or in one parallel group.
func sizedPlan(b testing.TB, n int, parallel bool) *runbook.Plan {
	bl := runbook.NewBuilder("bench")
	add := func(bl *runbook.Builder) {
		for i := range n {
			bl.Step(runbook.Step{Name: benchNames[i], Action: noop{}})
		}
	}
	if parallel {
		bl.Parallel(add)
	} else {
		add(bl)
	}
	p, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	return p
}
