package release2_test

import (
	"context"
	"testing"

	release2 "github.com/handrail-dev/handrail/examples/release-2"
	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/sandbox"
)

// BenchmarkRehearsalHCL is one whole rehearsal of release-2.hcl in the
// sandbox: the happy world from the test file, load, and the 4-hour window
// run on the simulated clock (1h15m of soaks and monitoring).
func BenchmarkRehearsalHCL(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		w, err := sandbox.ForRunbook("release-2.hcl", start)
		if err != nil {
			b.Fatal(err)
		}
		reg, _ := w.Registry()
		rb, diags := hcl.Load(ctx, "release-2.hcl", hcl.Options{Registry: reg, Now: w.Clock.Now})
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		ex := &runbook.Executor{Clock: w.Clock, Observer: w.Observer(), Approver: approveAll, Redactor: rb.Redactor(), Journal: &runbook.MemJournal{}}
		res, err := ex.Run(ctx, rb.Plan(), runbook.RunOptions{})
		if err != nil || res.Status != runbook.StatusSucceeded {
			b.Fatalf("%v", err)
		}
		rb.Close()
	}
}

// BenchmarkRehearsalGo is the same with the Go twin.
func BenchmarkRehearsalGo(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		w, err := sandbox.ForRunbook("release-2.hcl", start)
		if err != nil {
			b.Fatal(err)
		}
		reg, _ := w.Registry()
		in, err := release2.Configure(ctx, reg, release2.SeedConfig())
		if err != nil {
			b.Fatal(err)
		}
		plan, err := release2.Plan(release2.SeedConfig(), in)
		if err != nil {
			b.Fatal(err)
		}
		ex := &runbook.Executor{Clock: w.Clock, Observer: w.Observer(), Approver: approveAll, Journal: &runbook.MemJournal{}}
		res, err := ex.Run(ctx, plan, runbook.RunOptions{})
		if err != nil || res.Status != runbook.StatusSucceeded {
			b.Fatalf("%v", err)
		}
	}
}

var approveAll = runbook.ApproverFunc(func(context.Context, runbook.ApprovalRequest) (runbook.Decision, error) {
	return runbook.Decision{Approved: true, By: "bench"}, nil
})
