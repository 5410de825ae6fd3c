// Package steps holds provider-agnostic step actions: run a local command
// ([Exec], [Shell]), wait ([Sleep]), ask a person to confirm a checklist item
// ([Manual]) and call a Go hook ([Notify]). Each returns a [runbook.Action]
// that describes itself and says whether it is read-only. A command that
// undoes a step is the same [Exec] (or [Shell]) in the step's Rollbacks:
// an [ExecAction] is also a [runbook.Rollback].
//
// Every wait is on the run's clock (env.Clock()), so that simulated runs
// stay simulated.
package steps
