package filejournal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/journal/internal/leasetest"
	"github.com/handrail-dev/handrail/runbook"
)

// leaseHarness runs the lease helpers on the state directory dir; it takes
// the lock away by breaking its file (BreakLock, forced: the holder is
// alive, which BreakLock refuses without force).
func leaseHarness(dir string) leasetest.Harness {
	return leasetest.Harness{
		Env: []string{envStateDir + "=" + dir},
		Lose: func(t *testing.T, pid int) {
			j := open(t, dir, nil)
			_, err := j.BreakLock(context.Background(), leasetest.Key, false)
			require.True(t, errors.Is(err, journal.ErrHolderAlive), "a live holder's lock is not broken without force: %v", err)
			assert.Contains(t, err.Error(), "running on this machine")
			h, err := j.BreakLock(context.Background(), leasetest.Key, true)
			require.NoError(t, err)
			require.Equal(t, pid, h.PID)
		},
		Load: func(t *testing.T) []runbook.Record {
			recs, err := open(t, dir, nil).Load(context.Background(), leasetest.RunID)
			require.NoError(t, err)
			return recs
		},
	}
}

// TestLeaseLostWhenLockBroken: the holder notices its broken lock file,
// stops and exits 3; a second process resumes the run.
func TestLeaseLostWhenLockBroken(t *testing.T) {
	leasetest.RunWatched(t, leaseHarness(t.TempDir()))
}

// TestLeaseFencesStaleWriter: a holder that has not noticed yet that its
// lock was broken and taken over cannot append: its next append is refused,
// it stops, and the journal holds only the new holder's records.
func TestLeaseFencesStaleWriter(t *testing.T) {
	leasetest.RunFenced(t, leaseHarness(t.TempDir()))
}

// TestLeaseLostWhenLockReplaced: a lock file replaced behind the holder's
// back loses the lease within the check interval, naming the new holder;
// Release then says so and leaves the new file alone.
func TestLeaseLostWhenLockReplaced(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, &filejournal.Options{LeaseCheck: 10 * time.Millisecond})
	lease, err := j.Lock(context.Background(), "release-2")
	require.NoError(t, err)
	path := filepath.Join(dir, "locks", "release-2.lock")
	tmp := path + ".new"
	require.NoError(t, os.WriteFile(tmp, []byte(`{"key":"release-2","pid":4242,"host":"build-08","started":"2026-11-26T02:00:00Z","token":"other"}`), 0o640))
	require.NoError(t, os.Rename(tmp, path))
	select {
	case <-lease.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the lease was not lost")
	}
	require.ErrorIs(t, lease.Err(), runbook.ErrLockLost)
	assert.ErrorContains(t, lease.Err(), "replaced")
	assert.ErrorContains(t, lease.Err(), "now held by pid 4242 on host build-08")
	assert.ErrorIs(t, lease.Release(), runbook.ErrLockLost)
	h, ok, err := j.LockHolder("release-2")
	require.NoError(t, err)
	require.True(t, ok, "releasing a lost lease leaves the new holder's file alone")
	assert.Equal(t, 4242, h.PID)
}

// TestLeaseRefusedAfterTakeOver: a holder that has not checked its lock
// yet (checks an hour apart) is refused its next append once another
// journal broke and took the lock; the error names the new holder.
func TestLeaseRefusedAfterTakeOver(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	j := open(t, dir, &filejournal.Options{LeaseCheck: time.Hour})
	lease, err := j.Lock(ctx, "release-2")
	require.NoError(t, err)
	rec := runbook.Record{Run: "r1", Kind: runbook.RecRunStarted, Time: time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)}
	require.NoError(t, j.AppendFenced(ctx, lease, rec))
	other := open(t, dir, &filejournal.Options{Host: "build-08"})
	_, err = other.BreakLock(ctx, "release-2", false)
	require.NoError(t, err, "breaking needs no force here: this journal names another host")
	lease2, err := other.Lock(ctx, "release-2")
	require.NoError(t, err)
	defer lease2.Release()
	rec.Kind = runbook.RecNodeStarted
	err = j.AppendFenced(ctx, lease, rec)
	require.ErrorIs(t, err, runbook.ErrLockLost)
	assert.ErrorContains(t, err, "host build-08")
	select {
	case <-lease.Lost():
	default:
		t.Fatal("a refused append loses the lease")
	}
	recs, err := j.Load(ctx, "r1")
	require.NoError(t, err)
	assert.Len(t, recs, 1, "the refused append wrote nothing")
}

// TestLoadRefusesStaleEpoch: a record appended under an older lock epoch
// after one of a newer epoch (a writer that had lost its lock, on a file
// system where the guard flock does not reach) is reported, not read.
func TestLoadRefusesStaleEpoch(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	ctx := context.Background()
	old, err := j.Lock(ctx, "release-2")
	require.NoError(t, err)
	rec := runbook.Record{Run: "r1", Kind: runbook.RecRunStarted, Time: time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)}
	require.NoError(t, j.AppendFenced(ctx, old, rec))
	_, err = j.BreakLock(ctx, "release-2", true)
	require.NoError(t, err)
	newer, err := j.Lock(ctx, "release-2")
	require.NoError(t, err)
	defer newer.Release()
	rec.Kind = runbook.RecNodeStarted
	rec.Node = "s1"
	require.NoError(t, j.AppendFenced(ctx, newer, rec))
	// The stale writer is refused.
	err = j.AppendFenced(ctx, old, rec)
	require.ErrorIs(t, err, runbook.ErrLockLost)
	recs, err := j.Load(ctx, "r1")
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Less(t, recs[0].Fence, recs[1].Fence, "each record carries its lock's epoch, growing")

	// A stale record that got in anyway (appended without the journal's
	// check, as another host over a network file system could) is found.
	stale := rec
	stale.Fence = recs[0].Fence
	require.NoError(t, j.Append(ctx, stale))
	_, err = j.Load(ctx, "r1")
	require.ErrorIs(t, err, filejournal.ErrCorrupt)
	assert.ErrorContains(t, err, "lost its run lock")
}
