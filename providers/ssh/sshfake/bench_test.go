package sshfake_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/providers/ssh/sshfake"
	"github.com/handrail-dev/handrail/runbook"
)

// BenchmarkFleetProgress runs one fan-out step over 40 fake hosts
// (max_parallel 10) through the executor with a file journal (fsync per
// commit): "read_only" records no progress (the anchor); "tracked" has a
// rollback command, so it checkpoints and records each host twice (before
// and after its command). The difference is what per-host progress costs.
func BenchmarkFleetProgress(b *testing.B) {
	hosts := make([]string, 40)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("web-%02d", i+1)
	}
	for _, tc := range []struct {
		name string
		opts ssh.ExecOptions
	}{
		{"read_only", ssh.ExecOptions{Command: []string{"true"}, Hosts: hosts, MaxParallel: 10, ReadOnly: true}},
		{"tracked", ssh.ExecOptions{Command: []string{"true"}, Hosts: hosts, MaxParallel: 10, RollbackCommand: []string{"true"}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w := sshfake.New()
			ex, err := ssh.NewExec(w.Instance("web", hosts[0]), tc.opts)
			if err != nil {
				b.Fatal(err)
			}
			p, err := runbook.NewBuilder("bench").Step(runbook.Step{Name: "fleet", Action: ex}).Build()
			if err != nil {
				b.Fatal(err)
			}
			j, err := filejournal.Open(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := (&runbook.Executor{Journal: j}).Run(context.Background(), p, runbook.RunOptions{RunID: fmt.Sprintf("b%d", i)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
