// Package pgjournal is Handrail's PostgreSQL journal (jackc/pgx/v5), for
// teams that share the state of their runs.
//
// It has the semantics of the file journal: records numbered per run from 1,
// each [Journal.Append] durable when it returns (one transaction per call),
// sensitive inputs stored without value and [runbook.Secret] outputs as
// "(sensitive)", runs listed newest first, and a run lock — here a
// PostgreSQL advisory lock held by a session that lives as long as the run,
// watched as a lease ([runbook.Lease]) and fencing every append of the run
// ([Journal.AppendFenced]) with its token.
//
// The tables live in their own schema (default "handrail"), created on first
// use and versioned in its schema_version table; migrations are idempotent
// and serialized between processes by a transaction-scoped advisory lock.
package pgjournal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/runbook"
)

// DefaultSchema holds the journal's tables unless [Options.Schema] says
// otherwise.
const DefaultSchema = "handrail"

// SchemaVersion is the version of the tables this package writes.
const SchemaVersion = 1

// Options tune a [Journal]. The zero value is the default.
type Options struct {
	// Schema holds the tables (default [DefaultSchema]).
	Schema string
	// Host names this machine in lock holders (default os.Hostname).
	Host string
	// LeaseCheck is how often a run lock's session is checked (default
	// [DefaultLeaseCheck]). A lost session is noticed within about this
	// long; a check that gets no answer within 5 times this (at least 5s)
	// loses the lease.
	LeaseCheck time.Duration
}

// Journal is a [runbook.Journal] in PostgreSQL. It is safe for concurrent
// use.
type Journal struct {
	pool       *pgxpool.Pool
	ownsPool   bool
	schema     string
	host       string
	leaseCheck time.Duration

	mu    sync.Mutex
	ready bool
}

var (
	_ runbook.Journal       = (*Journal)(nil)
	_ runbook.RunLister     = (*Journal)(nil)
	_ runbook.Locker        = (*Journal)(nil)
	_ runbook.FencedJournal = (*Journal)(nil)
)

// Open returns a journal on the database dsn names (a postgres:// URL or
// key=value string). It does not connect: the first call does, and creates
// or upgrades the schema. Close releases the connections.
func Open(ctx context.Context, dsn string, opts *Options) (*Journal, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgjournal: bad DSN (want postgres://user@host:port/db or key=value pairs): %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgjournal: %w", err)
	}
	j, err := New(pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	j.ownsPool = true
	return j, nil
}

// New returns a journal using the caller's pool, which it does not close.
func New(pool *pgxpool.Pool, opts *Options) (*Journal, error) {
	j := &Journal{pool: pool, schema: DefaultSchema, leaseCheck: DefaultLeaseCheck}
	if opts != nil {
		if opts.Schema != "" {
			j.schema = opts.Schema
		}
		j.host = opts.Host
		if opts.LeaseCheck < 0 {
			return nil, fmt.Errorf("pgjournal: negative LeaseCheck %s", opts.LeaseCheck)
		}
		if opts.LeaseCheck > 0 {
			j.leaseCheck = opts.LeaseCheck
		}
	}
	if strings.TrimSpace(j.schema) == "" || len(j.schema) > 63 {
		return nil, fmt.Errorf("pgjournal: schema name %q: want 1 to 63 characters", j.schema)
	}
	if j.host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("pgjournal: host name for the run lock: %w", err)
		}
		j.host = h
	}
	return j, nil
}

// Close releases the pool if Open made it.
func (j *Journal) Close() {
	if j.ownsPool {
		j.pool.Close()
	}
}

// Schema returns the schema holding the tables.
func (j *Journal) Schema() string { return j.schema }

// t returns the quoted, schema-qualified name of a table.
func (j *Journal) t(table string) string { return pgx.Identifier{j.schema, table}.Sanitize() }

// migrations, in order; migration i+1 brings the schema to version i+1.
func (j *Journal) migrations() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + j.t("runs") + ` (
			run        text PRIMARY KEY,
			first_time timestamptz NOT NULL,
			created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
			last_seq   bigint NOT NULL
		);
		CREATE INDEX IF NOT EXISTS runs_newest ON ` + j.t("runs") + ` (first_time DESC, run DESC);
		CREATE TABLE IF NOT EXISTS ` + j.t("records") + ` (
			run  text   NOT NULL REFERENCES ` + j.t("runs") + ` (run) ON DELETE CASCADE,
			seq  bigint NOT NULL,
			kind text   NOT NULL,
			node text   NOT NULL DEFAULT '',
			time timestamptz NOT NULL,
			data jsonb  NOT NULL,
			PRIMARY KEY (run, seq)
		);
		CREATE TABLE IF NOT EXISTS ` + j.t("locks") + ` (
			key         text PRIMARY KEY,
			pid         integer NOT NULL,
			host        text NOT NULL,
			boot        text NOT NULL DEFAULT '',
			started     timestamptz NOT NULL,
			token       text NOT NULL,
			backend_pid integer NOT NULL
		);`,
	}
}

// lockID is the advisory lock key of a name within the schema.
func (j *Journal) lockID(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("handrail:" + j.schema + ":" + name))
	return int64(h.Sum64())
}

// init creates or upgrades the schema once per Journal.
func (j *Journal) init(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.ready {
		return nil
	}
	if err := j.migrate(ctx); err != nil {
		return err
	}
	j.ready = true
	return nil
}

// migrate brings the schema to [SchemaVersion]. Concurrent callers, in this
// process or others, are serialized by an advisory transaction lock.
func (j *Journal) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, j.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, j.lockID("migrate")); err != nil {
			return fmt.Errorf("pgjournal: lock schema %s for migration: %w", j.schema, err)
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{j.schema}.Sanitize()); err != nil {
			return fmt.Errorf("pgjournal: create schema %s: %w", j.schema, err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+j.t("schema_version")+` (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("pgjournal: create %s.schema_version: %w", j.schema, err)
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+j.t("schema_version")).Scan(&cur); err != nil {
			return fmt.Errorf("pgjournal: read schema version: %w", err)
		}
		migs := j.migrations()
		if cur > len(migs) {
			return fmt.Errorf("pgjournal: schema %s is at version %d, newer than this Handrail knows (%d): upgrade Handrail", j.schema, cur, len(migs))
		}
		for v := cur + 1; v <= len(migs); v++ {
			if _, err := tx.Exec(ctx, migs[v-1]); err != nil {
				return fmt.Errorf("pgjournal: migrate schema %s to version %d: %w", j.schema, v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+j.t("schema_version")+` (version) VALUES ($1) ON CONFLICT DO NOTHING`, v); err != nil {
				return fmt.Errorf("pgjournal: record schema version %d: %w", v, err)
			}
		}
		return nil
	})
}

// Version returns the schema's version, creating the schema if needed.
func (j *Journal) Version(ctx context.Context) (int, error) {
	if err := j.init(ctx); err != nil {
		return 0, err
	}
	var v int
	err := j.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+j.t("schema_version")).Scan(&v)
	return v, err
}

// Append stores recs in one transaction (one statement, one round trip);
// they are committed when it returns. Records get their Seq here, numbered
// per run from 1. Append is not fenced: a run holding a lease appends with
// [Journal.AppendFenced].
func (j *Journal) Append(ctx context.Context, recs ...runbook.Record) error {
	return j.append(ctx, nil, recs)
}

// AppendFenced stores recs like [Journal.Append], only while lease (from
// this journal's [Journal.Lock]) is the current holder of its lock. The
// same statement that inserts the records reads the lock's row FOR SHARE and
// inserts nothing unless the row still holds the lease's token: a new
// holder's Lock, which rewrites the row, waits for appends in flight and
// fences out every later one. A refused append stores nothing, loses the
// lease and returns a [*journal.LostError] naming the new holder.
func (j *Journal) AppendFenced(ctx context.Context, ls runbook.Lease, recs ...runbook.Record) error {
	l, ok := ls.(*lease)
	if !ok || l.j.schema != j.schema {
		return fmt.Errorf("pgjournal: append fenced by a lease of another journal (%T)", ls)
	}
	return j.append(ctx, l, recs)
}

// append stores recs, fenced by l unless it is nil.
func (j *Journal) append(ctx context.Context, l *lease, recs []runbook.Record) error {
	if len(recs) == 0 {
		return nil
	}
	for _, r := range recs {
		if r.Run == "" {
			return errors.New("pgjournal: record without a run id")
		}
	}
	if err := j.init(ctx); err != nil {
		return err
	}
	// Per run: how many records, and the time of its first one; per
	// record: its index within its run in this call.
	count := map[string]int64{}
	first := map[string]time.Time{}
	n := len(recs)
	cols := struct {
		run, kind, node, data []string
		idx                   []int64
		time                  []time.Time
	}{make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]int64, n), make([]time.Time, n)}
	for i, r := range recs {
		if _, ok := count[r.Run]; !ok {
			first[r.Run] = r.Time
		}
		count[r.Run]++
		r.Seq = 0 // set by the server below
		if len(r.Inputs) > 0 {
			in := make([]runbook.Input, len(r.Inputs))
			for k, x := range r.Inputs {
				if x.Sensitive {
					x.Value = ""
				}
				in[k] = x
			}
			r.Inputs = in
		}
		data, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("pgjournal: encode %s record of run %s (node %q): %w", r.Kind, r.Run, r.Node, err)
		}
		cols.run[i], cols.kind[i], cols.node[i], cols.data[i] = r.Run, string(r.Kind), r.Node, string(data)
		cols.idx[i], cols.time[i] = count[r.Run], r.Time
	}
	runs := make([]string, 0, len(count))
	for r := range count {
		runs = append(runs, r)
	}
	sort.Strings(runs) // lock run rows in one order: no deadlocks
	firsts := make([]time.Time, len(runs))
	counts := make([]int64, len(runs))
	for i, r := range runs {
		firsts[i], counts[i] = first[r], count[r]
	}
	// One statement, so one transaction and one round trip: check the
	// fence (locking the lock's row until commit), reserve the sequence
	// numbers on each run's row (locking it until commit), then insert the
	// records numbered after it.
	fence, args := "", []any{runs, firsts, counts, cols.run, cols.idx, cols.kind, cols.node, cols.time, cols.data}
	if l != nil {
		fence = ` WHERE EXISTS (SELECT 1 FROM f)`
		args = append(args, l.key, l.token)
	}
	sql := `WITH c AS (
			SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[]) AS c(run, first_time, n)` + fence + `
		), r AS (`
	if l != nil {
		sql = `WITH f AS (
			SELECT 1 FROM ` + j.t("locks") + ` WHERE key = $10 AND token = $11 FOR SHARE
		), c AS (
			SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[]) AS c(run, first_time, n)` + fence + `
		), r AS (`
	}
	tag, err := j.pool.Exec(ctx, sql+`
			INSERT INTO `+j.t("runs")+` AS r (run, first_time, last_seq)
			SELECT run, first_time, n FROM c ORDER BY run
			ON CONFLICT (run) DO UPDATE SET last_seq = r.last_seq + EXCLUDED.last_seq
			RETURNING r.run, r.last_seq
		)
		INSERT INTO `+j.t("records")+` (run, seq, kind, node, time, data)
		SELECT u.run, r.last_seq - c.n + u.idx, u.kind, u.node, u.time,
			jsonb_set(u.data::jsonb, '{seq}', to_jsonb(r.last_seq - c.n + u.idx))
		FROM unnest($4::text[], $5::bigint[], $6::text[], $7::text[], $8::timestamptz[], $9::text[]) AS u(run, idx, kind, node, time, data)
		JOIN r ON r.run = u.run JOIN c ON c.run = u.run`, args...)
	if err != nil {
		return fmt.Errorf("pgjournal: append %d records to run %s: %w", n, strings.Join(runs, ", "), err)
	}
	if l != nil && tag.RowsAffected() == 0 {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.leaseTimeout())
		defer cancel()
		lerr := &journal.LostError{Key: l.key, Where: j.where(l.key), Holder: j.currentHolder(hctx, l.key),
			Reason: fmt.Sprintf("an append of %d record(s) to run %s was refused: the lock's row no longer holds this run's token (the lock was broken or taken over)", n, strings.Join(runs, ", "))}
		l.MarkLost(lerr)
		return lerr
	}
	return nil
}

// Load returns the records of run in order, or an error wrapping
// [runbook.ErrRunNotFound].
func (j *Journal) Load(ctx context.Context, run string) ([]runbook.Record, error) {
	if err := j.init(ctx); err != nil {
		return nil, err
	}
	rows, err := j.pool.Query(ctx, `SELECT seq, data::text FROM `+j.t("records")+` WHERE run = $1 ORDER BY seq`, run)
	if err != nil {
		return nil, fmt.Errorf("pgjournal: load run %s: %w", run, err)
	}
	var out []runbook.Record
	var seq int64
	var data string
	_, err = pgx.ForEachRow(rows, []any{&seq, &data}, func() error {
		var r runbook.Record
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			return fmt.Errorf("pgjournal: run %s record %d: %w", run, seq, err)
		}
		r.Seq = seq
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgjournal: load run %s: %w", run, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s (schema %s)", runbook.ErrRunNotFound, run, j.schema)
	}
	return out, nil
}

// Runs lists run ids, newest first (by the time of each run's first record).
func (j *Journal) Runs(ctx context.Context) ([]string, error) {
	if err := j.init(ctx); err != nil {
		return nil, err
	}
	rows, err := j.pool.Query(ctx, `SELECT run FROM `+j.t("runs")+` ORDER BY first_time DESC, run DESC`)
	if err != nil {
		return nil, fmt.Errorf("pgjournal: list runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgjournal: list runs: %w", err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}
