package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/faultnet"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/handrail-dev/handrail/providers/postgres/postgresfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// releasePlan is the shape of the ambiguous failure: a migration with a
// retry, then a step that fails, so the migration must be compensated.
func releasePlan(t *testing.T, mig runbook.Action, seen *runbook.Outputs) *runbook.Plan {
	t.Helper()
	plan, err := runbook.NewBuilder("release-2").
		Step(runbook.Step{Name: "migrate", Action: mig, Retry: runbook.Retry{Attempts: 2, Delay: 10 * time.Millisecond}}).
		Step(runbook.Step{Name: "deploy", Irreversible: true, Action: runbook.ActionFunc(func(_ context.Context, env *runbook.Env) (runbook.Outputs, error) {
			*seen, _ = env.Output("migrate")
			return nil, errors.New("backend unhealthy")
		})}).
		Build()
	require.NoError(t, err)
	return plan
}

// The fake applies 015 to 017 and loses the answer to the last COMMIT; the
// retry finds the schema at 017. The step must still report (and roll back
// to) the version before its first attempt.
func TestFakeMigrateLostAnswerRetriedThenRolledBack(t *testing.T) {
	t.Parallel()
	w := postgresfake.New().SetVersion(14)
	w.Inject(postgresfake.CallMigration(17), fault.Fault{Kind: fault.After})
	inst, err := postgres.NewInstance("dcmms", postgres.Config{DSN: "postgres://fake/dcmms"}, w.Option())
	require.NoError(t, err)
	mig, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: "migrations", FS: postgresfake.SeedMigrations()})
	require.NoError(t, err)
	var seen runbook.Outputs
	res, err := (&runbook.Executor{}).Run(context.Background(), releasePlan(t, mig, &seen), runbook.RunOptions{})
	require.ErrorContains(t, err, "backend unhealthy")
	assert.Equal(t, 2, res.Nodes["migrate"].Attempts, "the lost answer was retried")
	assert.Equal(t, int64(14), seen["from_version"], "the retry reports where the step started, not what its first attempt left")
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, int64(14), w.Version(), "the world is back at 014")
	assert.Equal(t, []string{
		"015_add_ml_features_table.up.sql", "016_add_analytics_views.up.sql", "017_add_compliance_enhancements.up.sql",
		"017_add_compliance_enhancements.down.sql", "016_add_analytics_views.down.sql", "015_add_ml_features_table.down.sql",
	}, w.Applied())
}

// migratorRole creates a login role that may migrate db but does not own
// schema_migrations (the DBA's table, as in many shops), and returns its
// DSN through addr. The role is dropped at cleanup.
func migratorRole(t *testing.T, db testDB, addr string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	role := "handrail_migrator_" + hex.EncodeToString(b[:])
	db.exec(t, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		db.execNoFail("DROP OWNED BY " + role)
		db.adminExecNoFail("DROP ROLE IF EXISTS " + role)
	})
	db.exec(t, "GRANT ALL ON SCHEMA public TO "+role)
	u, err := url.Parse(db.DSN)
	require.NoError(t, err)
	u.User = url.User(role)
	u.Host = addr
	return u.String()
}

// On the real server: the answer to the COMMIT of 017 is lost (a proxy
// lets the COMMIT through, drops the server's answer and resets the
// connection), the step retries and finds 017, a later step fails. The
// database must end at 014 again. The migrating role does not own
// schema_migrations, so no note can be left on the table itself: only the
// run's journal knows where the step started.
func TestRealMigrateLostAnswerRetriedThenRolledBack(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	u, err := url.Parse(db.DSN)
	require.NoError(t, err)
	proxy, err := faultnet.NewProxy(u.Host)
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	dsn := migratorRole(t, db, proxy.Addr())
	migrateTo(t, instance(t, dsn), 14)
	db.exec(t, "ALTER TABLE schema_migrations OWNER TO CURRENT_USER")
	role, _ := url.Parse(dsn)
	db.exec(t, "GRANT SELECT, INSERT, UPDATE, DELETE ON schema_migrations TO "+role.User.Username())

	seenMarker := false
	cut := &faultnet.Cut{Match: func(w []byte) bool {
		if !seenMarker {
			seenMarker = bytes.Contains(w, []byte("CREATE TABLE audit_log"))
			return false
		}
		return bytes.Contains(w, []byte("commit"))
	}}
	proxy.SetCut(cut)

	mig, err := postgres.NewMigrate(instance(t, dsn), postgres.MigrateArgs{Dir: migrationsDir})
	require.NoError(t, err)
	var seen runbook.Outputs
	obs := &lines{}
	res, err := (&runbook.Executor{Observer: obs}).Run(context.Background(), releasePlan(t, mig, &seen), runbook.RunOptions{})
	t.Log(obs.text())
	require.ErrorContains(t, err, "backend unhealthy")
	require.Equal(t, 1, cut.Fired(), "the answer to 017's COMMIT was dropped")
	assert.Equal(t, 2, res.Nodes["migrate"].Attempts, "the lost answer was retried")
	assert.Equal(t, int64(14), seen["from_version"], "the retry reports where the step started")
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, int64(14), db.version(t), "the database is back at 014")
	assert.False(t, db.tableExists(t, "audit_log"))
	assert.False(t, db.tableExists(t, "ml_features"))
	assert.True(t, db.tableExists(t, "work_orders"))
}
