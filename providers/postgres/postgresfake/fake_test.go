package postgresfake_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/handrail-dev/handrail/providers/postgres/postgresfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

func newInstance(t *testing.T, w *postgresfake.World) *postgres.Instance {
	t.Helper()
	inst, err := postgres.NewInstance("dcmms", postgres.Config{DSN: "postgres://dcmms:pw@db:5432/dcmms"}, w.Option())
	require.NoError(t, err)
	return inst
}

var upFiles = []string{"015_add_ml_features_table.up.sql", "016_add_analytics_views.up.sql", "017_add_compliance_enhancements.up.sql"}

// The seed's database phase: verify 014, back up, migrate; a later failure
// rolls the schema back to 014.
func TestSeedMigrationRollsBackTo014(t *testing.T) {
	w := postgresfake.New().SetVersion(14)
	inst := newInstance(t, w)
	assert.Zero(t, w.Connections(), "configuring does not connect")

	verify, err := postgres.NewQuery(inst, postgres.QueryArgs{SQL: "SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1", Expect: map[string]string{"version": "014"}})
	require.NoError(t, err)
	backup, err := postgres.NewBackup(inst, postgres.BackupArgs{File: "/backups/pre-release-2.dump"})
	require.NoError(t, err)
	mig, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: "migrations", FS: postgresfake.SeedMigrations()})
	require.NoError(t, err)
	plan, err := runbook.NewBuilder("release-2").
		Step(runbook.Step{Name: "verify_schema", Action: verify}).
		Step(runbook.Step{Name: "backup", Action: backup}).
		Step(runbook.Step{Name: "migrate", Action: mig, Rollbacks: []runbook.Rollback{mig.NaturalRollback(), postgres.RestoreFrom(inst, "backup", postgres.RestoreArgs{})}}).
		Step(runbook.Step{Name: "deploy", Irreversible: true, Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			assert.Equal(t, int64(17), w.Version())
			return nil, assert.AnError
		})}).
		Build()
	require.NoError(t, err)
	res, err := (&runbook.Executor{}).Run(context.Background(), plan, runbook.RunOptions{})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, int64(14), w.Version())
	assert.Equal(t, append(append([]string{}, upFiles...),
		"017_add_compliance_enhancements.down.sql", "016_add_analytics_views.down.sql", "015_add_ml_features_table.down.sql"), w.Applied())
	assert.Equal(t, []string{"/backups/pre-release-2.dump"}, w.Backups())
	assert.Equal(t, 1, w.Connections())
}

func TestFailingMigration(t *testing.T) {
	tests := []struct {
		name              string
		rollbackOnFailure bool
		wantVersion       int64
		wantApplied       []string
	}{
		// The step checkpointed 014 before its first change and its
		// natural rollback is idempotent: the executor rolls a failed
		// step back from its checkpoint even without rollback_on_failure.
		{name: "a checkpointed failure goes back to 014", wantVersion: 14,
			wantApplied: []string{"015_add_ml_features_table.up.sql", "015_add_ml_features_table.down.sql"}},
		{name: "rollback_on_failure goes to 014", rollbackOnFailure: true, wantVersion: 14,
			wantApplied: []string{"015_add_ml_features_table.up.sql", "015_add_ml_features_table.down.sql"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := postgresfake.New().SetVersion(14).FailMigration(16, `syntax error at or near "FORM"`)
			mig, err := postgres.NewMigrate(newInstance(t, w), postgres.MigrateArgs{Dir: "migrations", FS: postgresfake.SeedMigrations()})
			require.NoError(t, err)
			plan, err := runbook.NewBuilder("release-2").Step(runbook.Step{Name: "migrate", Action: mig, RollbackOnFailure: tt.rollbackOnFailure}).Build()
			require.NoError(t, err)
			res, err := (&runbook.Executor{}).Run(context.Background(), plan, runbook.RunOptions{})
			require.Error(t, err)
			var merr *postgres.MigrationError
			require.ErrorAs(t, res.Err, &merr)
			assert.Equal(t, "016_add_analytics_views.up.sql", merr.File)
			assert.Contains(t, res.Err.Error(), "016_add_analytics_views.up.sql:1:1")
			assert.Equal(t, tt.wantVersion, w.Version())
			assert.Equal(t, tt.wantApplied, w.Applied())
		})
	}
}

// The migration's natural rollback fails (015's down is broken): the
// restore fallback brings the database back to the dump's 014.
func TestRestoreAsFallback(t *testing.T) {
	w := postgresfake.New().SetVersion(14).FailMigrationDown(15, "cannot drop table ml_features because other objects depend on it")
	inst := newInstance(t, w)
	backup, err := postgres.NewBackup(inst, postgres.BackupArgs{Dir: "/backups"})
	require.NoError(t, err)
	mig, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: "migrations", FS: postgresfake.SeedMigrations()})
	require.NoError(t, err)
	plan, err := runbook.NewBuilder("release-2").
		Step(runbook.Step{Name: "backup", Action: backup}).
		Step(runbook.Step{Name: "migrate", Action: mig, Rollbacks: []runbook.Rollback{mig.NaturalRollback(), postgres.RestoreFrom(inst, "backup", postgres.RestoreArgs{DropSchemas: []string{"public"}})}}).
		Step(runbook.Step{Name: "deploy", Irreversible: true, Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			return nil, assert.AnError
		})}).
		Build()
	require.NoError(t, err)
	retry := runbook.Retry{Attempts: 1}
	res, err := (&runbook.Executor{RollbackRetry: &retry}).Run(context.Background(), plan, runbook.RunOptions{})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, int64(14), w.Version())
	require.Len(t, w.Backups(), 1)
	assert.Regexp(t, `^/backups/dcmms-\d{8}T\d{6}Z\.dump$`, w.Backups()[0])
}

func TestUnreachable(t *testing.T) {
	w := postgresfake.New().SetUnreachable(true)
	_, err := postgres.NewPing(newInstance(t, w)).Do(context.Background(), nil)
	require.ErrorIs(t, err, postgres.ErrConnect)
}

func TestScriptedQueryAndProbe(t *testing.T) {
	w := postgresfake.New().ScriptQuery("SELECT count(*) FROM work_orders WHERE status = 'open'", []string{"count"}, []any{int64(7)})
	inst := newInstance(t, w)
	p, err := postgres.NewQueryProbe(inst, postgres.QueryArgs{SQL: "SELECT count(*)\n FROM work_orders WHERE status = 'open';"})
	require.NoError(t, err)
	s, err := p.Sample(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, int64(7), s.Value)

	p, err = postgres.NewQueryProbe(inst, postgres.QueryArgs{SQL: "SELECT version FROM schema_migrations"})
	require.NoError(t, err)
	s, err = p.Sample(context.Background(), nil)
	require.NoError(t, err)
	assert.True(t, s.NoData, "no version yet")

	q, err := postgres.NewQuery(inst, postgres.QueryArgs{SQL: "SELECT 1"})
	require.NoError(t, err)
	_, err = q.Do(context.Background(), nil)
	assert.ErrorContains(t, err, "ScriptQuery")
}

// The provider through its HCL-facing contract: Configure with cty values
// and action types built from cty arguments.
func TestProviderContract(t *testing.T) {
	w := postgresfake.New().SetVersion(14)
	p := w.Provider()
	reg, err := provider.NewRegistry(p)
	require.NoError(t, err)
	assert.Equal(t, []string{"postgres_backup", "postgres_migrate", "postgres_ping", "postgres_query", "postgres_restore"}, reg.ActionNames())
	assert.True(t, p.ConfigSchema()["dsn"].Sensitive)

	ctx := context.Background()
	inst, err := p.Configure(ctx, "dcmms", cty.ObjectVal(map[string]cty.Value{
		"dsn": cty.StringVal("postgres://dcmms:pw@db/dcmms"), "connect_timeout": cty.StringVal("5s"), "via": cty.NullVal(provider.InstanceType),
	}))
	require.NoError(t, err)
	assert.Equal(t, "postgres.dcmms", inst.Name())
	assert.Zero(t, w.Connections())

	at := p.Actions()["postgres_query"]
	a, err := at.New(inst, cty.ObjectVal(map[string]cty.Value{
		"sql":    cty.StringVal("SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1"),
		"expect": cty.MapVal(map[string]cty.Value{"version": cty.StringVal("014")}),
		"args":   cty.NullVal(cty.DynamicPseudoType), "mutates": cty.NullVal(cty.Bool), "expect_row_count": cty.NumberIntVal(1),
	}))
	require.NoError(t, err)
	assert.Equal(t, runbook.Description{Provider: "postgres.dcmms", Action: "postgres_query"}, runbook.Describe(a))
	out, err := a.Do(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(14), out["value"])

	mt := p.Actions()["postgres_migrate"]
	assert.True(t, mt.NaturalRollback)
	m, err := mt.New(inst, cty.ObjectVal(map[string]cty.Value{
		"dir": cty.StringVal("../testdata/migrations"), "target": cty.NumberIntVal(17), "dry_run": cty.True, "lock_timeout": cty.StringVal("30s"),
	}))
	require.NoError(t, err)
	out, err = m.Do(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, upFiles, out["applied"])
	assert.Equal(t, int64(14), w.Version(), "dry run")

	_, err = p.Actions()["postgres_restore"].New(inst, cty.ObjectVal(map[string]cty.Value{
		"file": cty.StringVal("/b.dump"), "drop_schemas": cty.ListVal([]cty.Value{cty.StringVal("public")}), "clean": cty.False,
	}))
	require.NoError(t, err)

	bad := []struct {
		name, action string
		args         cty.Value
		wantErr      string
	}{
		{"fractional target", "postgres_migrate", cty.ObjectVal(map[string]cty.Value{"dir": cty.StringVal("m"), "target": cty.NumberFloatVal(1.5)}), "postgres_migrate: target: want a whole number, got 1.5"},
		{"bad lock timeout", "postgres_migrate", cty.ObjectVal(map[string]cty.Value{"dir": cty.StringVal("m"), "lock_timeout": cty.StringVal("soon")}), `postgres_migrate: lock_timeout: "soon" is not a duration`},
		{"zero lock timeout", "postgres_migrate", cty.ObjectVal(map[string]cty.Value{"dir": cty.StringVal("m"), "lock_timeout": cty.StringVal("0")}), `lock_timeout: want a positive duration`},
		{"no dir", "postgres_migrate", cty.EmptyObjectVal, "dir is empty"},
		{"empty sql", "postgres_query", cty.ObjectVal(map[string]cty.Value{"sql": cty.StringVal(" ")}), "sql is empty"},
		{"args not a list", "postgres_query", cty.ObjectVal(map[string]cty.Value{"sql": cty.StringVal("SELECT $1"), "args": cty.StringVal("x")}), "postgres_query: args: want a list, got string"},
		{"backup needs file or dir", "postgres_backup", cty.EmptyObjectVal, "exactly one of file"},
		{"restore needs file", "postgres_restore", cty.EmptyObjectVal, "file is empty"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Actions()[tt.action].New(inst, tt.args)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

type notRunner struct{}

func (notRunner) Name() string { return "http.api" }

func TestConfigureErrors(t *testing.T) {
	p := postgresfake.New().Provider()
	tests := []struct {
		name    string
		config  cty.Value
		wantErr string
	}{
		{"no dsn", cty.EmptyObjectVal, "postgres.dcmms: dsn is required"},
		{"bad timeout", cty.ObjectVal(map[string]cty.Value{"dsn": cty.StringVal("postgres://db/x"), "connect_timeout": cty.StringVal("-1s")}), `postgres.dcmms: connect_timeout: "-1s" is not a duration`},
		{"dsn not a string", cty.ObjectVal(map[string]cty.Value{"dsn": cty.NumberIntVal(5)}), "postgres.dcmms: dsn: want a string, got number"},
		{"via cannot run commands", cty.ObjectVal(map[string]cty.Value{"dsn": cty.StringVal("postgres://db/x"), "via": provider.InstanceVal(notRunner{})}), "via = http.api cannot run commands"},
		{"bad dsn hides password", cty.ObjectVal(map[string]cty.Value{"dsn": cty.StringVal("postgres://u:TopSecret99@db:port/x")}), "dsn is not a valid PostgreSQL connection string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Configure(context.Background(), "dcmms", tt.config)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "TopSecret99")
		})
	}
}

type runnerInstance struct{}

func (runnerInstance) Name() string { return "ssh.db" }

func (runnerInstance) RunCommand(context.Context, []string, io.Reader, io.Writer, io.Writer) (int, error) {
	return 0, nil
}

func TestConfigureVia(t *testing.T) {
	p := postgresfake.New().Provider()
	inst, err := p.Configure(context.Background(), "dcmms", cty.ObjectVal(map[string]cty.Value{
		"dsn": cty.StringVal("postgres://dcmms@db/dcmms"), "via": provider.InstanceVal(runnerInstance{}),
	}))
	require.NoError(t, err)
	assert.Equal(t, "postgres.dcmms", inst.Name())
}

// A transient failure half-way (016 deadlocks once) is retried; the retry
// reports the version the step started from, so the rollback still goes
// back to 014.
func TestRetryKeepsStepStartVersion(t *testing.T) {
	w := postgresfake.New().SetVersion(14).FailMigrationOnce(16, "deadlock detected")
	mig, err := postgres.NewMigrate(newInstance(t, w), postgres.MigrateArgs{Dir: "migrations", FS: postgresfake.SeedMigrations()})
	require.NoError(t, err)
	var out runbook.Outputs
	plan, err := runbook.NewBuilder("release-2").
		Step(runbook.Step{Name: "migrate", Action: mig, Retry: runbook.Retry{Attempts: 2}}).
		Step(runbook.Step{Name: "deploy", Irreversible: true, Action: runbook.ActionFunc(func(_ context.Context, env *runbook.Env) (runbook.Outputs, error) {
			out, _ = env.Output("migrate")
			return nil, assert.AnError
		})}).
		Build()
	require.NoError(t, err)
	res, err := (&runbook.Executor{Clock: runbook.NewSimClock(time.Unix(0, 0))}).Run(context.Background(), plan, runbook.RunOptions{})
	require.Error(t, err)
	assert.Equal(t, 2, res.Nodes["migrate"].Attempts)
	assert.Equal(t, int64(14), out["from_version"], "the step started at 014, even though its second attempt found 015")
	assert.Equal(t, []string{"016_add_analytics_views.up.sql", "017_add_compliance_enhancements.up.sql"}, out["applied"])
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, int64(14), w.Version())
}
