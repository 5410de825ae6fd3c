package pgjournal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/journal/internal/leasetest"
	"github.com/handrail-dev/handrail/runbook"
)

// leaseHarness runs the lease helpers on a fresh schema; it takes the lock
// away by ending the holder's database session with pg_terminate_backend,
// as a network cut, a server restart or an administrator would.
func leaseHarness(t *testing.T) leasetest.Harness {
	dsn, schema := freshSchema(t)
	return leasetest.Harness{
		Env: []string{envDSN + "=" + dsn, envSchema + "=" + schema},
		Lose: func(t *testing.T, pid int) {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			require.NoError(t, err)
			defer conn.Close(ctx)
			var backend int32
			require.NoError(t, conn.QueryRow(ctx, `SELECT backend_pid FROM `+pgx.Identifier{schema, "locks"}.Sanitize()+` WHERE key = $1 AND pid = $2`,
				leasetest.Key, pid).Scan(&backend))
			var ok bool
			require.NoError(t, conn.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, backend).Scan(&ok))
			require.True(t, ok, "session %d ended", backend)
		},
		Load: func(t *testing.T) []runbook.Record {
			recs, err := openJournal(t, dsn, schema, nil).Load(context.Background(), leasetest.RunID)
			require.NoError(t, err)
			return recs
		},
	}
}

// TestLeaseLostWhenSessionKilled: the holder's lock session is terminated
// mid-run; the holder notices, stops and exits 3; a second process resumes
// the run to its end.
func TestLeaseLostWhenSessionKilled(t *testing.T) {
	leasetest.RunWatched(t, leaseHarness(t))
}

// TestLeaseFencesStaleWriter: a holder whose session was terminated, and
// which has not noticed yet, cannot append once a second process took the
// lock: its append is refused in the same statement, it stops (exit 3)
// naming the new holder, and the journal holds only the new holder's
// records after it took the lock.
func TestLeaseFencesStaleWriter(t *testing.T) {
	leasetest.RunFenced(t, leaseHarness(t))
}

// TestBreakLockRefusesLiveHolder: BreakLock refuses to end the session of a
// holder that is a running process of this machine, unless forced; the
// broken holder's appends are refused from then on.
func TestBreakLockRefusesLiveHolder(t *testing.T) {
	dsn, schema := freshSchema(t)
	ctx := context.Background()
	holder := openJournal(t, dsn, schema, nil)
	lease, err := holder.Lock(ctx, "release-2")
	require.NoError(t, err)
	j := openJournal(t, dsn, schema, nil)
	_, err = j.BreakLock(ctx, "release-2", false)
	require.True(t, errors.Is(err, journal.ErrHolderAlive), "got %v", err)
	require.NoError(t, holder.AppendFenced(ctx, lease, runbook.Record{Run: "r1", Kind: runbook.RecRunStarted, Time: time.Now()}),
		"the refused break left the holder alone")
	h, err := j.BreakLock(ctx, "release-2", true)
	require.NoError(t, err)
	assert.Equal(t, "release-2", h.Key)
	err = holder.AppendFenced(ctx, lease, runbook.Record{Run: "r1", Kind: runbook.RecNodeStarted, Node: "s1", Time: time.Now()})
	require.ErrorIs(t, err, runbook.ErrLockLost, "a broken holder cannot write")
	assert.ErrorContains(t, err, "nobody holds it now")
	select {
	case <-lease.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the lease was not lost")
	}
	recs, err := j.Load(ctx, "r1")
	require.NoError(t, err)
	assert.Len(t, recs, 1)
	assert.ErrorIs(t, lease.Release(), runbook.ErrLockLost)
}
