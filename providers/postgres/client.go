package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Client is what the actions need of a PostgreSQL database. The real
// adapter speaks to the server with pgx and runs pg_dump / pg_restore; the
// stateful fake in postgresfake keeps the schema version in memory. Every
// method must honour ctx and must never put the DSN's password in an error.
type Client interface {
	// Ping checks that the server answers and returns what it says about
	// itself.
	Ping(ctx context.Context) (ServerInfo, error)
	// Query runs one statement and returns its rows. Unless q.Mutates, the
	// statement runs in a read-only transaction.
	Query(ctx context.Context, q Query) (Rows, error)
	// Migrate brings the schema to req.Target (the latest migration when
	// nil) under the migration lock, one migration per transaction.
	Migrate(ctx context.Context, req MigrateRequest) (MigrateResult, error)
	// Backup dumps the database (pg_dump's custom format) to req.File.
	Backup(ctx context.Context, req BackupRequest) (BackupInfo, error)
	// Restore loads a dump written by Backup.
	Restore(ctx context.Context, req RestoreRequest) error
	// Close releases the connections.
	Close() error
}

// ServerInfo is what Ping learns.
type ServerInfo struct {
	// Version is the server_version setting ("15.18 (Debian ...)").
	Version string
	// Database and User are the current database and user.
	Database string
	User     string
}

// Query is one statement with its parameters ($1, $2...).
type Query struct {
	SQL  string
	Args []any
	// Mutates lets the statement change the database; otherwise it runs in
	// a READ ONLY transaction and a write fails.
	Mutates bool
}

// Rows is a query result with JSON-compatible values.
type Rows struct {
	Columns []string
	Rows    [][]any
}

// MigrateRequest asks a client to migrate.
type MigrateRequest struct {
	// Source names the migrations for messages (a directory).
	Source string
	// Migrations is the set to migrate with.
	Migrations *MigrationSet
	// Target is the version to reach; nil means the latest of the set, 0
	// means every migration down.
	Target *int64
	// DryRun plans and reports without changing anything.
	DryRun bool
	// LockTimeout bounds the wait for another run's migration lock (zero:
	// DefaultLockTimeout).
	LockTimeout time.Duration
	// Wait waits; clients use it (not time.Sleep) so that simulated clocks
	// stay simulated. Nil sleeps on the real clock.
	Wait func(ctx context.Context, d time.Duration) error
	// Progress receives one line per migration planned or applied.
	Progress func(line string)
	// Checkpoint, when set, is called once, under the migration lock,
	// after the current version was read and before the first change, with
	// that version. The action records it durably there (the run's
	// journal), so that a rollback after a lost answer, a retry or a crash
	// knows where the step started. If it returns an error, nothing is
	// changed and Migrate returns that error. It is not called when there
	// is nothing to run, nor in a dry run.
	Checkpoint func(ctx context.Context, from int64) error
}

// DefaultLockTimeout bounds the wait for the migration lock held by another
// run.
const DefaultLockTimeout = 5 * time.Minute

// MigrateResult is what a migration run did.
type MigrateResult struct {
	// From is the version before, To the version after (0: no migration
	// applied).
	From, To int64
	// Applied lists the files run, in order ("015_add_ml_features_table.up.sql").
	// In a dry run it lists what would run.
	Applied []string
}

// BackupRequest asks for a dump.
type BackupRequest struct {
	// File is the path of the dump, on the local machine or on the host of
	// the provider's `via` instance.
	File string
}

// BackupInfo describes a dump.
type BackupInfo struct {
	File   string
	Size   int64
	SHA256 string
}

// RestoreRequest asks to load a dump.
type RestoreRequest struct {
	File string
	// SHA256, when set, must match the file's checksum before anything is
	// restored.
	SHA256 string
	// DropSchemas are dropped (CASCADE) and re-created empty before the
	// restore, so that objects created after the dump disappear too.
	DropSchemas []string
	// NoClean keeps pg_restore from dropping the dumped objects before
	// re-creating them.
	NoClean bool
}

// Sentinel errors, matched with errors.Is.
var (
	// ErrConnect is wrapped by errors of connecting to the server (wrong
	// host, refused, authentication failed).
	ErrConnect = errors.New("postgres: cannot connect")
	// ErrExpectation is wrapped by a query whose result does not meet its
	// `expect` conditions.
	ErrExpectation = errors.New("postgres: unexpected query result")
	// ErrLocked is wrapped when another run held the migration lock longer
	// than the lock timeout.
	ErrLocked = errors.New("postgres: migration lock held by another run")
	// ErrDirty is wrapped when schema_migrations is marked dirty (a
	// migration tool failed half-way outside a transaction).
	ErrDirty = errors.New("postgres: schema_migrations is dirty")
	// ErrMigrations is wrapped by errors in the migration files or in the
	// plan between the database's version and the target.
	ErrMigrations = errors.New("postgres: bad migrations")
	// ErrCommand is wrapped when pg_dump or pg_restore fails.
	ErrCommand = errors.New("postgres: command failed")
)

// MigrationError is the error of a migration file that failed. Line and
// Column locate the server's error position in the file (1-based; zero when
// the server gave no position).
type MigrationError struct {
	File    string
	Version int64
	Line    int
	Column  int
	// AppliedBefore is the version the database was left at: the failing
	// migration's transaction was rolled back.
	AppliedBefore int64
	Err           error
}

// Error implements error.
func (e *MigrationError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	}
	cause := e.Err.Error()
	var pe *pgconn.PgError
	if errors.As(e.Err, &pe) {
		if pe.Detail != "" {
			cause += "; detail: " + pe.Detail
		}
		if pe.Hint != "" {
			cause += "; hint: " + pe.Hint
		}
	}
	return fmt.Sprintf("migration %s failed: %s (its transaction was rolled back; the database is at version %s)",
		loc, cause, FormatVersion(e.AppliedBefore))
}

// Unwrap returns the cause.
func (e *MigrationError) Unwrap() error { return e.Err }
