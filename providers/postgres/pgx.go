package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// versionTable is golang-migrate's table: one row, version bigint, dirty
// boolean.
const versionTable = "schema_migrations"

// lockPoll is how often a waiting migration retries the advisory lock.
const lockPoll = 250 * time.Millisecond

// pgxClient is the real adapter: a lazily filled pgx pool, and pg_dump /
// pg_restore run locally or through a CommandRunner.
type pgxClient struct {
	cfg  Config
	info dsnInfo
	pool *pgxpool.Pool
}

var _ Client = (*pgxClient)(nil)

// NewPgxClient returns the real client of cfg. The pool connects on first
// use, so a wrong host or password is reported by the first action, not
// here.
func NewPgxClient(ctx context.Context, cfg Config) (Client, error) {
	info, err := parseDSN(cfg.DSN)
	if err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("dsn is not a valid PostgreSQL connection string (%s)", redactString(err, cfg.DSN, info.password))
	}
	if cfg.ConnectTimeout > 0 {
		pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	}
	if _, ok := pc.ConnConfig.RuntimeParams["application_name"]; !ok {
		pc.ConnConfig.RuntimeParams["application_name"] = "handrail"
	}
	pc.MaxConns = 4
	pc.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres at %s: %s", info.where(), redactString(err, cfg.DSN, info.password))
	}
	return &pgxClient{cfg: cfg, info: info, pool: pool}, nil
}

// Close closes the pool.
func (c *pgxClient) Close() error {
	c.pool.Close()
	return nil
}

// fail wraps err with the server's coordinates, redacted; connection
// failures wrap ErrConnect.
func (c *pgxClient) fail(what string, err error) error {
	if err == nil {
		return nil
	}
	msg := redactString(err, c.cfg.DSN, c.info.password)
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || isConnectFailure(err) {
		// pgx lists each address tried on its own line: keep one line.
		msg = strings.ReplaceAll(strings.TrimSpace(strings.ReplaceAll(msg, "\n\t", "; ")), "\n", "; ")
		msg = strings.ReplaceAll(msg, ":; ", ": ")
		return &cleanError{msg: fmt.Sprintf("postgres at %s: %s: cannot connect: %s", c.info.where(), what, msg), err: errors.Join(ErrConnect, err)}
	}
	return &cleanError{msg: fmt.Sprintf("postgres at %s: %s: %s", c.info.where(), what, msg), err: err}
}

func isConnectFailure(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 28xxx invalid authorization, 3D000 invalid catalog name (no such
		// database), 08xxx connection exceptions.
		return strings.HasPrefix(pe.Code, "28") || pe.Code == "3D000" || strings.HasPrefix(pe.Code, "08")
	}
	return false
}

// Ping asks the server who it is.
func (c *pgxClient) Ping(ctx context.Context) (ServerInfo, error) {
	var si ServerInfo
	err := c.pool.QueryRow(ctx, "SELECT current_setting('server_version'), current_database(), current_user").Scan(&si.Version, &si.Database, &si.User)
	if err != nil {
		return ServerInfo{}, c.fail("ping", err)
	}
	return si, nil
}

// Query runs q: in a READ ONLY transaction unless q.Mutates, on its own
// (autocommit, so VACUUM or CREATE INDEX CONCURRENTLY work) otherwise.
func (c *pgxClient) Query(ctx context.Context, q Query) (Rows, error) {
	var out Rows
	collect := func(rows pgx.Rows, err error) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for _, fd := range rows.FieldDescriptions() {
			out.Columns = append(out.Columns, fd.Name)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			row := make([]any, len(vals))
			for i, v := range vals {
				row[i] = jsonValue(v)
			}
			out.Rows = append(out.Rows, row)
		}
		return rows.Err()
	}
	var err error
	if q.Mutates {
		err = collect(c.pool.Query(ctx, q.SQL, q.Args...))
	} else {
		err = pgx.BeginTxFunc(ctx, c.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			return collect(tx.Query(ctx, q.SQL, q.Args...))
		})
	}
	if err != nil {
		what := "query"
		var pe *pgconn.PgError
		if !q.Mutates && errors.As(err, &pe) && pe.Code == "25006" {
			what = "query (read-only: set mutates = true to let it write)"
		}
		return Rows{}, c.fail(what, err)
	}
	return out, nil
}

// LockID returns the advisory lock key golang-migrate's postgres drivers
// (postgres, pgx, pgx/v5) compute for a database, schema and table:
// crc32(schema NUL table NUL database) times 1486364155, in uint32
// arithmetic. database is the name exactly as golang-migrate was given it:
// the migrate CLI and migrate.New take the path of the URL, with its
// leading slash ("/dcmms"); WithInstance without a DatabaseName takes
// current_database() ("dcmms").
func LockID(database, schema, table string) int64 {
	name := strings.Join([]string{schema, table, database}, "\x00")
	const salt = uint32(1486364155)
	return int64(crc32.ChecksumIEEE([]byte(name)) * salt)
}

// migrationLockIDs are the advisory locks a migration takes, in this order:
// the key of the migrate CLI (the URL path "/<database>") and the key of a
// program that hands golang-migrate an open connection (the bare database
// name). Holding both excludes both kinds of golang-migrate user; every
// Handrail run takes them in the same order, so two runs cannot deadlock.
func migrationLockIDs(database, schema, table string) []int64 {
	return []int64{LockID("/"+database, schema, table), LockID(database, schema, table)}
}

// Migrate takes the advisory lock, reads schema_migrations, and runs the
// planned scripts, each with its version update in one transaction.
func (c *pgxClient) Migrate(ctx context.Context, req MigrateRequest) (MigrateResult, error) {
	progress := req.Progress
	if progress == nil {
		progress = func(string) {}
	}
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return MigrateResult{}, c.fail("migrate", err)
	}
	defer conn.Release()
	var schema, database string
	if err := conn.QueryRow(ctx, "SELECT current_schema(), current_database()").Scan(&schema, &database); err != nil {
		return MigrateResult{}, c.fail("migrate", err)
	}
	table := pgx.Identifier{schema, versionTable}.Sanitize()
	keys := migrationLockIDs(database, schema, versionTable)
	held, err := c.lock(ctx, conn, keys, req, progress)
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for i := len(held) - 1; i >= 0; i-- {
			if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", held[i]); err != nil {
				// Closing the session releases the locks for sure.
				_ = conn.Hijack().Close(uctx)
				return
			}
		}
	}()
	if err != nil {
		return MigrateResult{}, err
	}

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
		return MigrateResult{}, c.fail("migrate", err)
	}
	if !exists && !req.DryRun {
		if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+table+" (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"); err != nil {
			return MigrateResult{}, c.fail("create "+versionTable, err)
		}
		exists = true
	}
	var current int64
	if exists {
		var dirty bool
		err := conn.QueryRow(ctx, "SELECT version, dirty FROM "+table+" LIMIT 1").Scan(&current, &dirty)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			current = 0
		case err != nil:
			return MigrateResult{}, c.fail("read "+versionTable, err)
		case dirty:
			return MigrateResult{}, fmt.Errorf("postgres at %s: %w: version %d is marked dirty (a migration failed half-way outside a transaction): repair the schema by hand, then UPDATE %s SET dirty = false",
				c.info.where(), ErrDirty, current, versionTable)
		}
	}
	res := MigrateResult{From: current, To: current, Applied: []string{}}
	plan, err := PlanMigrations(req.Migrations, req.Source, current, req.Target)
	if err != nil {
		return res, err
	}
	if !req.DryRun && len(plan) > 0 && req.Checkpoint != nil {
		if err := req.Checkpoint(ctx, current); err != nil {
			return res, fmt.Errorf("postgres at %s: record the starting version %s before migrating (nothing was changed): %w", c.info.where(), FormatVersion(current), err)
		}
	}
	if len(plan) == 0 {
		progress(fmt.Sprintf("schema is at version %s: nothing to migrate", FormatVersion(current)))
		return res, nil
	}
	for _, p := range plan {
		if req.DryRun {
			progress(fmt.Sprintf("would run %s (version %s -> %s)", p.File, FormatVersion(res.To), FormatVersion(p.After)))
			res.Applied = append(res.Applied, p.File)
			res.To = p.After
			continue
		}
		start := time.Now()
		if err := c.applyOne(ctx, conn, table, p); err != nil {
			merr := &MigrationError{File: p.File, Version: p.Migration.Version, AppliedBefore: res.To, Err: err}
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Position > 0 {
				merr.Line, merr.Column = LineColumn(p.SQL, int(pe.Position))
			}
			return res, &cleanError{msg: fmt.Sprintf("postgres at %s: %s", c.info.where(), redactString(merr, c.cfg.DSN, c.info.password)), err: merr}
		}
		res.To = p.After
		res.Applied = append(res.Applied, p.File)
		progress(fmt.Sprintf("applied %s in %s (version %s)", p.File, time.Since(start).Round(time.Millisecond), FormatVersion(p.After)))
	}
	if req.DryRun {
		res.To = res.From
	}
	return res, nil
}

// applyOne runs one script and records the version after it in one
// transaction.
func (c *pgxClient) applyOne(ctx context.Context, conn *pgxpool.Conn, table string, p PlannedMigration) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, p.SQL); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM "+table); err != nil {
			return fmt.Errorf("update %s: %w", versionTable, err)
		}
		if p.After != 0 {
			if _, err := tx.Exec(ctx, "INSERT INTO "+table+" (version, dirty) VALUES ($1, false)", p.After); err != nil {
				return fmt.Errorf("update %s: %w", versionTable, err)
			}
		}
		return nil
	})
}

// lock takes the advisory locks of keys in order, waiting up to
// req.LockTimeout in all for another run or tool to release them. It
// returns the keys it holds, also on error, for the caller to release.
func (c *pgxClient) lock(ctx context.Context, conn *pgxpool.Conn, keys []int64, req MigrateRequest, progress func(string)) ([]int64, error) {
	limit := req.LockTimeout
	if limit <= 0 {
		limit = DefaultLockTimeout
	}
	wait := req.Wait
	if wait == nil {
		wait = sleep
	}
	var waited time.Duration
	var held []int64
	for _, key := range keys {
		announced := false
		for {
			var ok bool
			if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
				return held, c.fail("take the migration lock", err)
			}
			if ok {
				held = append(held, key)
				break
			}
			holder := c.lockHolder(ctx, conn, key)
			if !announced {
				progress(fmt.Sprintf("waiting up to %s for the migration lock held by %s", limit, holder))
				announced = true
			}
			if waited >= limit {
				return held, fmt.Errorf("postgres at %s: %w: %s still held it after %s (lock_timeout)", c.info.where(), ErrLocked, holder, limit)
			}
			if err := wait(ctx, lockPoll); err != nil {
				return held, fmt.Errorf("postgres at %s: waiting for the migration lock held by %s: %w", c.info.where(), holder, err)
			}
			waited += lockPoll
		}
	}
	return held, nil
}

// lockHolder describes the session holding the advisory lock.
func (c *pgxClient) lockHolder(ctx context.Context, conn *pgxpool.Conn, key int64) string {
	var pid int32
	var app string
	var since *time.Time
	err := conn.QueryRow(ctx, `SELECT a.pid, coalesce(a.application_name, ''), a.xact_start
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1 LIMIT 1`,
		uint32(uint64(key)>>32), uint32(uint64(key))).Scan(&pid, &app, &since)
	if err != nil {
		return "another session"
	}
	s := fmt.Sprintf("server process %d", pid)
	if app != "" {
		s += fmt.Sprintf(" (application %q)", app)
	}
	return s
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
