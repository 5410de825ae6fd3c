package release2_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	release2 "github.com/handrail-dev/handrail/examples/release-2"
	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
	"github.com/handrail-dev/handrail/sandbox"
)

// These tests run the Go twin (release2.Plan) against the sandbox's fakes,
// in the happy world of release-2.test.hcl; TestScenarios runs the same
// stories from the HCL test file against release-2.hcl.

var start = sandbox.DefaultStart

const maintenance = "/etc/nginx/sites-enabled/maintenance.conf"

type setup struct {
	w    *sandbox.World
	cfg  release2.Config
	plan *runbook.Plan
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	w, err := sandbox.ForRunbook("release-2.hcl", start)
	require.NoError(t, err)
	reg, err := w.Registry()
	require.NoError(t, err)
	cfg := release2.SeedConfig()
	in, err := release2.Configure(context.Background(), reg, cfg)
	require.NoError(t, err)
	plan, err := release2.Plan(cfg, in)
	require.NoError(t, err)
	return &setup{w: w, cfg: cfg, plan: plan}
}

func (s *setup) harness(t *testing.T, opts ...runbooktest.Option) *runbooktest.Harness {
	t.Helper()
	opts = append([]runbooktest.Option{runbooktest.WithClock(s.w.Clock), runbooktest.WithObserver(s.w.Observer())}, opts...)
	return runbooktest.New(t, s.plan, opts...)
}

func (s *setup) images(t *testing.T, version string) {
	t.Helper()
	for _, svc := range []string{"backend", "ml-service", "mqtt-bridge", "frontend"} {
		c, ok := s.w.Docker.Container("dcmms-" + svc)
		require.True(t, ok, svc)
		assert.Equal(t, "dcmms/"+svc+":"+version, c.Image, svc)
	}
}

func (s *setup) weights(t *testing.T, old, new int) {
	t.Helper()
	assert.Equal(t, map[string]int{s.cfg.OldTargetGroupARN: old, s.cfg.NewTargetGroupARN: new}, s.w.AWS.Weights(s.cfg.RuleARN))
}

func (s *setup) maintenanceOff(t *testing.T) {
	t.Helper()
	assert.False(t, s.w.SSH.Host(s.cfg.LBHost).Exists(maintenance), "maintenance page still enabled")
	assert.Empty(t, s.w.Statuspage.Open(), "open incidents")
}

// assertOrder checks a compensation order in which the members of a group
// (the parallel branches) may come in any order.
func assertOrder(t *testing.T, got []string, want ...[]string) {
	t.Helper()
	var flat []string
	i := 0
	for _, g := range want {
		flat = append(flat, g...)
		if i+len(g) > len(got) {
			break
		}
		a, b := append([]string(nil), got[i:i+len(g)]...), append([]string(nil), g...)
		sort.Strings(a)
		sort.Strings(b)
		if !assert.Equal(t, b, a, "group at %d", i) {
			break
		}
		i += len(g)
	}
	assert.Len(t, got, len(flat), "got %q, want %q", got, flat)
}

func one(names ...string) [][]string {
	out := make([][]string, len(names))
	for i, n := range names {
		out[i] = []string{n}
	}
	return out
}

var backends = []string{"deploy_backend", "deploy_ml_service", "deploy_mqtt_bridge"}

// undoAfterFrontend is the compensation order of everything up to the
// frontend, in reverse.
func undoAfterFrontend() [][]string {
	out := one("nginx_reload", "deploy_frontend", "frontend_assets")
	out = append(out, backends)
	return append(out, one("migrate", "maintenance_page", "status_incident", "kickoff")...)
}

func TestHappyPath(t *testing.T) {
	s := newSetup(t)
	h := s.harness(t)
	wall := time.Now()
	h.Run()
	elapsed := time.Since(wall)
	h.AssertStatus(runbook.StatusSucceeded)
	// The 4-hour window (45 min of ramp soaks, 30 of monitoring) in
	// simulated time; the wall time is reported, not asserted.
	t.Logf("release-2 (Go twin), %d nodes: %s simulated in %s of wall time", len(s.plan.Nodes()), h.Elapsed(), elapsed)
	assert.LessOrEqual(t, h.Elapsed(), 4*time.Hour)
	assert.Empty(t, h.Compensated())
	s.images(t, "0.3.0")
	assert.EqualValues(t, 17, s.w.Postgres.Version())
	s.weights(t, 0, 100)
	s.maintenanceOff(t)
	require.Len(t, s.w.Statuspage.Incidents(), 1)
	assert.True(t, s.w.Statuspage.Incidents()[0].Resolved())
	assert.Equal(t, []string{"[dCMMS] Release 2 Deployment Complete"}, s.w.Email.Subjects())
	assert.Contains(t, s.w.AWS.Keys(s.cfg.BackupBucket), "production/pre-release-2/postgres_full_"+start.Format("20060102")+"_021500.sql.gz")
}

func TestBackupFailsAborts(t *testing.T) {
	s := newSetup(t)
	s.w.SSH.On(s.cfg.DBHost, "/opt/dcmms/scripts/backup/backup-postgres-full.sh").Exit(1).Stderr("pg_dump: error: connection refused")
	h := s.harness(t)
	h.Run()
	// "If backup fails, ABORT deployment": give it up and put the site back
	// as it was (on_fail = rollback; abort would leave maintenance on).
	h.AssertStatus(runbook.StatusRolledBack)
	h.AssertCompensated("maintenance_page", "status_incident", "kickoff")
	s.maintenanceOff(t)
	s.images(t, "0.2.9")
	assert.EqualValues(t, 14, s.w.Postgres.Version())
	s.weights(t, 100, 0)
	for _, k := range s.w.AWS.Keys(s.cfg.BackupBucket) {
		assert.NotContains(t, k, "pre-release-2", "nothing uploaded")
	}
	assert.NotContains(t, h.Executed(), "migrate")
}

func TestMigration016Fails(t *testing.T) {
	s := newSetup(t)
	s.w.Postgres.FailMigration(16, `syntax error at or near "VEIW"`)
	h := s.harness(t)
	h.Run()
	h.AssertStatus(runbook.StatusRolledBack)
	// migrate's own rollback first (rollback_on_failure: migrate down to
	// the version captured before the step), then the rest in reverse.
	h.AssertCompensated("migrate", "maintenance_page", "status_incident", "kickoff")
	assert.EqualValues(t, 14, s.w.Postgres.Version())
	s.maintenanceOff(t)
	s.images(t, "0.2.9")
}

func TestHealthCheckFails(t *testing.T) {
	s := newSetup(t)
	s.w.Docker.SetExecResult("dcmms-backend", []string{"npm", "run", "db:ping"}, docker.ExecResult{ExitCode: 1, Stderr: "ECONNREFUSED"})
	h := s.harness(t)
	h.Run()
	h.AssertStatus(runbook.StatusRolledBack)
	assertOrder(t, h.Compensated(), undoAfterFrontend()...)
	s.images(t, "0.2.9")
	assert.EqualValues(t, 14, s.w.Postgres.Version())
	s.maintenanceOff(t)
}

func TestSoakBreachAt50(t *testing.T) {
	s := newSetup(t)
	// The error rate reaches 6% at minute 9 of the 50% soak.
	s.w.Prometheus.Script(s.cfg.ErrorRateQuery).Value(0.002).AfterNode("soak[50]", 9*time.Minute, 0.06)
	h := s.harness(t)
	h.Run()
	h.AssertStatus(runbook.StatusRolledBack)
	soak50 := h.Result.Nodes["soak[50]"]
	require.NotNil(t, soak50)
	assert.Equal(t, 9*time.Minute, h.Result.End.Sub(soak50.Start), "rolled back at minute 9 of the soak")
	assertOrder(t, h.Compensated(), append(one("traffic[50]", "traffic[10]"), undoAfterFrontend()...)...)
	s.weights(t, 100, 0)
	s.images(t, "0.2.9")
	assert.EqualValues(t, 14, s.w.Postgres.Version())
	s.maintenanceOff(t)
	assert.NotContains(t, h.Executed(), "traffic[100]")
	// The stakeholders hear of it (the kickoff's rollback, undone last).
	assert.Equal(t, []string{"[dCMMS] Release 2 Deployment Rolled Back"}, s.w.Email.Subjects())
}

func TestGoNoGoDenied(t *testing.T) {
	s := newSetup(t)
	appr := runbooktest.NewApprover().Deny("go_no_go_start", "deployment-lead", "staging p95 too high")
	h := s.harness(t, runbooktest.WithApprover(appr))
	h.Run()
	h.AssertStatus(runbook.StatusRolledBack)
	h.AssertErrorIs(runbook.ErrDenied)
	assert.Empty(t, h.Compensated())
	assert.NotContains(t, h.Executed(), "status_incident")
	assert.Empty(t, s.w.Statuspage.Incidents())
	s.images(t, "0.2.9")
}

func TestFailureAfterPointOfNoReturnHalts(t *testing.T) {
	s := newSetup(t)
	h := s.harness(t, runbooktest.BreachAt("monitor", 10*time.Minute))
	h.Run()
	h.AssertStatus(runbook.StatusHalted)
	assert.Empty(t, h.Compensated(), "nothing compensated automatically")
	// What `handrail rollback RUN` would undo, in order.
	assertOrder(t, h.Result.Pending, append(one("traffic[100]", "traffic[50]", "traffic[10]"), undoAfterFrontend()...)...)
	s.images(t, "0.3.0")
	s.weights(t, 0, 100)

	// The person decides to roll back: from the journal alone.
	h.Rollback(h.Result.Run.ID)
	h.AssertStatus(runbook.StatusRolledBack)
	s.images(t, "0.2.9")
	s.weights(t, 100, 0)
	assert.EqualValues(t, 14, s.w.Postgres.Version())
	s.maintenanceOff(t)
}

// crashJournal stores records until node has succeeded, then blocks every
// later append: the process running the release is gone.
type crashJournal struct {
	runbook.MemJournal
	node    string
	mu      sync.Mutex
	dead    bool
	crashed chan struct{}
}

func (c *crashJournal) Append(ctx context.Context, recs ...runbook.Record) error {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		select {}
	}
	defer c.mu.Unlock()
	err := c.MemJournal.Append(ctx, recs...)
	for _, r := range recs {
		if r.Kind == runbook.RecNodeSucceeded && r.Node == c.node {
			c.dead = true
			close(c.crashed)
		}
	}
	return err
}

func TestCrashMidRampResumes(t *testing.T) {
	s := newSetup(t)
	j := &crashJournal{node: "traffic[50]", crashed: make(chan struct{})}
	ex := &runbook.Executor{Clock: s.w.Clock, Journal: j, Observer: s.w.Observer(), Approver: runbooktest.NewApprover(), Rand: func() float64 { return 0.5 }}
	ended := make(chan error, 1)
	go func() {
		_, err := ex.Run(context.Background(), s.plan, runbook.RunOptions{RunID: "release-2-crash"})
		ended <- err
	}()
	select {
	case <-j.crashed:
	case err := <-ended:
		t.Fatalf("the run ended before the crash point: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the run never reached traffic[50]")
	}
	s.weights(t, 50, 50)

	// A new process: the journal as it was on disk, a clock going on.
	recs, err := j.Load(context.Background(), "release-2-crash")
	require.NoError(t, err)
	j2 := &runbook.MemJournal{}
	require.NoError(t, j2.Append(context.Background(), recs...))
	s.w.Reclock(runbook.NewSimClock(s.w.Clock.Now()))
	h := s.harness(t, runbooktest.WithJournal(j2))
	h.Resume("release-2-crash")
	h.AssertStatus(runbook.StatusSucceeded)
	assert.NotContains(t, h.Executed(), "traffic[50]", "not run twice")
	assert.NotContains(t, h.Executed(), "migrate", "not run twice")
	assert.Contains(t, h.Executed(), "traffic[100]")
	s.images(t, "0.3.0")
	assert.EqualValues(t, 17, s.w.Postgres.Version())
	s.weights(t, 0, 100)
	s.maintenanceOff(t)
}

func TestPlanRefusesBadConfig(t *testing.T) {
	s := newSetup(t)
	reg, err := s.w.Registry()
	require.NoError(t, err)
	cfg := release2.SeedConfig()
	in, err := release2.Configure(context.Background(), reg, cfg)
	require.NoError(t, err)
	cfg.RuleARN = ""
	_, err = release2.Plan(cfg, in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "traffic[10]")
}

// TestHCLUnderTheHarness runs release-2.hcl itself under runbooktest, with
// the harness's own failure injection: the 50% soak breaches at minute 9.
func TestHCLUnderTheHarness(t *testing.T) {
	w, rb, err := sandbox.Load(context.Background(), "release-2.hcl", start, nil)
	require.NoError(t, err)
	defer rb.Close()
	h := runbooktest.New(t, rb.Plan(), runbooktest.WithClock(w.Clock), runbooktest.WithObserver(w.Observer()),
		runbooktest.BreachAt("soak[50]", 9*time.Minute))
	h.Run()
	h.AssertStatus(runbook.StatusRolledBack)
	s := &setup{w: w, cfg: release2.SeedConfig()}
	assertOrder(t, h.Compensated(), append(one("traffic[50]", "traffic[10]"), undoAfterFrontend()...)...)
	s.weights(t, 100, 0)
	s.images(t, "0.2.9")
	assert.EqualValues(t, 14, w.Postgres.Version())
	s.maintenanceOff(t)
}
