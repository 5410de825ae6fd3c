// Package journal holds what Handrail's durable journal stores share: the
// run-lock errors naming the holder (held by another run, or lost by this
// one), and run summaries for listing and
// showing runs (status, timings, what is left to undo) from any
// [runbook.Journal].
//
// The stores themselves live in sibling packages named for their technology:
// [github.com/handrail-dev/handrail/journal/filejournal] (the embedded
// default, an append-only log per run in a state directory) and
// [github.com/handrail-dev/handrail/journal/pgjournal] (PostgreSQL, for teams
// that share state). Both pass the conformance suite in
// [github.com/handrail-dev/handrail/journal/journaltest], as does
// [runbook.MemJournal].
package journal
