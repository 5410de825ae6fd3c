// Package handrail makes deployment runbooks executable.
//
// A release today is a document: a timeline of SSH commands, database
// backups and migrations, image swaps, health checks, go/no-go decisions and
// a traffic ramp watched against thresholds, with a rollback procedure that
// people run by hand under stress. Handrail lets a team write that runbook
// once — in Go or in an HCL file — as typed steps, gates and rollbacks that
// compile to one plan graph; plan it, unit-test it with fake providers, run
// it against the real systems, and when anything fails run the
// compensations in reverse order, automatically, even after a crash or a
// Ctrl-C.
//
// This package holds only this overview. The work is done by:
//
//   - [github.com/handrail-dev/handrail/runbook]: the core model (steps,
//     gates, rollbacks, plans), the executor, the journal interface, events
//     and the clock. Standard library only.
//   - [github.com/handrail-dev/handrail/runbook/runbooktest]: the test kit
//     (simulated clock, recorder, failure injection, assertions).
//   - [github.com/handrail-dev/handrail/steps] and
//     [github.com/handrail-dev/handrail/gates]: provider-agnostic steps and
//     gates.
//   - [github.com/handrail-dev/handrail/provider]: the contract every
//     provider implements; providers/<name> act on SSH hosts, Docker
//     engines, PostgreSQL, AWS, HTTP services, Prometheus and notification
//     services, each with a stateful in-memory fake.
//   - [github.com/handrail-dev/handrail/hcl]: the DSL.
//   - cmd/handrail: the CLI.
//
// # A runbook in Go
//
//	b := runbook.NewBuilder("release").Window(4 * time.Hour)
//	b.Phase("prepare", func(b *runbook.Builder) {
//		b.Step(runbook.Step{
//			Name:      "maintenance_on",
//			Action:    steps.Exec([]string{"touch", "/srv/maintenance"}),
//			Rollbacks: []runbook.Rollback{steps.Exec([]string{"rm", "/srv/maintenance"})},
//			Budget:    5 * time.Minute,
//		})
//	})
//	b.Gate(runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval,
//		Approval: &runbook.Approval{Message: "Go?", Timeout: 15 * time.Minute}})
//	plan, err := b.Build()
//	...
//	res, err := (&runbook.Executor{Approver: approver}).Run(ctx, plan, runbook.RunOptions{})
//
// # The same runbook in HCL
//
//	runbook "release" {
//	  window = "4h"
//	}
//
//	phase "prepare" {
//	  step "local_exec" "maintenance_on" {
//	    command          = ["touch", "/srv/maintenance"]
//	    rollback_command = ["rm", "/srv/maintenance"]
//	    budget           = "5m"
//	  }
//	}
//
//	gate "approval" "go_no_go" {
//	  message = "Go?"
//	  timeout = "15m"
//	}
//
// Run it with `handrail apply release.hcl`, rehearse it against fakes on a
// simulated clock with `handrail apply --sandbox release.hcl`.
//
// In Go the undo command is the step's explicit rollback (steps.Exec in
// Rollbacks); in HCL, rollback_command is local_exec's own (natural)
// rollback, which the step checkpoints before its command runs, so it must
// be idempotent.
package handrail
