// Package engine holds the rules every runner of a runbook must follow the
// same way, with no I/O and no clock: how a gate's samples are counted and
// decided, with what defaults, and in which order nodes start and
// compensations run. It is for runner authors: the local executor in
// package runbook and the Temporal workflow both drive it, so the two
// cannot drift apart. Runbook authors and embedders need only package
// runbook; they meet this package's vocabulary (Verdict, Outcome, the
// Rule names, Tally) in events, results and the journal.
//
// It imports the standard library only.
package engine
