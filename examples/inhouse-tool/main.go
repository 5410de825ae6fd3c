// Command inhouse-tool shows Handrail embedded in an in-house tool: a
// custom provider of its own ("flags", a feature-flag service with a
// flag_set action and a natural rollback) registered next to the standard
// providers, running an HCL runbook that uses both.
//
// By default it rehearses rollout.hcl against an in-memory flag service and
// the sandbox's fakes of the standard providers, on a simulated clock:
//
//	go run ./examples/inhouse-tool            # the rollout succeeds
//	go run ./examples/inhouse-tool -breach    # errors climb at 50%: the flag goes back off
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/sandbox"
)

//go:embed rollout.hcl
var rollout []byte

func main() {
	breach := flag.Bool("breach", false, "make the error rate climb 4 minutes into the 50% soak")
	flag.Parse()
	flags := &MemFlags{}
	res, err := Rollout(context.Background(), os.Stdout, flags, *breach)
	if res == nil {
		fmt.Fprintln(os.Stderr, "inhouse-tool:", err)
		os.Exit(1)
	}
	st, _ := flags.Get(context.Background(), "checkout_v2")
	fmt.Printf("run %s: %s; flag checkout_v2: enabled=%t percentage=%d\n", res.Run.ID, res.Status, st.Enabled, st.Percentage)
	if res.Status != runbook.StatusSucceeded {
		os.Exit(2)
	}
}

// Rollout runs rollout.hcl with the flags provider on svc and the
// sandbox's fakes for the standard providers, printing events to out.
func Rollout(ctx context.Context, out io.Writer, svc FlagService, breach bool) (*runbook.Result, error) {
	world := sandbox.New(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	reg, err := world.Registry()
	if err != nil {
		return nil, err
	}
	// The in-house provider, next to the standard ones.
	if err := reg.Add(&FlagsProvider{Service: svc}); err != nil {
		return nil, err
	}
	rb, diags := hcl.LoadSource(ctx, "rollout.hcl", rollout, hcl.Options{Registry: reg})
	if diags.HasErrors() {
		return nil, diags
	}
	defer rb.Close()
	q := world.Prometheus.Script("sum(rate(checkout_errors_total[5m])) / sum(rate(checkout_requests_total[5m]))").Value(0.002)
	if breach {
		q.AfterNode("watch[50]", 4*time.Minute, 0.04)
	}
	obs := runbook.MultiObserver{world.Observer(), runbook.ObserverFunc(func(ev runbook.Event) {
		switch e := ev.(type) {
		case runbook.NodeSucceeded:
			fmt.Fprintf(out, "%s ok   %s\n", e.Time.Format("15:04"), e.Node)
		case runbook.NodeFailed:
			if e.Final {
				fmt.Fprintf(out, "%s FAIL %s: %s\n", e.Time.Format("15:04"), e.Node, e.Error)
			}
		case runbook.StepCompensated:
			fmt.Fprintf(out, "%s undo %s\n", e.Time.Format("15:04"), e.Node)
		}
	})}
	ex := &runbook.Executor{Clock: world.Clock, Journal: &runbook.MemJournal{}, Observer: obs, Redactor: rb.Redactor()}
	res, err := ex.Run(ctx, rb.Plan(), runbook.RunOptions{Inputs: rb.Inputs()})
	var re *runbook.RunError
	if res != nil && errors.As(err, &re) {
		return res, nil
	}
	return res, err
}
