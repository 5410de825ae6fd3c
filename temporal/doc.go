// Package temporal runs compiled Handrail plans as Temporal workflows, so
// that the orchestrator survives the loss of its machine and work spreads
// over workers. It is its own Go module: the core library does not pull the
// Temporal SDK into every build.
//
// The plan's shape (see [Shape]: nodes, edges, phases, gate parameters,
// retries, timeouts, flags) is the workflow's input, pinned by the plan's
// hash. The worker holds the plan itself, because actions are Go values:
// [NewRunner] (or [NewWorker]) takes a [PlanSource], and an activity of a
// run started from another plan hash is refused with [ErrPlanMismatch].
//
// Each step attempt and each rollback is an activity, with the step's
// timeout and retry policy mapped onto Temporal's; gates are workflow code
// on Temporal timers, each probe sample an activity; approvals, pauses and
// in-doubt steps wait for [SignalDecision], and [QueryWaiting] says what
// waits for whom. Compensations run in reverse completion order, best
// effort, with the local executor's final statuses. The core's events reach
// the worker's [runbook.Observer].
//
// [Client] starts runs from a plan or from an HCL file, and sends
// decisions. The package's tests run one table of plans through the local
// executor and through Temporal's test environment and compare what they
// do.
package temporal
