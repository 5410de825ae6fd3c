package journal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/runbook"
)

var t0 = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestSummarize(t *testing.T) {
	noop := runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil })
	undo := []runbook.Rollback{runbook.RollbackFunc(func(context.Context, *runbook.Env) error { return nil })}
	b := runbook.NewBuilder("release-2")
	b.Step(runbook.Step{Name: "backup", Action: noop, Rollbacks: undo})
	b.Step(runbook.Step{Name: "notify", Action: noop, Irreversible: true})
	b.Step(runbook.Step{Name: "migrate", Action: noop, Rollbacks: undo})
	b.Step(runbook.Step{Name: "deploy", Action: noop, Rollbacks: undo})
	p, err := b.Build()
	require.NoError(t, err)
	run := "r1"
	recs := []runbook.Record{
		{Run: run, Kind: runbook.RecRunStarted, Time: at(0), Runbook: "release-2", PlanHash: p.Hash(), Mode: "run",
			Inputs: []runbook.Input{{Name: "token", Sensitive: true}}},
		{Run: run, Kind: runbook.RecNodeStarted, Node: "backup", Attempt: 1, Time: at(1)},
		{Run: run, Kind: runbook.RecNodeSucceeded, Node: "backup", Attempt: 1, Time: at(61), Compensable: true},
		{Run: run, Kind: runbook.RecNodeStarted, Node: "notify", Attempt: 1, Time: at(62)},
		{Run: run, Kind: runbook.RecNodeSucceeded, Node: "notify", Attempt: 1, Time: at(63)},
		{Run: run, Kind: runbook.RecNodeStarted, Node: "migrate", Attempt: 1, Time: at(64)},
		{Run: run, Kind: runbook.RecNodeFailed, Node: "migrate", Attempt: 1, Time: at(70)},
		{Run: run, Kind: runbook.RecNodeStarted, Node: "migrate", Attempt: 2, Time: at(80)},
		{Run: run, Kind: runbook.RecNodeSucceeded, Node: "migrate", Attempt: 2, Time: at(90), Compensable: true},
		{Run: run, Kind: runbook.RecNodeStarted, Node: "deploy", Attempt: 1, Time: at(91)},
	}
	s, err := journal.Summarize(recs, p)
	require.NoError(t, err)
	assert.Equal(t, journal.StateUnfinished, s.State, "crashed in deploy")
	assert.Equal(t, []string{"deploy"}, s.InDoubt)
	assert.Equal(t, []string{"migrate", "backup"}, s.LeftToUndo, "only steps with a rollback, newest first")
	assert.Equal(t, 91*time.Second, s.Duration)
	require.Len(t, s.Steps, 4)
	assert.Equal(t, runbook.StateSucceeded, s.Steps[0].State)
	assert.Equal(t, time.Minute, s.Steps[0].Duration)
	assert.Equal(t, 2, s.Steps[2].Attempts)
	assert.Equal(t, 26*time.Second, s.Steps[2].Duration, "from the first attempt's start")
	assert.Equal(t, runbook.StateRunning, s.Steps[3].State)

	noPlan, err := journal.Summarize(recs, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"migrate", "backup"}, noPlan.LeftToUndo, "the journal marks compensable steps")

	// Rolled back later.
	recs = append(recs,
		runbook.Record{Run: run, Kind: runbook.RecRunStarted, Time: at(3600), Runbook: "release-2", PlanHash: p.Hash(), Mode: "rollback"},
		runbook.Record{Run: run, Kind: runbook.RecCompensating, Node: "migrate", Time: at(3601)},
		runbook.Record{Run: run, Kind: runbook.RecCompensated, Node: "migrate", Time: at(3602)},
		runbook.Record{Run: run, Kind: runbook.RecCompensating, Node: "backup", Time: at(3603)},
		runbook.Record{Run: run, Kind: runbook.RecCompensationFailed, Node: "backup", Final: true, Error: "s3: access denied", Time: at(3604)},
		runbook.Record{Run: run, Kind: runbook.RecRunFinished, Status: runbook.StatusRollbackIncomplete, Error: "backup: rollback failed", Time: at(3605)},
	)
	s, err = journal.Summarize(recs, p)
	require.NoError(t, err)
	assert.Equal(t, string(runbook.StatusRollbackIncomplete), s.State)
	assert.Equal(t, "backup: rollback failed", s.Error)
	assert.Equal(t, []string{"run", "rollback"}, s.Modes)
	assert.Equal(t, []string{"backup"}, s.LeftToUndo)
}

func TestShowAndList(t *testing.T) {
	ctx := context.Background()
	_, err := journal.Show(ctx, &runbook.MemJournal{}, "nope", nil)
	assert.True(t, errors.Is(err, runbook.ErrRunNotFound))
	_, err = journal.Summarize(nil, nil)
	assert.True(t, errors.Is(err, runbook.ErrRunNotFound))
	_, err = journal.List(ctx, onlyJournal{}, 0)
	assert.True(t, errors.Is(err, journal.ErrNoListing))
}

type onlyJournal struct{}

func (onlyJournal) Append(context.Context, ...runbook.Record) error { return nil }
func (onlyJournal) Load(context.Context, string) ([]runbook.Record, error) {
	return nil, runbook.ErrRunNotFound
}

func TestLockedError(t *testing.T) {
	err := error(&journal.LockedError{Holder: journal.Holder{Key: "release-2", PID: 4242, Host: "build-07", Started: t0},
		Where: ".handrail/locks/release-2.lock", Hint: "wait"})
	assert.True(t, errors.Is(err, journal.ErrLocked))
	assert.Equal(t, `journal: runbook "release-2" is locked by another run (pid 4242 on host build-07 since 2026-11-26T02:00:00Z) at .handrail/locks/release-2.lock: wait`, err.Error())
}
