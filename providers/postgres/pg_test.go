package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPing(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	out, err := postgres.NewPing(instance(t, db.DSN)).Do(context.Background(), env("ping", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, db.Name, out["database"])
	assert.NotEmpty(t, out["server_version"])
	assert.Equal(t, "postgres", out["user"])
}

func TestQueryExpect(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	inst := instance(t, db.DSN)
	migrateTo(t, inst, 14)
	const seed = "SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1"
	tests := []struct {
		name    string
		args    postgres.QueryArgs
		wantErr string
	}{
		{name: "seed expects 014", args: postgres.QueryArgs{SQL: seed, Expect: map[string]string{"version": "014"}}},
		{name: "row count", args: postgres.QueryArgs{SQL: seed, ExpectRowCount: ptr(1)}},
		{name: "wrong version", args: postgres.QueryArgs{SQL: seed, Expect: map[string]string{"version": "015"}},
			wantErr: "expected version = 015, got 14"},
		{name: "missing column", args: postgres.QueryArgs{SQL: seed, Expect: map[string]string{"v": "14"}},
			wantErr: `expected column "v", but the result has only version`},
		{name: "no rows", args: postgres.QueryArgs{SQL: "SELECT 1 AS x WHERE false", Expect: map[string]string{"x": "1"}},
			wantErr: "expected a row, got none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := postgres.NewQuery(inst, tt.args)
			require.NoError(t, err)
			out, err := a.Do(context.Background(), env("verify_schema", nil, nil))
			if tt.wantErr != "" {
				require.ErrorIs(t, err, postgres.ErrExpectation)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, int64(14), out["value"])
			assert.Equal(t, int64(1), out["row_count"])
			assert.Equal(t, map[string]any{"version": int64(14)}, out["row"])
			assert.Equal(t, []any{map[string]any{"version": int64(14)}}, out["rows"])
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestQueryReadOnlyUnlessMutates(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	inst := instance(t, db.DSN)
	ro, err := postgres.NewQuery(inst, postgres.QueryArgs{SQL: "CREATE TABLE notes (body text)"})
	require.NoError(t, err)
	assert.True(t, ro.ReadOnly())
	_, err = ro.Do(context.Background(), env("q", nil, nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mutates = true")
	assert.False(t, db.tableExists(t, "notes"))

	rw, err := postgres.NewQuery(inst, postgres.QueryArgs{SQL: "CREATE TABLE notes (body text)", Mutates: true})
	require.NoError(t, err)
	assert.False(t, rw.ReadOnly())
	_, err = rw.Do(context.Background(), env("q", nil, nil))
	require.NoError(t, err)
	assert.True(t, db.tableExists(t, "notes"))

	vacuum, err := postgres.NewQuery(inst, postgres.QueryArgs{SQL: "VACUUM notes", Mutates: true})
	require.NoError(t, err)
	_, err = vacuum.Do(context.Background(), env("q", nil, nil))
	require.NoError(t, err, "mutating statements run outside a transaction block")

	ins, err := postgres.NewQuery(inst, postgres.QueryArgs{SQL: `INSERT INTO notes VALUES ($1), ($2) RETURNING body, now() AS at, 1.5::numeric AS n, gen_random_uuid() AS id, interval '1 day 2 hours' AS i, '{"a": [1, 2.5]}'::jsonb AS j`,
		Args: []any{"a", "b"}, Mutates: true})
	require.NoError(t, err)
	out, err := ins.Do(context.Background(), env("q", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, int64(2), out["row_count"])
	row := out["row"].(map[string]any)
	assert.Equal(t, "a", row["body"])
	assert.Equal(t, 1.5, row["n"])
	assert.Len(t, row["id"], 36)
	assert.Equal(t, "1 day 02:00:00", row["i"])
	assert.Equal(t, map[string]any{"a": []any{float64(1), 2.5}}, row["j"])
	_, err = time.Parse(time.RFC3339Nano, row["at"].(string))
	assert.NoError(t, err)
}

func TestQueryProbe(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	inst := instance(t, db.DSN)
	migrateTo(t, inst, 14)
	p, err := postgres.NewQueryProbe(inst, postgres.QueryArgs{SQL: "SELECT version FROM schema_migrations"})
	require.NoError(t, err)
	s, err := p.Sample(context.Background(), env("gate", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, int64(14), s.Value)
	assert.False(t, s.NoData)

	empty, err := postgres.NewQueryProbe(inst, postgres.QueryArgs{SQL: "SELECT 1 WHERE false"})
	require.NoError(t, err)
	s, err = empty.Sample(context.Background(), env("gate", nil, nil))
	require.NoError(t, err)
	assert.True(t, s.NoData)

	_, err = postgres.NewQueryProbe(inst, postgres.QueryArgs{SQL: "DELETE FROM x", Mutates: true})
	assert.Error(t, err)
}

// TestMigrateUpAndNaturalRollback runs the seed's migration step through the
// executor: 014 -> 017, then a later step fails and the natural rollback
// takes the schema back to 014.
func TestMigrateUpAndNaturalRollback(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	inst := instance(t, db.DSN)
	migrateTo(t, inst, 14)

	mig, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: migrationsDir})
	require.NoError(t, err)
	var seen runbook.Outputs
	var during string
	plan, err := runbook.NewBuilder("release-2").
		Step(runbook.Step{Name: "migrate", Action: mig}).
		Step(runbook.Step{Name: "check", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			seen, _ = env.Output("migrate")
			// Runs on the executor's goroutine: no require here.
			conn, err := pgx.Connect(ctx, db.DSN)
			if err != nil {
				return nil, err
			}
			defer conn.Close(ctx)
			if err := conn.QueryRow(ctx, "SELECT format('%s %s %s', max(version), to_regclass('ml_features'), to_regclass('audit_log')) FROM schema_migrations").Scan(&during); err != nil {
				return nil, err
			}
			return nil, errors.New("smoke test failed")
		})}).
		Build()
	require.NoError(t, err)
	obs := &lines{}
	res, err := (&runbook.Executor{Observer: obs}).Run(context.Background(), plan, runbook.RunOptions{})
	require.ErrorContains(t, err, "smoke test failed")
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, []string{"migrate"}, res.Compensated)

	assert.Equal(t, "17 ml_features audit_log", during)
	assert.Equal(t, int64(14), seen["from_version"])
	assert.Equal(t, int64(17), seen["to_version"])
	assert.Equal(t, []string{"015_add_ml_features_table.up.sql", "016_add_analytics_views.up.sql", "017_add_compliance_enhancements.up.sql"}, seen["applied"])

	assert.Equal(t, int64(14), db.version(t))
	assert.False(t, db.tableExists(t, "ml_features"))
	assert.False(t, db.tableExists(t, "audit_log"))
	assert.False(t, db.tableExists(t, "work_order_backlog"))
	assert.True(t, db.tableExists(t, "work_orders"))
	assert.Equal(t, false, db.scalar(t, "SELECT dirty FROM schema_migrations"))
	assert.Contains(t, obs.text(), "applied 017_add_compliance_enhancements.up.sql")
	assert.Contains(t, obs.text(), "migrating back to version 14")
}

// TestMigrateRollbackAfterJournalRoundTrip checks the natural rollback with
// outputs as a journal gives them back (numbers as float64).
func TestMigrateRollbackAfterJournalRoundTrip(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	inst := instance(t, db.DSN)
	migrateTo(t, inst, 17)
	// A new instance, as after a crash: nothing kept in memory.
	fresh := instance(t, db.DSN)
	mig, err := postgres.NewMigrate(fresh, postgres.MigrateArgs{Dir: migrationsDir})
	require.NoError(t, err)
	self := runbook.Outputs{"from_version": float64(15), "to_version": float64(17), "applied": []any{"016_add_analytics_views.up.sql"}}
	require.NoError(t, mig.NaturalRollback().Compensate(context.Background(), env("migrate", nil, self)))
	assert.Equal(t, int64(15), db.version(t))
	assert.True(t, db.tableExists(t, "ml_features"))
	assert.False(t, db.tableExists(t, "audit_log"))
}

func TestMigrateFailingMigration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		rollbackOnFailure bool
		wantVersion       int64
		wantMLFeatures    bool
	}{
		// Checkpointed before its first change, with an idempotent natural
		// rollback: the executor rolls the failed step back from its
		// checkpoint even without rollback_on_failure.
		{name: "checkpointed failure goes back to 014", rollbackOnFailure: false, wantVersion: 14, wantMLFeatures: false},
		{name: "rollback_on_failure takes it to 014", rollbackOnFailure: true, wantVersion: 14, wantMLFeatures: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			inst := instance(t, db.DSN)
			migrateTo(t, inst, 14)
			fsys, broken := brokenMigrations(t)
			mig, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: "migrations", FS: fsys})
			require.NoError(t, err)
			plan, err := runbook.NewBuilder("release-2").
				Step(runbook.Step{Name: "migrate", Action: mig, RollbackOnFailure: tt.rollbackOnFailure}).
				Build()
			require.NoError(t, err)
			res, err := (&runbook.Executor{}).Run(context.Background(), plan, runbook.RunOptions{RunID: "run-" + strings.ReplaceAll(tt.name, " ", "-")})
			require.Error(t, err)
			require.Error(t, res.Err)

			var merr *postgres.MigrationError
			require.ErrorAs(t, res.Err, &merr)
			assert.Equal(t, "016_add_analytics_views.up.sql", merr.File)
			wantLine := 1 + strings.Count(broken[:strings.Index(broken, "FORM")], "\n")
			assert.Equal(t, wantLine, merr.Line)
			assert.Equal(t, 1, merr.Column)
			assert.Equal(t, int64(15), merr.AppliedBefore)
			assert.Contains(t, res.Err.Error(), "016_add_analytics_views.up.sql:6:1")
			assert.Contains(t, res.Err.Error(), `syntax error at or near "FORM"`)
			assert.True(t, runbook.IsPermanent(res.Err), "a syntax error is not retried")

			assert.Equal(t, tt.wantVersion, db.version(t))
			assert.Equal(t, tt.wantMLFeatures, db.tableExists(t, "ml_features"))
			assert.False(t, db.tableExists(t, "analytics_scratch"), "016's transaction was rolled back")
			assert.Equal(t, runbook.StatusRolledBack, res.Status)
			assert.Equal(t, []string{"migrate"}, res.Compensated)
		})
	}
}

func TestMigrateDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	inst := instance(t, db.DSN)
	migrateTo(t, inst, 14)
	mig, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: migrationsDir, DryRun: true})
	require.NoError(t, err)
	assert.True(t, mig.ReadOnly())
	assert.Nil(t, mig.NaturalRollback())
	obs := &lines{}
	out, err := mig.Do(context.Background(), env("dry_run", obs, nil))
	require.NoError(t, err)
	assert.Equal(t, int64(14), out["from_version"])
	assert.Equal(t, int64(14), out["to_version"])
	assert.Equal(t, []string{"015_add_ml_features_table.up.sql", "016_add_analytics_views.up.sql", "017_add_compliance_enhancements.up.sql"}, out["applied"])
	assert.Contains(t, obs.text(), "would run 015_add_ml_features_table.up.sql (version 14 -> 15)")
	assert.Contains(t, obs.text(), "would run 017_add_compliance_enhancements.up.sql (version 16 -> 17)")
	assert.Equal(t, int64(14), db.version(t))
	assert.False(t, db.tableExists(t, "ml_features"))

	// On an empty database, a dry run does not even create schema_migrations.
	empty := newDB(t)
	mig, err = postgres.NewMigrate(instance(t, empty.DSN), postgres.MigrateArgs{Dir: migrationsDir, DryRun: true, Target: i64(14)})
	require.NoError(t, err)
	out, err = mig.Do(context.Background(), env("dry_run", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, int64(0), out["from_version"])
	assert.Len(t, out["applied"], 2)
	assert.False(t, empty.tableExists(t, "schema_migrations"))
}

func TestMigrateTargetsAndBadInput(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	inst := instance(t, db.DSN)
	migrateTo(t, inst, 16)
	assert.Equal(t, int64(16), db.version(t))
	migrateTo(t, inst, 1)
	assert.Equal(t, int64(1), db.version(t))
	assert.False(t, db.tableExists(t, "ml_features"))
	migrateTo(t, inst, 0)
	assert.Equal(t, int64(0), db.version(t))
	assert.False(t, db.tableExists(t, "sites"))

	tests := []struct {
		name    string
		args    postgres.MigrateArgs
		wantErr string
	}{
		{name: "unknown target", args: postgres.MigrateArgs{Dir: migrationsDir, Target: i64(12)}, wantErr: "target version 12 has no script in testdata/migrations (versions there: 1 to 17)"},
		{name: "missing dir", args: postgres.MigrateArgs{Dir: "testdata/nope"}, wantErr: "migrations directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mig, err := postgres.NewMigrate(inst, tt.args)
			require.NoError(t, err)
			_, err = mig.Do(context.Background(), env("m", nil, nil))
			require.ErrorIs(t, err, postgres.ErrMigrations)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestMigrateDirtyDatabase(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	inst := instance(t, db.DSN)
	migrateTo(t, inst, 14)
	db.exec(t, "UPDATE schema_migrations SET dirty = true")
	mig, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: migrationsDir})
	require.NoError(t, err)
	_, err = mig.Do(context.Background(), env("m", nil, nil))
	require.ErrorIs(t, err, postgres.ErrDirty)
	assert.Contains(t, err.Error(), "version 14 is marked dirty")
}

// TestMigrateAdvisoryLock: a second run waits for the lock (saying who
// holds it) and then finds nothing left to do; past lock_timeout it fails
// with ErrLocked.
func TestMigrateAdvisoryLock(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	migrateTo(t, instance(t, db.DSN), 14)
	ctx := context.Background()

	t.Run("concurrent runs", func(t *testing.T) {
		var wg sync.WaitGroup
		outs := make([]runbook.Outputs, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mig, err := postgres.NewMigrate(instance(t, db.DSN), postgres.MigrateArgs{Dir: migrationsDir})
				if err != nil {
					errs[i] = err
					return
				}
				outs[i], errs[i] = mig.Do(ctx, env("migrate", nil, nil))
			}()
		}
		wg.Wait()
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		n := len(outs[0]["applied"].([]string)) + len(outs[1]["applied"].([]string))
		assert.Equal(t, 3, n, "the migrations ran once in all")
		assert.Equal(t, int64(17), outs[0]["to_version"])
		assert.Equal(t, int64(17), outs[1]["to_version"])
		assert.Equal(t, int64(17), db.version(t))
	})

	// The migrate CLI holds its lock.
	unlock := migrateCLILock(t, db)

	t.Run("times out", func(t *testing.T) {
		mig, err := postgres.NewMigrate(instance(t, db.DSN), postgres.MigrateArgs{Dir: migrationsDir, Target: i64(14), LockTimeout: 500 * time.Millisecond})
		require.NoError(t, err)
		obs := &lines{}
		_, err = mig.Do(ctx, env("migrate", obs, nil))
		require.ErrorIs(t, err, postgres.ErrLocked)
		assert.Contains(t, err.Error(), "server process ")
		assert.Contains(t, obs.text(), "waiting up to 500ms for the migration lock held by server process")
		assert.Equal(t, int64(17), db.version(t))
	})

	t.Run("waits", func(t *testing.T) {
		obs := &lines{}
		mig, err := postgres.NewMigrate(instance(t, db.DSN), postgres.MigrateArgs{Dir: migrationsDir, Target: i64(14), LockTimeout: 20 * time.Second})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() {
			_, err := mig.Do(ctx, env("migrate", obs, nil))
			done <- err
		}()
		require.Eventually(t, func() bool { return strings.Contains(obs.text(), "waiting up to 20s") }, 10*time.Second, 20*time.Millisecond)
		assert.Equal(t, int64(17), db.version(t), "nothing runs while the lock is held")
		unlock()
		require.NoError(t, <-done)
		assert.Equal(t, int64(14), db.version(t))
	})
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	inst := instance(t, db.DSN)
	migrateTo(t, inst, 14)
	db.exec(t, "INSERT INTO sites (name) VALUES ('plant-a')")
	ctx := context.Background()

	backup, err := postgres.NewBackup(inst, postgres.BackupArgs{Dir: t.TempDir()})
	require.NoError(t, err)
	assert.True(t, backup.ReadOnly())
	out, err := backup.Do(ctx, env("backup", nil, nil))
	require.NoError(t, err)
	file := out["file"].(string)
	assert.Regexp(t, `/handrail_test_[0-9a-f]+-\d{8}T\d{6}Z\.dump$`, file)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), out["size"])
	sum := sha256.Sum256(data)
	assert.Equal(t, hex.EncodeToString(sum[:]), out["sha256"])
	assert.Equal(t, "PGDMP", string(data[:5]), "custom format")

	migrateTo(t, inst, 17)
	db.exec(t, "INSERT INTO sites (name) VALUES ('plant-b')")

	// A wrong checksum restores nothing.
	bad, err := postgres.NewRestore(inst, postgres.RestoreArgs{File: file, SHA256: strings.Repeat("0", 64), DropSchemas: []string{"public"}})
	require.NoError(t, err)
	_, err = bad.Do(ctx, env("restore", nil, nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nothing was restored")
	assert.Equal(t, int64(17), db.version(t))

	restore, err := postgres.NewRestore(inst, postgres.RestoreArgs{File: file, SHA256: out["sha256"].(string), DropSchemas: []string{"public"}})
	require.NoError(t, err)
	require.NoError(t, restore.Compensate(ctx, env("backup", nil, nil)))
	assert.Equal(t, int64(14), db.version(t))
	assert.False(t, db.tableExists(t, "ml_features"))
	assert.False(t, db.tableExists(t, "audit_log"))
	assert.Equal(t, int64(1), db.scalar(t, "SELECT count(*) FROM sites"))

	// And migrating again works on the restored database.
	migrateTo(t, inst, 17)
	assert.True(t, db.tableExists(t, "audit_log"))
}

// recordingRunner is a provider.CommandRunner that runs locally and
// records what it was asked, as an SSH instance would be.
type recordingRunner struct {
	mu    sync.Mutex
	argvs [][]string
}

func (r *recordingRunner) RunCommand(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	r.mu.Lock()
	r.argvs = append(r.argvs, argv)
	r.mu.Unlock()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

func TestBackupVia(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	const password = "via-pw-Secret-42"
	run := &recordingRunner{}
	inst, err := postgres.NewInstance("dcmms", postgres.Config{DSN: db.withPassword(password), Via: run, ViaName: "ssh.db"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = inst.Close() })
	migrateTo(t, inst, 14)
	file := filepath.Join(t.TempDir(), "pre-release-2.dump")
	backup, err := postgres.NewBackup(inst, postgres.BackupArgs{File: file})
	require.NoError(t, err)
	out, err := backup.Do(context.Background(), env("backup", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, file, out["file"])
	assert.Greater(t, out["size"].(int64), int64(1000))
	assert.Len(t, out["sha256"], 64)
	require.Len(t, run.argvs, 2, "pg_dump, then the checksum, both through via")
	for _, argv := range run.argvs {
		assert.NotContains(t, strings.Join(argv, " "), password)
	}
	assert.Contains(t, strings.Join(run.argvs[0], " "), "pg_dump")
}

func TestConnectionErrorsHidePassword(t *testing.T) {
	t.Parallel()
	const password = "Hunter2-secret"
	db := newDB(t)
	tests := []struct {
		name    string
		dsn     string
		wantErr string
	}{
		{name: "unreachable server", dsn: "postgres://dcmms:" + password + "@" + closedAddr(t) + "/dcmms?sslmode=disable", wantErr: "cannot connect"},
		{name: "unknown database", dsn: strings.Replace(db.withPassword(password), db.Name, "no_such_db", 1), wantErr: `database "no_such_db" does not exist`},
		{name: "unknown host", dsn: "postgres://dcmms:" + password + "@db.invalid:5432/dcmms?sslmode=disable", wantErr: "cannot connect"},
		{name: "keyword form", dsn: "host=" + strings.Split(closedAddr(t), ":")[0] + " port=" + strings.Split(closedAddr(t), ":")[1] + " user=dcmms password=" + password + " dbname=dcmms sslmode=disable", wantErr: "cannot connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inst, err := postgres.NewInstance("dcmms", postgres.Config{DSN: tt.dsn, ConnectTimeout: 2 * time.Second})
			require.NoError(t, err, "configuring does not connect")
			defer inst.Close()
			_, err = postgres.NewPing(inst).Do(context.Background(), env("ping", nil, nil))
			require.Error(t, err)
			require.ErrorIs(t, err, postgres.ErrConnect)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), password)
			assert.Contains(t, err.Error(), "postgres_ping")

			mig, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: migrationsDir})
			require.NoError(t, err)
			_, err = mig.Do(context.Background(), env("migrate", nil, nil))
			require.Error(t, err)
			assert.NotContains(t, err.Error(), password)

			backup, err := postgres.NewBackup(inst, postgres.BackupArgs{File: filepath.Join(t.TempDir(), "x.dump")})
			require.NoError(t, err)
			_, err = backup.Do(context.Background(), env("backup", nil, nil))
			require.ErrorIs(t, err, postgres.ErrCommand)
			assert.NotContains(t, err.Error(), password)
		})
	}

	t.Run("bad syntax", func(t *testing.T) {
		_, err := postgres.NewInstance("dcmms", postgres.Config{DSN: "postgres://dcmms:" + password + "@host:notaport/db"})
		require.Error(t, err)
		assert.NotContains(t, err.Error(), password)
		assert.Contains(t, err.Error(), "postgres.dcmms: dsn is not a valid PostgreSQL connection string")
	})
}

// A migration step that fails before changing anything (the lock is held)
// has nothing to undo: rollback_on_failure leaves the schema alone, and
// what another run did is not mistaken for this one's.
func TestMigrateFailsBeforeAnyChange(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	inst := instance(t, db.DSN)
	migrateTo(t, inst, 14)
	// Another run noted its start (and migrated to 15).
	other, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: migrationsDir, Target: i64(15)})
	require.NoError(t, err)
	_, err = other.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Run: runbook.RunInfo{ID: "earlier"}, Node: "migrate"}))
	require.NoError(t, err)

	ctx := context.Background()
	defer migrateCLILock(t, db)()

	mig, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: migrationsDir, LockTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	plan, err := runbook.NewBuilder("release-2").Step(runbook.Step{Name: "migrate", Action: mig, RollbackOnFailure: true}).Build()
	require.NoError(t, err)
	obs := &lines{}
	res, err := (&runbook.Executor{Observer: obs}).Run(ctx, plan, runbook.RunOptions{RunID: "later"})
	require.ErrorIs(t, err, postgres.ErrLocked)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Contains(t, obs.text(), "nothing to migrate back")
	assert.Equal(t, int64(15), db.version(t))

}

// A migration that times out waiting for a table lock (SQLSTATE 55P03) is
// retried; the retry reports the version the step started from, and the
// natural rollback goes back there.
func TestMigrateRetriesTransientFailure(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	inst := instance(t, db.DSN)
	migrateTo(t, inst, 14)
	fsys, _ := brokenMigrations(t)
	up, err := os.ReadFile(migrationsDir + "/016_add_analytics_views.up.sql")
	require.NoError(t, err)
	fsys.(fstest.MapFS)["016_add_analytics_views.up.sql"] = &fstest.MapFile{Data: append([]byte("SET LOCAL lock_timeout = '300ms';\n"), up...)}

	ctx := context.Background()
	holder, err := pgx.Connect(ctx, db.DSN)
	require.NoError(t, err)
	defer holder.Close(ctx)
	tx, err := holder.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE work_orders IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	mig, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: "migrations", FS: fsys})
	require.NoError(t, err)
	var out runbook.Outputs
	plan, err := runbook.NewBuilder("release-2").
		Step(runbook.Step{Name: "migrate", Action: mig, Retry: runbook.Retry{Attempts: 2, Delay: 10 * time.Millisecond}}).
		Step(runbook.Step{Name: "deploy", Irreversible: true, Action: runbook.ActionFunc(func(_ context.Context, env *runbook.Env) (runbook.Outputs, error) {
			out, _ = env.Output("migrate")
			return nil, errors.New("backend unhealthy")
		})}).
		Build()
	require.NoError(t, err)
	var retryErr string
	obs := runbook.ObserverFunc(func(e runbook.Event) {
		if r, ok := e.(runbook.NodeRetrying); ok {
			retryErr = r.Error
			assert.NoError(t, tx.Rollback(ctx))
		}
	})
	res, err := (&runbook.Executor{Observer: obs}).Run(ctx, plan, runbook.RunOptions{})
	require.ErrorContains(t, err, "backend unhealthy")
	assert.Contains(t, retryErr, "016_add_analytics_views.up.sql")
	assert.Contains(t, retryErr, "lock timeout")
	assert.Equal(t, 2, res.Nodes["migrate"].Attempts)
	assert.Equal(t, int64(14), out["from_version"])
	assert.Equal(t, []string{"016_add_analytics_views.up.sql", "017_add_compliance_enhancements.up.sql"}, out["applied"])
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, int64(14), db.version(t))
	assert.False(t, db.tableExists(t, "ml_features"))
}

// A database golang-migrate brought to 014 drops in: same table, same
// single row, and Handrail leaves it as golang-migrate would.
func TestGolangMigrateDatabaseDropsIn(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	for _, f := range []string{"001_create_core_tables.up.sql", "014_add_work_order_sla.up.sql"} {
		b, err := os.ReadFile(migrationsDir + "/" + f)
		require.NoError(t, err)
		db.exec(t, string(b))
	}
	// golang-migrate v4's postgres driver creates exactly this table.
	db.exec(t, "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint not null primary key, dirty boolean not null)")
	db.exec(t, "INSERT INTO schema_migrations (version, dirty) VALUES (14, false)")

	mig, err := postgres.NewMigrate(instance(t, db.DSN), postgres.MigrateArgs{Dir: migrationsDir})
	require.NoError(t, err)
	out, err := mig.Do(context.Background(), env("migrate", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, int64(14), out["from_version"])
	assert.Equal(t, int64(17), out["to_version"])
	assert.Equal(t, int64(1), db.scalar(t, "SELECT count(*) FROM schema_migrations"), "one row, as golang-migrate keeps it")
	assert.Equal(t, false, db.scalar(t, "SELECT dirty FROM schema_migrations"))
	assert.Equal(t, "bigint,boolean", db.scalar(t, "SELECT string_agg(data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'schema_migrations'"))
}
