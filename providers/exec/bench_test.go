package exec_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/handrail-dev/handrail/providers/exec"
	"github.com/handrail-dev/handrail/runbook"
)

// BenchmarkExecutor50True runs 50 local_exec /bin/true steps through the
// executor (compare: Ansible connection=local, bench/ssh/run.sh).
func BenchmarkExecutor50True(b *testing.B) {
	in, err := exec.New("local", exec.Config{})
	if err != nil {
		b.Fatal(err)
	}
	bl := runbook.NewBuilder("bench")
	for i := 0; i < 50; i++ {
		a, err := exec.NewRun(in, exec.RunOptions{Command: []string{"/bin/true"}})
		if err != nil {
			b.Fatal(err)
		}
		bl.Step(runbook.Step{Name: fmt.Sprintf("s%02d", i), Action: a, Irreversible: true})
	}
	plan, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := (&runbook.Executor{}).Run(context.Background(), plan, runbook.RunOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*50), "µs/step")
}
