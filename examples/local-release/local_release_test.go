package localrelease_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/gates"
	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/internal/testenv"
	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/docker"
	httpprov "github.com/handrail-dev/handrail/providers/http"
	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/providers/slack"
	"github.com/handrail-dev/handrail/providers/slack/slackfake"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/providers/statuspage"
	"github.com/handrail-dev/handrail/providers/statuspage/statuspagefake"
	"github.com/handrail-dev/handrail/runbook"
)

// The fixed parts of the world: AWS names and credentials of the fakes.
const (
	awsKeyID     = "AKIDLOCALRELEASE"
	awsSecret    = "local-release-s3cr3t"
	backupBucket = "dcmms-backups"
	ruleARN      = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/dcmms/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
	oldTG        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dcmms-0-2-9/73e2d6bc24d8a067"
	newTG        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dcmms-0-3-0/2453ed029918f21f"
	statusKey    = "statuspage-api-key"
	statusPage   = "dcmms-page"
	smokePass    = "smoke-pa55word"
)

// world is every component of a local release, started for one test and
// torn down at its end.
type world struct {
	name       string // unique, handrail-test-...
	imgs       testenv.BackendImages
	eng        docker.Engine
	firstID    string // the 0.2.9 container created at setup
	port       int
	backendURL string
	promURL    string
	dsn        string
	sshTarget  testenv.SSHTarget
	maintDir   string
	maintFile  string
	backupDir  string
	s3         *s3mem.Backend
	s3URL      string
	elb        *elbServer
	slack      *slackfake.World
	slackURL   string
	status     *statuspagefake.World
	statusURL  string
}

// newWorld starts the components: a PostgreSQL database at schema 014, the
// backend container at 0.2.9 with traffic, Prometheus scraping it, the
// HTTP fakes. Missing components skip the test, or fail it in CI.
func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{name: uniqueName(t)}
	start := time.Now()
	// Look every component up first, so that a missing one stops the test
	// before anything starts.
	w.imgs = testenv.DockerImages(t)
	admin := testenv.PostgresDSN(t)
	w.sshTarget = testenv.SSH(t)
	promBin := testenv.PrometheusBin(t)
	if _, err := exec.LookPath("pg_dump"); err != nil {
		if testenv.InCI() {
			t.Fatalf("pg_dump not in $PATH (apt-get install postgresql-client): %v", err)
		}
		t.Skipf("pg_dump not in $PATH: %v", err)
	}

	// Prometheus first: it scrapes nothing during its first ~5 s (target
	// discovery is throttled), time the database and the container use.
	w.port = freePort(t)
	w.backendURL = "http://127.0.0.1:" + strconv.Itoa(w.port)
	w.promURL = startPrometheus(t, promBin, "127.0.0.1:"+strconv.Itoa(w.port))
	t0 := time.Now()

	w.dsn = newDatabase(t, admin, strings.ReplaceAll(w.name, "-", "_"))
	migrateTo(t, w.dsn, 14)
	t1 := time.Now()

	// The maintenance flag, written through sudo as the seed's nginx symlink.
	w.maintDir = t.TempDir()
	w.maintFile = filepath.Join(w.maintDir, "maintenance.on")
	w.backupDir = t.TempDir()
	require.NoError(t, os.Chmod(w.backupDir, 0o777))

	w.startBackend(t)
	t2 := time.Now()
	traffic(t, w.backendURL)
	waitForData(t, w.promURL)
	t.Logf("setup: prometheus ready in %s, database at 014 in %s, container healthy in %s, metrics in %s",
		t0.Sub(start).Round(time.Millisecond), t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond), time.Since(t2).Round(time.Millisecond))

	w.s3 = s3mem.New()
	s3srv := httptest.NewServer(gofakes3.New(w.s3).Server())
	t.Cleanup(s3srv.Close)
	w.s3URL = s3srv.URL
	require.NoError(t, w.s3.CreateBucket(backupBucket))
	today := time.Now().UTC().Format("20060102")
	w.putObject(t, "production/postgres_full_"+today+"_020000.sql.gz", []byte("nightly backup"))

	w.elb = newELBServer(t, awsKeyID, ruleARN, elbTG{oldTG, 100}, elbTG{newTG, 0})

	w.slack = slackfake.New()
	slackSrv := httptest.NewServer(w.slack)
	t.Cleanup(slackSrv.Close)
	w.slackURL = slackSrv.URL + "/services/T000/B000/local"

	w.status = statuspagefake.New(statusKey)
	statusSrv := httptest.NewServer(w.status)
	t.Cleanup(statusSrv.Close)
	w.statusURL = statusSrv.URL
	return w
}

// vars are the runbook's variables for this world.
func (w *world) vars() map[string]string {
	return map[string]string{
		"container":             w.name,
		"docker_host":           w.imgs.DockerHost,
		"backend_url":           w.backendURL,
		"prometheus_url":        w.promURL,
		"ssh_host":              hostOf(w.sshTarget.Addr),
		"ssh_port":              portOf(w.sshTarget.Addr),
		"ssh_user":              w.sshTarget.User,
		"ssh_key_file":          w.sshTarget.KeyPath,
		"ssh_known_hosts":       w.sshTarget.KnownHostsPath,
		"maintenance_file":      w.maintFile,
		"database_url":          w.dsn,
		"backup_dir":            w.backupDir,
		"aws_access_key_id":     awsKeyID,
		"aws_secret_access_key": awsSecret,
		"s3_endpoint":           w.s3URL,
		"elbv2_endpoint":        w.elb.URL(),
		"backup_bucket":         backupBucket,
		"rule_arn":              ruleARN,
		"old_tg_arn":            oldTG,
		"new_tg_arn":            newTG,
		"statuspage_url":        w.statusURL,
		"statuspage_page_id":    statusPage,
		"statuspage_api_key":    statusKey,
		"slack_webhook_url":     w.slackURL,
		"smoke_password":        smokePass,
	}
}

// registry holds the real providers; only the clients' addresses point
// at local fakes, through the runbook's variables.
func registry(t *testing.T) *provider.Registry {
	t.Helper()
	reg, err := provider.NewRegistry(
		&ssh.Provider{},
		&httpprov.Provider{},
		&prometheus.Provider{},
		&slack.Provider{},
		&statuspage.Provider{},
		&docker.Provider{},
		&postgres.Provider{},
		&aws.Provider{},
	)
	require.NoError(t, err)
	return reg
}

// load compiles local-release.hcl for w.
func (w *world) load(t *testing.T) *hcl.Runbook {
	t.Helper()
	rb, diags := hcl.Load(context.Background(), "local-release.hcl", hcl.Options{Registry: registry(t), Vars: w.vars()})
	if diags.HasErrors() {
		var b bytes.Buffer
		_ = rb.WriteDiagnostics(&b, diags, 120, false)
		t.Fatalf("load local-release.hcl:\n%s", b.String())
	}
	t.Cleanup(func() { _ = rb.Close() })
	return rb
}

// run executes the runbook on the real clock, approving every Go/No-Go.
func run(t *testing.T, rb *hcl.Runbook, obs runbook.Observer) (*runbook.Result, *events, error) {
	t.Helper()
	ev := &events{next: obs}
	ex := &runbook.Executor{
		Redactor: rb.Redactor(),
		Observer: ev,
		Approver: gates.Func(func(_ context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
			if req.Kind != "approval" {
				// Only the Go/No-Go gates are approved: an inconclusive
				// gate (no data in Prometheus) or a step in doubt is not
				// what these tests are about, and approving it would hide
				// the rollback they expect.
				ev.denial(req.Node, req.Kind)
				return runbook.Decision{Approved: false, By: "local-release test", At: time.Now(), Comment: "the test approves only Go/No-Go gates"}, nil
			}
			ev.approval(req.Node)
			// A test's scripted answer stands for the configuration, like -auto-approve.
			return runbook.Decision{Approved: true, By: "local-release test", Override: true, At: time.Now()}, nil
		}),
		RollbackTimeout: time.Minute,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := ex.Run(ctx, rb.Plan(), runbook.RunOptions{Inputs: rb.Inputs()})
	t.Logf("run ended %s after %s: %v", res.Status, time.Since(start).Round(time.Millisecond), err)
	ev.log(t)
	return res, ev, err
}

// TestLocalRelease is the happy release: 0.3.0 runs and serves, the schema
// is at 017, traffic is all on the new version, maintenance is off and the
// incident resolved.
func TestLocalRelease(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rb := w.load(t)
	res, _, err := run(t, rb, nil)
	require.NoError(t, err)
	require.Equal(t, runbook.StatusSucceeded, res.Status)

	assert.Equal(t, "0.3.0", w.servedVersion(t))
	assert.Equal(t, testenv.ImageBackend030, w.runningImage(t, w.name))
	assert.Equal(t, int64(17), schemaVersion(t, w.dsn))
	assert.NoFileExists(t, w.maintFile)
	assert.Equal(t, map[string]int{oldTG: 0, newTG: 100}, w.elb.weights())
	assert.Equal(t, []map[string]int{{oldTG: 90, newTG: 10}, {oldTG: 50, newTG: 50}, {oldTG: 0, newTG: 100}}, w.elb.history())

	incs := w.status.Incidents()
	require.Len(t, incs, 1)
	assert.True(t, incs[0].Resolved(), "incident %+v", incs[0])
	assert.Empty(t, w.status.Open())

	keys := w.keys(t, "production/pre-release-2/")
	require.Len(t, keys, 1, "the backup uploaded")
	assert.True(t, strings.HasSuffix(keys[0], ".dump"), keys[0])

	texts := w.slack.Texts()
	require.Len(t, texts, 2)
	assert.Contains(t, texts[0], "takes 100% of the traffic")
	assert.Contains(t, texts[1], "is live")
	assert.Empty(t, res.Compensated)
}

// TestLocalReleaseRollback: 0.3.0 starts failing during the 50% soak (the
// test flips the container's failure rate to 1 once traffic is at 50%),
// the soak (or the guard) sees the error rate pass 1% in Prometheus, and
// everything is undone in the reverse order: weights 90/10 then 100/0,
// the 0.2.9 container back, the schema back at 014, maintenance off, the
// incident resolved.
func TestLocalReleaseRollback(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rb := w.load(t)

	var once sync.Once
	failedAt := make(chan time.Time, 1)
	inject := observerFunc(func(e runbook.Event) {
		if s, ok := e.(runbook.NodeSucceeded); ok && s.Node == "traffic[50]" {
			once.Do(func() {
				// The container is the one the runbook just deployed:
				// 0.3.0 starts answering 500 to every API call.
				go func() {
					if err := post(w.backendURL + "/control/fail?rate=1"); err != nil {
						t.Errorf("inject failures: %v", err)
					}
					failedAt <- time.Now()
				}()
			})
		}
	})
	res, ev, err := run(t, rb, inject)
	require.Error(t, err)
	assert.ErrorIs(t, err, runbook.ErrGateFailed)
	require.Equal(t, runbook.StatusRolledBack, res.Status, "pending: %v", res.Pending)
	select {
	case at := <-failedAt:
		t.Logf("failure detected and rolled back %s after 0.3.0 started failing", ev.finished().Sub(at).Round(time.Millisecond))
	default:
		t.Fatal("the runbook never reached traffic[50]")
	}

	// Compensated in the reverse order of completion (the backup upload's
	// compensation keeps its objects: keep = true).
	assert.Equal(t, []string{
		"traffic[50]", "traffic[10]", "deploy_backend", "migrate", "backup_upload", "maintenance_page", "status_incident",
	}, res.Compensated)

	assert.Equal(t, "0.2.9", w.servedVersion(t))
	assert.Equal(t, testenv.ImageBackend029, w.runningImage(t, w.name))
	c, err := w.eng.ContainerInspect(context.Background(), w.name)
	require.NoError(t, err)
	assert.Equal(t, w.firstID, c.ID, "the original container is back, not a new one")
	assert.Equal(t, int64(14), schemaVersion(t, w.dsn))
	assert.NoFileExists(t, w.maintFile)
	assert.Equal(t, map[string]int{oldTG: 100, newTG: 0}, w.elb.weights())
	assert.Equal(t, []map[string]int{
		{oldTG: 90, newTG: 10}, {oldTG: 50, newTG: 50}, // the ramp
		{oldTG: 90, newTG: 10}, {oldTG: 100, newTG: 0}, // its rollback
	}, w.elb.history())

	incs := w.status.Incidents()
	require.Len(t, incs, 1)
	assert.True(t, incs[0].Resolved(), "incident %+v", incs[0])
	last := incs[0].Updates[len(incs[0].Updates)-1]
	assert.Contains(t, last.Body, "rolled back")

	assert.Len(t, w.keys(t, "production/pre-release-2/"), 1, "the backup is kept")
	assert.Empty(t, w.slack.Texts(), "nothing announced")
}

// ---- The backend container --------------------------------------------------

// startBackend runs dcmms/backend:0.2.9 as w.name with its port published
// on w.port (a fixed one, so that the clone the deployment
// creates keeps it), and waits until it is healthy.
func (w *world) startBackend(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	inst := docker.NewInstance("setup", docker.Config{Host: w.imgs.DockerHost}, nil)
	t.Cleanup(func() { _ = inst.Close() })
	eng, err := inst.Engine(ctx)
	require.NoError(t, err)
	w.eng = eng
	t.Cleanup(func() {
		for _, n := range []string{w.name, w.name + docker.SuffixOld, w.name + docker.SuffixNew} {
			_ = eng.ContainerRemove(context.Background(), n)
		}
	})
	port := network.MustParsePort(strconv.Itoa(testenv.BackendPort) + "/tcp")
	cfg := &container.Config{
		Image:  w.imgs.V029,
		Env:    []string{"DCMMS_PASSWORD=" + smokePass},
		Labels: map[string]string{"dev.handrail.test": "local-release"},
	}
	host := &container.HostConfig{
		PortBindings:  network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(w.port)}}},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
	}
	id, err := eng.ContainerCreate(ctx, w.name, cfg, host, nil)
	require.NoError(t, err)
	require.NoError(t, eng.ContainerStart(ctx, id))
	w.firstID = id
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := eng.ContainerInspect(ctx, w.name)
		require.NoError(t, err)
		if c.State != nil && c.State.Health != nil && c.State.Health.Status == "healthy" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become healthy in 30s: %+v", w.name, c.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// servedVersion asks the published port which version answers.
func (w *world) servedVersion(t *testing.T) string {
	t.Helper()
	var body struct{ Status, Version string }
	resp, err := http.Get(w.backendURL + "/api/v1/health")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, http.StatusOK, resp.StatusCode, "health: %+v", body)
	return body.Version
}

func (w *world) runningImage(t *testing.T, name string) string {
	t.Helper()
	c, err := w.eng.ContainerInspect(context.Background(), name)
	require.NoError(t, err)
	require.True(t, c.State != nil && c.State.Running, "%s is not running", name)
	return c.Config.Image
}

// traffic calls the backend's API every 20 ms until the test ends, as its
// users would; connection errors while the container is swapped are
// expected and ignored.
func traffic(t *testing.T, base string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	client := &http.Client{Timeout: 2 * time.Second}
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/compliance/reports", nil)
				if resp, err := client.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func post(u string) error {
	resp, err := http.Post(u, "text/plain", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: HTTP %d", u, resp.StatusCode)
	}
	return nil
}

// ---- Prometheus -------------------------------------------------------------

// startPrometheus runs the prometheus binary on a free loopback port,
// scraping target every second, and returns its URL once it is ready.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: dcmms-backend
    static_configs:
      - targets: [%q]
`, target)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(cfg), 0o600))
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logFile.Close()
	})
	u := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(u + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return u
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile.Name())
			t.Fatalf("prometheus not ready after 15s: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitForData waits until Prometheus answers the runbook's error-rate
// query about the backend (two scrapes with traffic in the window).
func waitForData(t *testing.T, promURL string) {
	t.Helper()
	q := "sum(rate(http_errors_total[5s])) / sum(rate(http_requests_total[5s]))"
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for {
		var resp *http.Response
		resp, err = http.PostForm(promURL+"/api/v1/query", url.Values{"query": {q}})
		if err == nil {
			var body struct {
				Data struct {
					Result []struct {
						Value [2]any `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err == nil && len(body.Data.Result) == 1 && body.Data.Result[0].Value[1] != "NaN" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus has no error rate of the backend after 20s (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ---- PostgreSQL ----------------------------------------------------------------

// newDatabase creates a database named name on the test server and drops
// it at the end of the test; it returns its DSN.
func newDatabase(t *testing.T, admin, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	require.NoError(t, err, "the test DSN must be a URL")
	u.Path = "/" + name
	return u.String()
}

// migrateTo brings the database to version with the runbook's migration
// files, through the postgres provider (the production database is at 014
// before the release).
func migrateTo(t *testing.T, dsn string, version int64) {
	t.Helper()
	inst, err := postgres.NewInstance("setup", postgres.Config{DSN: dsn})
	require.NoError(t, err)
	defer inst.Close()
	m, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: "migrations", Target: &version})
	require.NoError(t, err)
	_, err = m.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Node: "setup"}))
	require.NoError(t, err)
	require.Equal(t, version, schemaVersion(t, dsn))
}

func schemaVersion(t *testing.T, dsn string) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var v int64
	var dirty bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT version, dirty FROM schema_migrations").Scan(&v, &dirty))
	require.False(t, dirty, "schema_migrations is dirty at %d", v)
	return v
}

// ---- S3 -----------------------------------------------------------------------

func (w *world) putObject(t *testing.T, key string, data []byte) {
	t.Helper()
	_, err := w.s3.PutObject(backupBucket, key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil)
	require.NoError(t, err)
}

func (w *world) keys(t *testing.T, prefix string) []string {
	t.Helper()
	res, err := w.s3.ListBucket(backupBucket, &gofakes3.Prefix{HasPrefix: true, Prefix: prefix}, gofakes3.ListBucketPage{})
	require.NoError(t, err)
	var out []string
	for _, c := range res.Contents {
		out = append(out, c.Key)
	}
	return out
}

// ---- Events -----------------------------------------------------------------

type observerFunc func(runbook.Event)

func (f observerFunc) Observe(e runbook.Event) { f(e) }

// events keeps a timeline of the run for the test log.
type events struct {
	next runbook.Observer

	mu    sync.Mutex
	lines []string
	t0    time.Time
	end   time.Time
}

func (e *events) Observe(ev runbook.Event) {
	if e.next != nil {
		e.next.Observe(ev)
	}
	h := ev.EventHeader()
	var line string
	switch x := ev.(type) {
	case runbook.NodeSucceeded:
		line = "succeeded " + x.Node
	case runbook.NodeFailed:
		line = fmt.Sprintf("FAILED %s: %s", x.Node, x.Error)
	case runbook.GateFailed:
		line = fmt.Sprintf("gate %s failed: %s", x.Node, x.Reason)
	case runbook.NodeSkipped:
		line = "skipped " + x.Node
	case runbook.RollbackStarted:
		line = fmt.Sprintf("rollback started (%s): %v", x.Reason, x.Pending)
	case runbook.StepCompensated:
		line = "compensated " + x.Node
	case runbook.CompensationFailed:
		line = fmt.Sprintf("COMPENSATION FAILED %s: %s", x.Node, x.Error)
	case runbook.RunFinished:
		line = "finished"
	default:
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.t0.IsZero() {
		e.t0 = h.Time
	}
	if _, ok := ev.(runbook.RunFinished); ok {
		e.end = h.Time
	}
	e.lines = append(e.lines, fmt.Sprintf("%7.3fs %s", h.Time.Sub(e.t0).Seconds(), line))
}

func (e *events) approval(node string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lines = append(e.lines, "approved "+node)
}

func (e *events) denial(node, kind string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lines = append(e.lines, "denied "+node+" ("+kind+")")
}

func (e *events) finished() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.end.IsZero() {
		return time.Now()
	}
	return e.end
}

func (e *events) log(t *testing.T) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t.Logf("timeline:\n%s", strings.Join(e.lines, "\n"))
}

// ---- Small helpers ------------------------------------------------------------

// uniqueName is handrail-test-local-<test>-<random>: the prefix the
// cleanup of every Handrail test looks for.
func uniqueName(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := strings.ToLower(strings.TrimPrefix(t.Name(), "TestLocalRelease"))
	if n == "" {
		n = "happy"
	}
	return "handrail-test-local-" + n + "-" + hex.EncodeToString(b[:])
}

// freePort returns a loopback TCP port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

func portOf(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "22"
	}
	return p
}

// TestLocalReleasePlan compiles the runbook with placeholder addresses:
// loading never connects, so this runs without any component and keeps
// the runbook valid against the providers' schemas.
func TestLocalReleasePlan(t *testing.T) {
	w := &world{
		name: "handrail-test-local-plan", imgs: testenv.BackendImages{DockerHost: "unix:///var/run/docker.sock"},
		backendURL: "http://127.0.0.1:1", promURL: "http://127.0.0.1:2", dsn: "postgres://u@127.0.0.1:3/db",
		sshTarget: testenv.SSHTarget{Addr: "127.0.0.1:4", User: "u", KeyPath: "/nonexistent/key", KnownHostsPath: "/nonexistent/known_hosts"},
		maintFile: "/tmp/maintenance.on", backupDir: "/tmp", s3URL: "http://127.0.0.1:5",
		elb: &elbServer{srv: &httptest.Server{URL: "http://127.0.0.1:6"}}, slackURL: "http://127.0.0.1:7/services/x", statusURL: "http://127.0.0.1:8",
	}
	rb := w.load(t)
	var names []string
	for _, n := range rb.Describe() {
		names = append(names, n.Name)
	}
	assert.Equal(t, []string{
		"production_health", "todays_backup", "running_version", "image_backend", "baseline_p95", "baseline_error_rate",
		"go_no_go_start",
		"status_incident", "maintenance_page", "maintenance_live",
		"db_backup", "backup_upload", "backup_in_s3",
		"schema_before", "migrate_dry_run", "migrate", "schema_after", "tables_present",
		"deploy_backend", "backend_healthy", "metrics_flowing",
		"backend_version", "self_check", "db_ping", "backend_logs",
		"go_no_go_health",
		"login", "work_orders", "compliance_reports", "ml_predict",
		"traffic[10]", "soak[10]", "traffic[50]", "soak[50]", "traffic[100]", "soak[100]",
		"rollback_criteria",
		"monitoring_started", "monitor",
		"maintenance_off", "status_resolved", "site_live", "announce",
	}, names)
	var b bytes.Buffer
	require.NoError(t, rb.WritePlan(&b))
	assert.NotContains(t, b.String(), awsSecret, "secrets stay out of the plan")
	assert.NotContains(t, b.String(), statusKey)
	assert.NotContains(t, b.String(), smokePass)
}
