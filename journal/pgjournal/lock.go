package pgjournal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/journal/internal/watch"
	"github.com/handrail-dev/handrail/runbook"
)

const lockHint = "wait for that run to finish; the lock is released when its database session ends (process exit or lost connection); to end a session stuck on a lost machine deliberately, use Journal.BreakLock (`handrail unlock`)"

// DefaultLeaseCheck is how often a run lock's session is checked unless
// [Options.LeaseCheck] says otherwise.
const DefaultLeaseCheck = time.Second

// leaseTimeout bounds one check of a lease's session: a session that does
// not answer within it can no longer be known to hold the lock.
func (j *Journal) leaseTimeout() time.Duration {
	return max(5*j.leaseCheck, 5*time.Second)
}

// Lock takes the run lock of key: a PostgreSQL advisory lock
// (pg_try_advisory_lock) on a connection of its own, held until the lease
// is released or that session ends — so a crashed holder never leaves a
// stale lock (the session has TCP keepalives, so even a lost machine's
// session ends within about two minutes).
//
// The lease watches its session: every [Options.LeaseCheck] it reads the
// lock's row on that connection, and a check that fails (the session was
// terminated, the server restarted, the network is cut) or finds another
// holder's token loses the lease. The holder's pid, host, start time and a
// fresh token are kept in the locks table: the token fences appends
// ([Journal.AppendFenced]), and the rest names the holder in the error a
// second run gets, which wraps [journal.ErrLocked].
func (j *Journal) Lock(ctx context.Context, key string) (runbook.Lease, error) {
	if key == "" {
		return nil, errors.New("pgjournal: run lock with an empty key")
	}
	if err := j.init(ctx); err != nil {
		return nil, err
	}
	pc, err := j.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgjournal: run lock %q: %w", key, err)
	}
	// The session holds the lock: take it out of the pool for the run.
	conn := pc.Hijack()
	fail := func(err error) (runbook.Lease, error) {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	// A holder lost with its machine leaves a half-open connection: ask the
	// server to probe it, so that its session (and the lock) ends within
	// about two minutes instead of the system's default of hours.
	if _, err := conn.Exec(ctx, `SET tcp_keepalives_idle = 60; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 6`); err != nil {
		return fail(fmt.Errorf("pgjournal: run lock %q: keepalives: %w", key, err))
	}
	id := j.lockID("run:" + key)
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, id).Scan(&ok); err != nil {
		return fail(fmt.Errorf("pgjournal: run lock %q: %w", key, err))
	}
	if !ok {
		h := j.holder(ctx, conn, key)
		return fail(&journal.LockedError{Holder: h, Where: j.where(key), Hint: lockHint})
	}
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	// Writing the new token waits for appends in flight under the previous
	// holder's token (they hold its row FOR SHARE) and fences out any later
	// one: after this, the previous holder cannot write.
	_, err = conn.Exec(ctx, `INSERT INTO `+j.t("locks")+` (key, pid, host, boot, started, token, backend_pid)
		VALUES ($1, $2, $3, $4, $5, $6, pg_backend_pid())
		ON CONFLICT (key) DO UPDATE SET pid = EXCLUDED.pid, host = EXCLUDED.host, boot = EXCLUDED.boot,
			started = EXCLUDED.started, token = EXCLUDED.token, backend_pid = EXCLUDED.backend_pid`,
		key, os.Getpid(), j.host, journal.BootID(), time.Now().UTC(), token)
	if err != nil {
		return fail(fmt.Errorf("pgjournal: run lock %q: record holder: %w", key, err))
	}
	l := &lease{j: j, key: key, id: id, token: token, conn: conn}
	// The session is checked every LeaseCheck until the lease is released
	// or lost; a lost lease's session is closed.
	l.Lease = watch.Start(j.leaseCheck, l.check, func() { _ = l.conn.Close(context.Background()) })
	return l, nil
}

// where names key's lock for people.
func (j *Journal) where(key string) string {
	return fmt.Sprintf("PostgreSQL advisory lock %d (schema %s)", j.lockID("run:"+key), j.schema)
}

// lease is a run lock held on a session of its own.
type lease struct {
	j     *Journal
	key   string
	id    int64
	token string
	conn  *pgx.Conn // used by watch until it returns, then by Release

	*watch.Lease // Lost, Err, MarkLost, Stop
}

var _ runbook.Lease = (*lease)(nil)

// check reads the lock's row on the lease's own session: nil while it holds
// this lease's token, else the loss.
func (l *lease) check() error {
	ctx, cancel := context.WithTimeout(context.Background(), l.j.leaseTimeout())
	var token string
	err := l.conn.QueryRow(ctx, `SELECT coalesce((SELECT token FROM `+l.j.t("locks")+` WHERE key = $1), '')`, l.key).Scan(&token)
	cancel()
	if err == nil && token == l.token {
		return nil
	}
	reason := "the database session holding it ended (terminated, server restarted, or connection lost)"
	if err == nil {
		reason = "its row in the locks table names another holder"
		if token == "" {
			reason = "its row in the locks table was removed (the lock was broken)"
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), l.j.leaseTimeout())
	defer cancel()
	return &journal.LostError{Key: l.key, Where: l.j.where(l.key), Reason: reason, Cause: err, Holder: l.j.currentHolder(ctx, l.key)}
}

// Release releases the lock, once. A lease that was lost reports why.
func (l *lease) Release() error {
	if !l.Stop() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer l.conn.Close(ctx)
	if err := l.Err(); err != nil {
		return err
	}
	_, derr := l.conn.Exec(ctx, `DELETE FROM `+l.j.t("locks")+` WHERE key = $1 AND token = $2`, l.key, l.token)
	var released bool
	uerr := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, l.id).Scan(&released)
	if err := errors.Join(derr, uerr); err != nil {
		return fmt.Errorf("pgjournal: release run lock %q (the session may have ended, which released it): %w", l.key, err)
	}
	if !released {
		return fmt.Errorf("pgjournal: run lock %q was not held by this session any more", l.key)
	}
	return nil
}

// holder reads who holds key's lock, as far as the locks table knows.
func (j *Journal) holder(ctx context.Context, conn *pgx.Conn, key string) journal.Holder {
	h := journal.Holder{Key: key}
	// The holder writes its row just after taking the lock: give it a
	// moment.
	for i := 0; i < 5; i++ {
		err := conn.QueryRow(ctx, `SELECT pid, host, boot, started, token FROM `+j.t("locks")+` WHERE key = $1`, key).
			Scan(&h.PID, &h.Host, &h.Boot, &h.Started, &h.Token)
		if err == nil {
			return h
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.Host = "unknown (no holder row)"
	return h
}

// currentHolder returns who holds key's lock now: the row of the locks
// table whose session holds the advisory lock. Nil when nobody does (a row
// left by a session that ended names nobody), or on error.
func (j *Journal) currentHolder(ctx context.Context, key string) *journal.Holder {
	id := uint64(j.lockID("run:" + key))
	h := journal.Holder{Key: key}
	err := j.pool.QueryRow(ctx, `SELECT l.pid, l.host, l.boot, l.started, l.token FROM `+j.t("locks")+` l
		WHERE l.key = $1 AND EXISTS (SELECT 1 FROM pg_locks p WHERE p.locktype = 'advisory' AND p.granted
			AND p.classid = $2 AND p.objid = $3 AND p.objsubid = 1 AND p.pid = l.backend_pid
			AND p.database = (SELECT oid FROM pg_database WHERE datname = current_database()))`,
		key, uint32(id>>32), uint32(id)).Scan(&h.PID, &h.Host, &h.Boot, &h.Started, &h.Token)
	if err != nil {
		return nil
	}
	return &h
}

// Holder returns who holds key's run lock now; ok is false when nobody
// does.
func (j *Journal) Holder(ctx context.Context, key string) (h journal.Holder, ok bool, err error) {
	if err := j.init(ctx); err != nil {
		return h, false, err
	}
	cur := j.currentHolder(ctx, key)
	if cur == nil {
		return h, false, nil
	}
	return *cur, true, nil
}

// BreakLock ends the database session holding key's run lock
// (pg_terminate_backend), which releases it, removes the holder's row —
// so that its appends are refused from then on — and returns who held it.
// Unless force, it refuses (with an error wrapping [journal.ErrHolderAlive])
// to break the lock of a holder known to be alive: a running process of this
// host and boot. It needs the right to signal that backend (same role, or
// pg_signal_backend). Without a lock, the error wraps [journal.ErrNotLocked].
func (j *Journal) BreakLock(ctx context.Context, key string, force bool) (journal.Holder, error) {
	if err := j.init(ctx); err != nil {
		return journal.Holder{}, err
	}
	id := uint64(j.lockID("run:" + key))
	var backend int32
	err := j.pool.QueryRow(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND classid = $1 AND objid = $2 AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		uint32(id>>32), uint32(id)).Scan(&backend)
	if errors.Is(err, pgx.ErrNoRows) {
		return journal.Holder{}, fmt.Errorf("%w: %q", journal.ErrNotLocked, key)
	}
	if err != nil {
		return journal.Holder{}, fmt.Errorf("pgjournal: break run lock %q: %w", key, err)
	}
	h := journal.Holder{Key: key}
	var rowBackend int32
	herr := j.pool.QueryRow(ctx, `SELECT pid, host, boot, started, token, backend_pid FROM `+j.t("locks")+` WHERE key = $1`, key).
		Scan(&h.PID, &h.Host, &h.Boot, &h.Started, &h.Token, &rowBackend)
	if herr == nil && rowBackend != backend {
		// The row is a previous holder's: the session's own row is not
		// written yet.
		h = journal.Holder{Key: key, Host: "unknown (no holder row)"}
	}
	if !force && journal.HolderAlive(h, j.host) {
		return h, fmt.Errorf("%w: %q is held by %s, which is running on this machine; stop that process instead, or break the lock anyway with force (-force)", journal.ErrHolderAlive, key, h)
	}
	var ok bool
	if err := j.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, backend).Scan(&ok); err != nil {
		return h, fmt.Errorf("pgjournal: break run lock %q: end session %d: %w", key, backend, err)
	}
	if !ok {
		return h, fmt.Errorf("pgjournal: break run lock %q: session %d did not end", key, backend)
	}
	if _, err := j.pool.Exec(ctx, `DELETE FROM `+j.t("locks")+` WHERE key = $1 AND backend_pid = $2`, key, backend); err != nil {
		return h, fmt.Errorf("pgjournal: break run lock %q: remove the holder's row: %w", key, err)
	}
	return h, nil
}
