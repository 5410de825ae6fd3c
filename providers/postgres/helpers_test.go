package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/handrail-dev/handrail/internal/testenv"
	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

const migrationsDir = "testdata/migrations"

// testDB is a fresh database on the test server, dropped at the end of the
// test.
type testDB struct {
	Name string
	DSN  string
}

// newDB creates handrail_test_<random> on the server of
// testenv.PostgresDSN (skipping, or failing in CI, when there is none).
func newDB(tb testing.TB) testDB {
	tb.Helper()
	admin := testenv.PostgresDSN(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "handrail_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(tb, err)
	// template0 takes no connections, so concurrent tests never find it "being accessed by other users".
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0")
	require.NoError(tb, err)
	require.NoError(tb, conn.Close(ctx))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	require.NoError(tb, err, "the test DSN must be a URL")
	u.Path = "/" + name
	return testDB{Name: name, DSN: u.String()}
}

// withPassword returns the DSN with a password (the test server trusts
// every local connection, so any password works).
func (d testDB) withPassword(pw string) string {
	u, _ := url.Parse(d.DSN)
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String()
}

// exec runs SQL directly, bypassing the provider.
func (d testDB) exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.DSN)
	require.NoError(tb, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	require.NoError(tb, err)
}

// scalar returns the first column of the first row.
func (d testDB) scalar(tb testing.TB, sql string) any {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.DSN)
	require.NoError(tb, err)
	defer conn.Close(ctx)
	var v any
	require.NoError(tb, conn.QueryRow(ctx, sql).Scan(&v))
	return v
}

// version reads schema_migrations (0 when empty or missing).
func (d testDB) version(tb testing.TB) int64 {
	tb.Helper()
	if d.scalar(tb, "SELECT to_regclass('schema_migrations') IS NULL") == true {
		return 0
	}
	v := d.scalar(tb, "SELECT coalesce(max(version), 0) FROM schema_migrations")
	return v.(int64)
}

func (d testDB) tableExists(tb testing.TB, name string) bool {
	tb.Helper()
	return d.scalar(tb, "SELECT to_regclass('"+name+"') IS NOT NULL") == true
}

func instance(tb testing.TB, dsn string) *postgres.Instance {
	tb.Helper()
	inst, err := postgres.NewInstance("dcmms", postgres.Config{DSN: dsn, ConnectTimeout: 3 * time.Second})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = inst.Close() })
	return inst
}

// lines records the output lines and notes of a run.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) Observe(e runbook.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := e.(type) {
	case runbook.OutputLine:
		l.all = append(l.all, ev.Line)
	case runbook.Note:
		l.all = append(l.all, ev.Message)
	}
}

func (l *lines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

func env(node string, obs runbook.Observer, self runbook.Outputs) *runbook.Env {
	return runbook.NewEnv(runbook.EnvConfig{Run: runbook.RunInfo{ID: "run-1", Runbook: "release-2"}, Node: node, Observer: obs, Self: self})
}

func i64(v int64) *int64 { return &v }

// migrateTo brings a database to a version with the test migrations.
func migrateTo(tb testing.TB, inst *postgres.Instance, v int64) {
	tb.Helper()
	a, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: migrationsDir, Target: i64(v)})
	require.NoError(tb, err)
	_, err = a.Do(context.Background(), env("setup", nil, nil))
	require.NoError(tb, err)
}

// brokenMigrations is testdata/migrations with 016's up script broken on a
// known line, after a valid statement.
func brokenMigrations(tb testing.TB) (fs.FS, string) {
	tb.Helper()
	m := fstest.MapFS{}
	entries, err := os.ReadDir(migrationsDir)
	require.NoError(tb, err)
	for _, e := range entries {
		b, err := os.ReadFile(migrationsDir + "/" + e.Name())
		require.NoError(tb, err)
		m[e.Name()] = &fstest.MapFile{Data: b}
	}
	broken := "-- Release 2: analytics views (broken on purpose)\n" +
		"CREATE TABLE analytics_scratch (id bigint);\n" +
		"\n" +
		"CREATE VIEW work_order_backlog AS\n" +
		"SELECT a.kind, count(*) AS open_orders\n" +
		"FORM work_orders w JOIN assets a ON a.id = w.asset_id\n" +
		"GROUP BY a.kind;\n"
	m["016_add_analytics_views.up.sql"] = &fstest.MapFile{Data: []byte(broken)}
	return m, broken
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := l.Addr().String()
	require.NoError(tb, l.Close())
	return addr
}

// execNoFail runs SQL on the database, ignoring errors (cleanup).
func (d testDB) execNoFail(sql string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.DSN)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, sql)
}

// adminExecNoFail runs SQL on the server's admin database, ignoring errors
// (cleanup of cluster-wide objects such as roles, after the database is
// gone).
func (d testDB) adminExecNoFail(sql string) {
	u, err := url.Parse(d.DSN)
	if err != nil {
		return
	}
	u.Path = "/postgres"
	testDB{DSN: u.String()}.execNoFail(sql)
}
