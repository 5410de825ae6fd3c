// Package postgres is Handrail's PostgreSQL provider: `provider "postgres"
// "dcmms" { dsn = var.database_url }` and the actions the seed runbook's
// database steps need.
//
//   - postgres_ping: the server answers (read-only).
//   - postgres_query: one statement, read-only unless mutates = true; its
//     rows are outputs (rows, row_count, columns, row, value) and `expect`
//     conditions check the first row (the seed's "SELECT version FROM
//     schema_migrations ORDER BY version DESC LIMIT 1" expecting 014). As a
//     gate's check, the first column of the first row is the sample value.
//   - postgres_migrate: a directory of NNN_name.up.sql / NNN_name.down.sql
//     files, golang-migrate's layout and schema_migrations table (version
//     bigint, dirty boolean, one row), so existing projects drop in. A
//     PostgreSQL advisory lock with golang-migrate's key keeps two runs (or
//     a run and the `migrate` CLI) from migrating at once: the second waits,
//     saying who holds the lock, up to lock_timeout (default 5m), then fails
//     with ErrLocked. Each migration runs with its version update in its own
//     transaction, so a failing one leaves the database at the version
//     before it, never dirty; the error names the file and the line and
//     column of the server's error position. dry_run prints what would run
//     and changes nothing; target migrates up or down to a version. The
//     natural rollback migrates down to the from_version captured by the
//     step.
//   - postgres_backup / postgres_restore: pg_dump (custom format) and
//     pg_restore, on this machine or, with `via = ssh.db`, on another host
//     through any instance implementing provider.CommandRunner; the backup's
//     outputs are the file, its size and SHA-256, and a restore can check
//     the SHA-256 and is usable as a rollback (a fallback after the
//     migration's own). As a step, a restore first dumps the database as
//     it is and checkpoints that dump; its natural rollback restores it.
//
// The DSN is sensitive: its password is registered with the run's redactor
// and removed from every error; pg_dump and pg_restore receive it through
// PGPASSWORD from stdin, never on a command line. Configure does not
// connect: the pool connects on the first action.
//
// Migration files run inside a transaction, so statements that cannot
// (CREATE INDEX CONCURRENTLY, VACUUM) or that commit themselves (BEGIN /
// COMMIT in the file) do not belong in them.
//
// A step that fails under rollback_on_failure records no outputs; so that
// its natural rollback still knows where to go back to, a migration run
// notes its starting version, keyed by run and step, in the comment of the
// schema_migrations table before its first change (the newest 20 notes are
// kept). A failed step without a note changed nothing, and its rollback
// does nothing.
//
// The package postgresfake holds a stateful in-memory fake of the database
// for runbook tests and the sandbox.
package postgres
