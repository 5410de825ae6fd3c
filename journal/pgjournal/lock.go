package pgjournal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/journal"
)

const lockHint = "wait for that run to finish; the lock is released when its database session ends (process exit or lost connection); to end a session stuck on a lost machine deliberately, use Journal.BreakLock (`handrail unlock`)"

// Lock takes the run lock of key: a PostgreSQL advisory lock
// (pg_try_advisory_lock) on a connection of its own, held until unlock or
// until that session ends — so a crashed holder never leaves a stale lock
// (the session has TCP keepalives, so even a lost machine's session ends
// within about two minutes).
// The holder's pid, host and start time are kept in the locks table for the
// error a second run gets, which wraps [journal.ErrLocked].
func (j *Journal) Lock(ctx context.Context, key string) (unlock func() error, err error) {
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
	fail := func(err error) (func() error, error) {
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
		return fail(&journal.LockedError{Holder: h, Where: fmt.Sprintf("PostgreSQL advisory lock %d (schema %s)", id, j.schema), Hint: lockHint})
	}
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	_, err = conn.Exec(ctx, `INSERT INTO `+j.t("locks")+` (key, pid, host, boot, started, token, backend_pid)
		VALUES ($1, $2, $3, $4, $5, $6, pg_backend_pid())
		ON CONFLICT (key) DO UPDATE SET pid = EXCLUDED.pid, host = EXCLUDED.host, boot = EXCLUDED.boot,
			started = EXCLUDED.started, token = EXCLUDED.token, backend_pid = EXCLUDED.backend_pid`,
		key, os.Getpid(), j.host, bootID(), time.Now().UTC(), token)
	if err != nil {
		return fail(fmt.Errorf("pgjournal: run lock %q: record holder: %w", key, err))
	}
	done := false
	return func() error {
		if done {
			return nil
		}
		done = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		defer conn.Close(ctx)
		_, derr := conn.Exec(ctx, `DELETE FROM `+j.t("locks")+` WHERE key = $1 AND token = $2`, key, token)
		var released bool
		uerr := conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, id).Scan(&released)
		if err := errors.Join(derr, uerr); err != nil {
			return fmt.Errorf("pgjournal: release run lock %q (the session may have ended, which released it): %w", key, err)
		}
		if !released {
			return fmt.Errorf("pgjournal: run lock %q was not held by this session any more", key)
		}
		return nil
	}, nil
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

// BreakLock ends the database session holding key's run lock
// (pg_terminate_backend), which releases it, and returns who held it. Use it
// deliberately: the holder, if still running, loses its lock and its
// connection. It needs the right to signal that backend (same role, or
// pg_signal_backend). Without a lock, the error wraps [journal.ErrNotLocked].
func (j *Journal) BreakLock(ctx context.Context, key string) (journal.Holder, error) {
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
	_ = j.pool.QueryRow(ctx, `SELECT pid, host, boot, started, token FROM `+j.t("locks")+` WHERE key = $1`, key).
		Scan(&h.PID, &h.Host, &h.Boot, &h.Started, &h.Token)
	var ok bool
	if err := j.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, backend).Scan(&ok); err != nil {
		return h, fmt.Errorf("pgjournal: break run lock %q: end session %d: %w", key, backend, err)
	}
	if !ok {
		return h, fmt.Errorf("pgjournal: break run lock %q: session %d did not end", key, backend)
	}
	return h, nil
}

// bootID identifies this boot of the host (Linux), or "".
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
