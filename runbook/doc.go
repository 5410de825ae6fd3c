// Package runbook is Handrail's core: the plan model, the executor with
// reverse-order compensation, gates, the journal interface, events and the
// clock. It imports the standard library only.
//
// A runbook is a [Plan]: a directed acyclic graph of [Step] and [Gate] nodes
// built with a [Builder]. Nodes run in declaration order unless they are
// grouped in a parallel block; [Step.DependsOn] and [Step.Uses] add edges. A
// step does something to the world through its [Action] and may carry
// [Rollback]s, its compensations. A gate decides whether the run may go on:
// a check (polled until it holds), a soak (sampled for a duration), an
// approval (a person or a callback says go or no-go), or a guard (sampled in
// the background over a span of the plan).
//
// An [Executor] runs a plan. When anything fails, no new node starts, nodes
// in flight are cancelled, and the rollbacks of the steps that completed run
// in reverse order of completion, under [context.WithoutCancel] with their own
// timeout, so that a cancelled run still rolls back. Every transition is
// written to a [Journal] before the next side effect, so that a crashed run
// can be resumed or rolled back later from the journal alone.
//
// Time comes from a [Clock]. [SimClock] simulates time and advances by itself
// when every runner is waiting on it, so that a four-hour runbook with
// fifteen-minute soaks runs in milliseconds.
package runbook
