// Package postgresfake is a stateful in-memory fake of a PostgreSQL database
// for the postgres provider: it tracks the schema version and the
// migrations applied (in golang-migrate's single-row schema_migrations
// sense), answers scripted queries, keeps backups in memory, and can be told
// that a migration fails or that the server is unreachable. Runbook tests
// and the sandbox use [World.Provider] in place of the real provider and
// assert on the world afterwards ("after rollback the schema is at 014").
package postgresfake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing/fstest"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/jackc/pgx/v5/pgconn"
)

// World is one fake database server holding one database. It is safe for
// concurrent use; the zero value is not usable, call [New].
type World struct {
	mu          sync.Mutex
	version     int64
	dirty       bool
	history     []string
	failUp      map[int64]string
	failDown    map[int64]string
	failOnce    map[int64]string
	queries     map[string]postgres.Rows
	executed    []string
	unreachable bool
	backups     map[string]dump
	faults      fault.Injector
	clients     int
	serverVer   string
	database    string
	// dumpTo, if set, receives each dump's bytes (see WriteDumps).
	dumpTo func(file string, data []byte) error

	// lock is the advisory lock: one migration run at a time.
	lock sync.Mutex
}

type dump struct {
	version int64
	sha     string
	size    int64
}

// New returns a world at schema version 0 (no migration applied).
func New() *World {
	return &World{
		failUp: map[int64]string{}, failDown: map[int64]string{}, failOnce: map[int64]string{}, queries: map[string]postgres.Rows{},
		backups: map[string]dump{}, serverVer: "15.18 (postgresfake)", database: "dcmms",
	}
}

// Provider returns the "postgres" provider backed by this world: every
// instance it configures, whatever its DSN, talks to this database.
func (w *World) Provider() provider.Provider {
	return &postgres.Provider{ClientFactory: w.factory}
}

// Option returns the option that makes postgres.NewInstance use this world,
// for runbooks built in Go.
func (w *World) Option() postgres.Option {
	return postgres.WithClientFactory(w.factory)
}

func (w *World) factory(context.Context, postgres.Config) (postgres.Client, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clients++
	return &client{w: w}, nil
}

// WriteDumps makes each backup also hand its dump's bytes to write, under
// the file name pg_dump would have written (a sandbox's fake disk keeps
// them, so that a later step can upload the dump). Without it a dump
// exists only in the fake.
func (w *World) WriteDumps(write func(file string, data []byte) error) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dumpTo = write
	return w
}

// SetVersion sets the schema version, as if migrations up to v had been
// applied before the run.
func (w *World) SetVersion(v int64) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.version = v
	return w
}

// SetDirty marks schema_migrations dirty (a tool failed half-way).
func (w *World) SetDirty(dirty bool) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dirty = dirty
	return w
}

// FailMigration makes the up script of a version fail with message
// ("migration 016 fails") as a syntax error (SQLSTATE 42601, not retried):
// its transaction is rolled back and the version stays at the one before.
func (w *World) FailMigration(version int64, message string) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failUp[version] = message
	return w
}

// FixMigration removes the failure FailMigration set on a version's up
// script: its SQL was fixed.
func (w *World) FixMigration(version int64) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.failUp, version)
	return w
}

// FailMigrationOnce makes the up script of a version fail once with a
// transient error (a deadlock, SQLSTATE 40P01), which a step's retry
// policy retries; the next attempt succeeds.
func (w *World) FailMigrationOnce(version int64, message string) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failOnce[version] = message
	return w
}

// FailMigrationDown makes the down script of a version fail.
func (w *World) FailMigrationDown(version int64, message string) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failDown[version] = message
	return w
}

// ScriptQuery sets the result of a statement (compared with whitespace
// collapsed and a trailing semicolon removed). Unscripted queries that
// mention schema_migrations return the current version; others fail.
func (w *World) ScriptQuery(sql string, columns []string, rows ...[]any) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queries[normalize(sql)] = postgres.Rows{Columns: columns, Rows: rows}
	return w
}

// SetUnreachable makes every call fail as if the server were down.
func (w *World) SetUnreachable(down bool) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unreachable = down
	return w
}

// Version returns the schema version (0: none).
func (w *World) Version() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.version
}

// Dirty reports whether schema_migrations is marked dirty.
func (w *World) Dirty() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dirty
}

// Applied returns every migration script run, in order, ups and downs
// ("015_add_ml_features_table.up.sql", ..., "015_add_ml_features_table.down.sql").
func (w *World) Applied() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.history...)
}

// Executed returns the statements run with mutates = true, in order.
func (w *World) Executed() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.executed...)
}

// Backups returns the paths of the dumps taken, sorted.
func (w *World) Backups() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.backups))
	for p := range w.backups {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Connections returns how many clients were opened: zero until an action
// needed the database (configuring does not connect).
func (w *World) Connections() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.clients
}

// SeedMigrations returns the seed runbook's migrations as a file system for
// postgres.MigrateArgs.FS: a 014 baseline and Release 2's 015, 016 and 017,
// each with a down script. The fake never runs their SQL.
func SeedMigrations() fstest.MapFS {
	m := fstest.MapFS{}
	for _, name := range []string{"014_sprint_11_baseline", "015_add_ml_features_table", "016_add_analytics_views", "017_add_compliance_enhancements"} {
		m[name+".up.sql"] = &fstest.MapFile{Data: []byte("-- " + name + " (up)\n")}
		m[name+".down.sql"] = &fstest.MapFile{Data: []byte("-- " + name + " (down)\n")}
	}
	return m
}

func normalize(sql string) string {
	return strings.TrimSuffix(strings.Join(strings.Fields(sql), " "), ";")
}

// client is the fake postgres.Client.
type client struct{ w *World }

var _ postgres.Client = (*client)(nil)

var errDown = fmt.Errorf("%w: postgresfake: dial tcp: connection refused (the world is set unreachable)", postgres.ErrConnect)

// Ping answers unless the world is unreachable.
func (c *client) Ping(context.Context) (postgres.ServerInfo, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unreachable {
		return postgres.ServerInfo{}, errDown
	}
	return postgres.ServerInfo{Version: w.serverVer, Database: w.database, User: "postgres"}, nil
}

// Query answers scripted statements and schema_migrations reads. A
// statement with Mutates is recorded in Executed: that is its effect.
func (c *client) Query(ctx context.Context, q postgres.Query) (postgres.Rows, error) {
	if !q.Mutates {
		return c.query(q)
	}
	var rows postgres.Rows
	err := c.w.faults.Do(ctx, CallQuery, func() error {
		var err error
		rows, err = c.query(q)
		return err
	})
	return rows, err
}

func (c *client) query(q postgres.Query) (postgres.Rows, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unreachable {
		return postgres.Rows{}, errDown
	}
	key := normalize(q.SQL)
	if q.Mutates {
		w.executed = append(w.executed, key)
	}
	if r, ok := w.queries[key]; ok {
		return r, nil
	}
	if strings.Contains(strings.ToLower(key), "schema_migrations") {
		r := postgres.Rows{Columns: []string{"version"}}
		if w.version != 0 {
			r.Rows = [][]any{{w.version}}
		}
		return r, nil
	}
	if q.Mutates {
		return postgres.Rows{}, nil
	}
	return postgres.Rows{}, fmt.Errorf("postgresfake: no result scripted for %q: call World.ScriptQuery", key)
}

// Migrate plans like the real client and moves the version, failing as
// scripted (FailMigration, Inject).
func (c *client) Migrate(ctx context.Context, req postgres.MigrateRequest) (postgres.MigrateResult, error) {
	if req.DryRun {
		return c.migrate(ctx, req)
	}
	var res postgres.MigrateResult
	err := c.w.faults.Do(ctx, CallMigrate, func() error {
		var err error
		res, err = c.migrate(ctx, req)
		return err
	})
	return res, err
}

func (c *client) migrate(ctx context.Context, req postgres.MigrateRequest) (postgres.MigrateResult, error) {
	w := c.w
	progress := req.Progress
	if progress == nil {
		progress = func(string) {}
	}
	w.lock.Lock()
	defer w.lock.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unreachable {
		return postgres.MigrateResult{}, errDown
	}
	if w.dirty {
		return postgres.MigrateResult{}, fmt.Errorf("postgresfake: %w: version %d is marked dirty", postgres.ErrDirty, w.version)
	}
	res := postgres.MigrateResult{From: w.version, To: w.version, Applied: []string{}}
	plan, err := postgres.PlanMigrations(req.Migrations, req.Source, w.version, req.Target)
	if err != nil {
		return res, err
	}
	if !req.DryRun && len(plan) > 0 && req.Checkpoint != nil {
		if err := req.Checkpoint(ctx, w.version); err != nil {
			return res, fmt.Errorf("postgresfake: record the starting version before migrating (nothing was changed): %w", err)
		}
	}
	if len(plan) == 0 {
		progress(fmt.Sprintf("schema is at version %s: nothing to migrate", postgres.FormatVersion(w.version)))
	}
	to := w.version
	for _, p := range plan {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if req.DryRun {
			progress(fmt.Sprintf("would run %s (version %s -> %s)", p.File, postgres.FormatVersion(to), postgres.FormatVersion(p.After)))
			res.Applied = append(res.Applied, p.File)
			to = p.After
			continue
		}
		fails := w.failUp
		if p.Direction == postgres.Down {
			fails = w.failDown
		}
		var cause error
		if msg, bad := fails[p.Migration.Version]; bad {
			cause = &pgconn.PgError{Severity: "ERROR", Code: "42601", Message: msg}
		} else if msg, once := w.failOnce[p.Migration.Version]; once && p.Direction == postgres.Up {
			delete(w.failOnce, p.Migration.Version)
			cause = &pgconn.PgError{Severity: "ERROR", Code: "40P01", Message: msg}
		}
		if cause != nil {
			return res, &postgres.MigrationError{File: p.File, Version: p.Migration.Version, Line: 1, Column: 1,
				AppliedBefore: w.version, Err: cause}
		}
		before := w.version
		if err := w.faults.Do(ctx, CallMigration(p.Migration.Version), func() error {
			w.version = p.After
			w.history = append(w.history, p.File)
			res.To = p.After
			res.Applied = append(res.Applied, p.File)
			return nil
		}); err != nil {
			return res, &postgres.MigrationError{File: p.File, Version: p.Migration.Version, AppliedBefore: before, Err: err}
		}
		progress(fmt.Sprintf("applied %s (version %s)", p.File, postgres.FormatVersion(p.After)))
	}
	return res, nil
}

// Backup records a snapshot of the version under the file name.
func (c *client) Backup(ctx context.Context, req postgres.BackupRequest) (postgres.BackupInfo, error) {
	var info postgres.BackupInfo
	err := c.w.faults.Do(ctx, CallBackup, func() error {
		var err error
		info, err = c.backup(req)
		return err
	})
	if err != nil {
		return postgres.BackupInfo{}, err
	}
	return info, nil
}

func (c *client) backup(req postgres.BackupRequest) (postgres.BackupInfo, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unreachable {
		return postgres.BackupInfo{}, fmt.Errorf("%w: pg_dump: %w", postgres.ErrCommand, errDown)
	}
	body := fmt.Sprintf("PGDMP postgresfake database=%s version=%d applied=%d", w.database, w.version, len(w.history))
	sum := sha256.Sum256([]byte(body))
	d := dump{version: w.version, sha: hex.EncodeToString(sum[:]), size: int64(len(body))}
	if w.dumpTo != nil {
		if err := w.dumpTo(req.File, []byte(body)); err != nil {
			return postgres.BackupInfo{}, fmt.Errorf("%w: pg_dump: could not write %s: %w", postgres.ErrCommand, req.File, err)
		}
	}
	w.backups[req.File] = d
	return postgres.BackupInfo{File: req.File, Size: d.size, SHA256: d.sha}, nil
}

// Restore brings back a snapshot taken by Backup.
func (c *client) Restore(ctx context.Context, req postgres.RestoreRequest) error {
	return c.w.faults.Do(ctx, CallRestore, func() error { return c.restore(req) })
}

func (c *client) restore(req postgres.RestoreRequest) error {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unreachable {
		return fmt.Errorf("%w: pg_restore: %w", postgres.ErrCommand, errDown)
	}
	d, ok := w.backups[req.File]
	if !ok {
		return fmt.Errorf("%w: pg_restore: could not open input file %q: no such file (postgresfake has no such dump)", postgres.ErrCommand, req.File)
	}
	if req.SHA256 != "" && !strings.EqualFold(req.SHA256, d.sha) {
		return fmt.Errorf("postgresfake: restore: %s has SHA-256 %s, want %s: nothing was restored", req.File, d.sha, req.SHA256)
	}
	w.version = d.version
	w.dirty = false
	w.history = append(w.history, "restore "+req.File)
	return nil
}

// Close does nothing.
func (c *client) Close() error { return nil }
