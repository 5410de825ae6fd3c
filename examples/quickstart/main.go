// Command quickstart runs a small release with local commands, in a
// scratch directory: it creates a release folder, writes its config,
// switches the "current" link to it, and then a migration fails. The steps
// that completed are compensated in reverse order, and the program prints
// what happened as it goes.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/steps"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir, err := os.MkdirTemp("", "handrail-quickstart-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	res, err := run(ctx, os.Stdout, dir)
	if res == nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
	// The failure is the point of the demo: exit 0 when it was rolled back
	// cleanly, as designed.
	if res.Status != runbook.StatusRolledBack {
		os.Exit(3)
	}
}

// plan builds the release in dir.
func plan(dir string) (*runbook.Plan, error) {
	release := filepath.Join(dir, "releases", "0.3.0")
	current := filepath.Join(dir, "current")
	config := filepath.Join(release, "config.env")
	b := runbook.NewBuilder("quickstart").Describe("a release with local commands whose migration fails")
	b.Phase("prepare", func(b *runbook.Builder) {
		b.Step(runbook.Step{
			Name:      "create_release_dir",
			Action:    steps.Exec([]string{"mkdir", "-p", release}),
			Rollbacks: []runbook.Rollback{steps.Exec([]string{"rm", "-rf", release})},
		})
		b.Step(runbook.Step{
			Name:      "write_config",
			Action:    steps.Shell("printf 'VERSION=0.3.0\\nWORKERS=4\\n' > " + config + " && echo wrote " + config),
			Rollbacks: []runbook.Rollback{steps.Exec([]string{"rm", "-f", config})},
		})
	})
	b.Phase("deploy", func(b *runbook.Builder) {
		b.Step(runbook.Step{
			Name:      "switch_current",
			Action:    steps.Exec([]string{"ln", "-sfn", release, current}),
			Rollbacks: []runbook.Rollback{steps.Exec([]string{"rm", "-f", current})},
		})
		b.Step(runbook.Step{
			Name:              "migrate",
			Action:            steps.Shell("echo 'applying 015... ok'; echo 'applying 016...'; echo 'ERROR: column \"site_id\" does not exist' >&2; exit 1"),
			Rollbacks:         []runbook.Rollback{steps.Shell("echo 'migrate down to 015'")},
			RollbackOnFailure: true,
		})
		b.Step(runbook.Step{Name: "restart", Action: steps.Exec([]string{"true"}), Irreversible: true})
	})
	return b.Build()
}

// run runs the release in dir and prints its progress to w.
func run(ctx context.Context, w io.Writer, dir string) (*runbook.Result, error) {
	p, err := plan(dir)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "Running %q in %s\n\n", p.Name, dir)
	ex := &runbook.Executor{Observer: &progress{w: w}}
	res, err := ex.Run(ctx, p, runbook.RunOptions{})
	if res == nil {
		return nil, err
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Completed:   %s\n", strings.Join(res.Completed, ", "))
	fmt.Fprintf(w, "Compensated: %s (reverse order of completion)\n", strings.Join(res.Compensated, ", "))
	left, _ := os.ReadDir(dir)
	names := []string{}
	for _, e := range left {
		names = append(names, e.Name())
	}
	fmt.Fprintf(w, "Left in the scratch directory: %v\n", names)
	return res, err
}

// progress prints events as one human-readable line each.
type progress struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *progress) Observe(e runbook.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	node := e.EventHeader().Node
	switch ev := e.(type) {
	case runbook.RunStarted:
		fmt.Fprintf(p.w, "run %s started\n", ev.Run)
	case runbook.NodeStarted:
		fmt.Fprintf(p.w, "▶ %-20s [%s]\n", node, ev.Phase)
	case runbook.OutputLine:
		fmt.Fprintf(p.w, "  │ %s: %s\n", ev.Stream, ev.Line)
	case runbook.NodeSucceeded:
		fmt.Fprintf(p.w, "✓ %-20s done\n", node)
	case runbook.NodeFailed:
		if ev.Final {
			fmt.Fprintf(p.w, "✗ %-20s failed: %s\n", node, ev.Error)
		}
	case runbook.RollbackStarted:
		fmt.Fprintf(p.w, "↩ rolling back, in order: %s\n", strings.Join(ev.Pending, ", "))
	case runbook.StepCompensated:
		fmt.Fprintf(p.w, "↩ %-20s compensated (%s)\n", node, ev.Via)
	case runbook.CompensationFailed:
		fmt.Fprintf(p.w, "! %-20s compensation failed: %s\n", node, ev.Error)
	case runbook.RunFinished:
		fmt.Fprintf(p.w, "run finished: %s\n", ev.Status)
	}
}
