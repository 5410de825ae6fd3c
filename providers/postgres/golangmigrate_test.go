package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"testing"
	"testing/fstest"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for golang-migrate's WithInstance
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run golang-migrate's own library (its pgx/v5 driver, the
// driver of `migrate -database pgx5://...`) against the real server next
// to Handrail, on the same migrations: neither tool computes the other's
// lock key here, they meet on the server.

// gate is the test migrations with 015 made to wait for a lock the test
// holds on work_orders: whichever tool runs it stays inside the migration,
// holding its migration lock, until the test lets go.
func gate(t *testing.T) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	entries, err := os.ReadDir(migrationsDir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(migrationsDir + "/" + e.Name())
		require.NoError(t, err)
		if e.Name() == "015_add_ml_features_table.up.sql" {
			b = append([]byte("LOCK TABLE work_orders IN SHARE MODE;\n"), b...)
		}
		m[e.Name()] = &fstest.MapFile{Data: b}
	}
	return m
}

// holdWorkOrders takes an ACCESS EXCLUSIVE lock on work_orders in a
// transaction; release ends it.
func holdWorkOrders(t *testing.T, db testDB) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.DSN)
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE work_orders IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		_ = tx.Rollback(ctx)
		_ = conn.Close(ctx)
	}
	t.Cleanup(release)
	return release
}

// advisoryLocks counts the advisory locks of the database, granted or
// waited for.
func advisoryLocks(t *testing.T, db testDB, granted bool) int64 {
	t.Helper()
	q := "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND granted"
	if !granted {
		q += " = false"
	}
	return db.scalar(t, q).(int64)
}

// tableWaits counts the sessions waiting for a table lock in the
// database (a migration waiting inside 015).
func tableWaits(t *testing.T, db testDB) int64 {
	t.Helper()
	return db.scalar(t, "SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").(int64)
}

// migrateCLI opens golang-migrate as the migrate CLI does: from a URL, so
// that it hashes the database name of the URL's path.
func migrateCLI(t *testing.T, db testDB, fsys fs.FS) *migrate.Migrate {
	t.Helper()
	src, err := iofs.New(fsys, ".")
	require.NoError(t, err)
	u, err := url.Parse(db.DSN)
	require.NoError(t, err)
	u.Scheme = "pgx5"
	m, err := migrate.NewWithSourceInstance("iofs", src, u.String())
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = m.Close() })
	return m
}

// migrateLibrary opens golang-migrate as a program that hands it an open
// database (WithInstance without a DatabaseName: it hashes
// current_database()).
func migrateLibrary(t *testing.T, db testDB, fsys fs.FS) *migrate.Migrate {
	t.Helper()
	src, err := iofs.New(fsys, ".")
	require.NoError(t, err)
	sqldb, err := sql.Open("pgx", db.DSN)
	require.NoError(t, err)
	drv, err := pgxmigrate.WithInstance(sqldb, &pgxmigrate.Config{})
	require.NoError(t, err)
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = m.Close() })
	return m
}

// golang-migrate inside a migration holds its lock: Handrail waits, gives
// up after lock_timeout with ErrLocked having changed nothing, and once
// golang-migrate is done reads the version it left and goes on from there.
func TestGolangMigrateHoldsTheLockHandrailWaits(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	migrateTo(t, instance(t, db.DSN), 14)
	fsys := gate(t)
	m := migrateCLI(t, db, fsys)
	release := holdWorkOrders(t, db)
	done := make(chan error, 1)
	go func() { done <- m.Migrate(15) }()
	require.Eventually(t, func() bool { return advisoryLocks(t, db, true) == 1 && tableWaits(t, db) == 1 }, 20*time.Second, 20*time.Millisecond,
		"golang-migrate takes its lock and waits inside 015")

	mig, err := postgres.NewMigrate(instance(t, db.DSN), postgres.MigrateArgs{Dir: "migrations", FS: fsys, LockTimeout: 750 * time.Millisecond})
	require.NoError(t, err)
	obs := &lines{}
	_, err = mig.Do(context.Background(), env("migrate", obs, nil))
	require.ErrorIs(t, err, postgres.ErrLocked, "Handrail must not migrate while golang-migrate does")
	assert.Contains(t, obs.text(), "waiting up to 750ms for the migration lock held by server process")
	assert.False(t, db.tableExists(t, "ml_features"))

	release()
	require.NoError(t, <-done)
	v, dirty, err := m.Version()
	require.NoError(t, err)
	require.Equal(t, uint(15), v)
	require.False(t, dirty)

	// Handrail reads golang-migrate's version and continues from it.
	mig, err = postgres.NewMigrate(instance(t, db.DSN), postgres.MigrateArgs{Dir: "migrations", FS: fsys})
	require.NoError(t, err)
	out, err := mig.Do(context.Background(), env("migrate", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, int64(15), out["from_version"])
	assert.Equal(t, int64(17), out["to_version"])
	assert.Equal(t, []string{"016_add_analytics_views.up.sql", "017_add_compliance_enhancements.up.sql"}, out["applied"])

	// And golang-migrate reads Handrail's.
	v, dirty, err = m.Version()
	require.NoError(t, err)
	assert.Equal(t, uint(17), v)
	assert.False(t, dirty)
	require.NoError(t, m.Migrate(14), "golang-migrate migrates down what Handrail migrated up")
	assert.Equal(t, int64(14), db.version(t))
	assert.False(t, db.tableExists(t, "audit_log"))
}

// Handrail inside a migration holds the lock: golang-migrate (as the CLI,
// and as a library given an open database) waits until Handrail is done,
// then finds nothing to do.
func TestHandrailHoldsTheLockGolangMigrateWaits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		open func(*testing.T, testDB, fs.FS) *migrate.Migrate
	}{{"migrate CLI", migrateCLI}, {"WithInstance", migrateLibrary}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			migrateTo(t, instance(t, db.DSN), 14)
			fsys := gate(t)
			// Opened first: opening golang-migrate takes its lock too
			// (to create its table).
			m := tc.open(t, db, fsys)
			release := holdWorkOrders(t, db)

			mig, err := postgres.NewMigrate(instance(t, db.DSN), postgres.MigrateArgs{Dir: "migrations", FS: fsys})
			require.NoError(t, err)
			handrail := make(chan error, 1)
			go func() {
				_, err := mig.Do(context.Background(), env("migrate", nil, nil))
				handrail <- err
			}()
			require.Eventually(t, func() bool { return advisoryLocks(t, db, true) > 0 && tableWaits(t, db) == 1 }, 20*time.Second, 20*time.Millisecond,
				"Handrail takes its lock and waits inside 015")

			gm := make(chan error, 1)
			go func() { gm <- m.Up() }()
			require.Eventually(t, func() bool { return advisoryLocks(t, db, false) == 1 }, 20*time.Second, 20*time.Millisecond,
				"golang-migrate waits for the lock Handrail holds")
			select {
			case err := <-gm:
				t.Fatalf("golang-migrate ran while Handrail held the lock: %v", err)
			case <-time.After(300 * time.Millisecond):
			}
			assert.Equal(t, int64(14), db.version(t))

			release()
			require.NoError(t, <-handrail)
			err = <-gm
			require.True(t, errors.Is(err, migrate.ErrNoChange), "golang-migrate finds Handrail's 017 and has nothing to do, got %v", err)
			v, dirty, err := m.Version()
			require.NoError(t, err)
			assert.Equal(t, uint(17), v)
			assert.False(t, dirty)
		})
	}
}

// A migration golang-migrate could not finish leaves the version dirty;
// Handrail reads the flag as golang-migrate does and refuses to go on. A
// migration Handrail could not finish leaves a clean version golang-migrate
// accepts.
func TestDirtyFlagAcrossTools(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	migrateTo(t, instance(t, db.DSN), 14)
	broken, _ := brokenMigrations(t)

	m := migrateCLI(t, db, broken)
	require.Error(t, m.Up(), "016 is broken")
	v, dirty, err := m.Version()
	require.NoError(t, err)
	require.Equal(t, uint(16), v)
	require.True(t, dirty)

	mig, err := postgres.NewMigrate(instance(t, db.DSN), postgres.MigrateArgs{Dir: "migrations", FS: broken})
	require.NoError(t, err)
	_, err = mig.Do(context.Background(), env("migrate", nil, nil))
	require.ErrorIs(t, err, postgres.ErrDirty)
	assert.Contains(t, err.Error(), "version 16 is marked dirty")

	// Repaired as golang-migrate says (migrate force 15), Handrail fails
	// 016 in its transaction and leaves 015 clean for golang-migrate.
	db.exec(t, "DROP TABLE IF EXISTS analytics_scratch")
	require.NoError(t, m.Force(15))
	_, err = mig.Do(context.Background(), env("migrate", nil, nil))
	var merr *postgres.MigrationError
	require.ErrorAs(t, err, &merr)
	v, dirty, err = m.Version()
	require.NoError(t, err)
	assert.Equal(t, uint(15), v)
	assert.False(t, dirty)
}

// migrateCLILock takes golang-migrate's lock as the migrate CLI does
// (driver opened from the URL) and returns its release.
func migrateCLILock(t *testing.T, db testDB) (unlock func()) {
	t.Helper()
	u, err := url.Parse(db.DSN)
	require.NoError(t, err)
	u.Scheme = "pgx5"
	drv, err := (&pgxmigrate.Postgres{}).Open(u.String())
	require.NoError(t, err)
	require.NoError(t, drv.Lock())
	done := false
	unlock = func() {
		if !done {
			done = true
			require.NoError(t, drv.Unlock())
			require.NoError(t, drv.Close())
		}
	}
	t.Cleanup(unlock)
	return unlock
}

// LockID agrees with golang-migrate's own key function (its reference
// implementation) for both names it is given.
func TestLockIDIsGolangMigrates(t *testing.T) {
	for _, name := range []string{"/dcmms", "dcmms", "/handrail_test_0a1b2c", ""} {
		want, err := database.GenerateAdvisoryLockId(name, "public", "schema_migrations")
		require.NoError(t, err)
		assert.Equal(t, want, strconv.FormatInt(postgres.LockID(name, "public", "schema_migrations"), 10), name)
	}
}
