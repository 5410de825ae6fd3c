package release2

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/gates/compare"
	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/email"
	"github.com/handrail-dev/handrail/providers/exec"
	httpprov "github.com/handrail-dev/handrail/providers/http"
	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/providers/slack"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/providers/statuspage"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/sandbox/manual"
)

// Config holds the runbook's variables: the values of
// release-2.auto.hclvars (and the HCL defaults), see [SeedConfig].
type Config struct {
	Version, PreviousVersion string
	// SchemaVersion is the schema version expected before the migrations.
	SchemaVersion           int
	LBHost, AppHost, DBHost string
	ComposeProject          string
	SiteURL, StagingURL     string
	BackupBucket            string
	AssetsBucket            string
	RuleARN                 string
	OldTargetGroupARN       string
	NewTargetGroupARN       string
	// Ramp is the percent of traffic on the new version, phase by phase.
	Ramp []int
	// MigrationsDir holds NNN_name.up.sql / .down.sql.
	MigrationsDir string
	// Queries (PromQL). P95ByVersionQuery has %s for the version.
	ErrorRateQuery, P95Query, RequestRateQuery string
	P95ByVersionQuery                          string
	SmokeUser                                  string
	SmokePassword                              runbook.Secret
	Stakeholders                               []string
	// Approvers take the Go/No-Go decisions.
	Approvers []string

	// Provider settings (see [Configure]).
	SSHUser            string
	AWSRegion          string
	PrometheusURL      string
	DatabaseURL        runbook.Secret
	StatuspagePageID   string
	StatuspageAPIKey   runbook.Secret
	SlackWebhookURL    runbook.Secret
	SMTPHost, SMTPFrom string
}

// SeedConfig returns the seed's values, as in release-2.auto.hclvars (the
// smoke password is a placeholder).
func SeedConfig() Config {
	return Config{
		Version: "0.3.0", PreviousVersion: "0.2.9", SchemaVersion: 14,
		LBHost: "production-lb-01", AppHost: "production-app-01", DBHost: "production-db-01",
		ComposeProject: "dcmms",
		SiteURL:        "https://dcmms.com", StagingURL: "https://staging.dcmms.com",
		BackupBucket: "dcmms-backups", AssetsBucket: "dcmms-frontend-assets",
		RuleARN:           "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/dcmms-prod/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee",
		OldTargetGroupARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/dcmms-blue/73e2d6bc24d8a067",
		NewTargetGroupARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/dcmms-green/2453ed029918f21f",
		Ramp:              []int{10, 50, 100},
		MigrationsDir:     "migrations",
		ErrorRateQuery:    `sum(rate(http_requests_total{job="dcmms-backend",status=~"5.."}[5m])) / sum(rate(http_requests_total{job="dcmms-backend"}[5m]))`,
		P95Query:          `histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket{job="dcmms-backend"}[5m])) by (le))`,
		RequestRateQuery:  `sum(rate(http_requests_total{job="dcmms-backend"}[5m]))`,
		P95ByVersionQuery: `histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket{job="dcmms-backend",version="%s"}[5m])) by (le))`,
		SmokeUser:         "admin@dcmms.local",
		SmokePassword:     runbook.NewSecret("placeholder-smoke-password"),
		Stakeholders:      []string{"Stakeholders <stakeholders@dcmms.com>", "devops@dcmms.com"},
		Approvers:         []string{"deployment-lead"},
		SSHUser:           "deploy",
		AWSRegion:         "us-east-1",
		PrometheusURL:     "http://prometheus.dcmms.internal:9090",
		DatabaseURL:       runbook.NewSecret("postgres://dcmms:placeholder@production-db-01:5432/dcmms"),
		StatuspagePageID:  "dcmms",
		StatuspageAPIKey:  runbook.NewSecret("placeholder-statuspage-api-key"),
		SlackWebhookURL:   runbook.NewSecret("https://hooks.slack.com/services/T0000/B0000/placeholder"),
		SMTPHost:          "smtp.dcmms.com",
		SMTPFrom:          "dCMMS DevOps <devops@dcmms.com>",
	}
}

// Instances are the configured providers the runbook acts through: real
// ones (ssh.New, docker.NewInstance...) or the fakes of a sandbox world.
type Instances struct {
	LB, App, DB   ssh.Client
	Docker        *docker.Instance
	Postgres      *postgres.Instance
	AWS           *aws.Instance
	Site, Staging *httpprov.Instance
	Prometheus    *prometheus.Instance
	Statuspage    *statuspage.Instance
	Slack         *slack.Instance
	Email         *email.Instance
	Exec          exec.Runner
	Team          *manual.Instance
}

// Checklists of the seed.
var (
	WeekBefore = []string{
		"Code freeze initiated",
		"Final smoke tests completed in staging",
		"Performance validation tests executed (k6 final-validation-test.js)",
		"Security scans completed (Snyk, OWASP ZAP)",
		"Database migration scripts reviewed and tested",
		"Stakeholder sign-off obtained (Product, Engineering, Security)",
		"Deployment window scheduled and communicated",
		"Rollback plan documented and tested",
		"Customer notification drafted (if downtime expected)",
	}
	TwoDaysBefore = []string{
		"Staging environment mirrors production",
		"Full regression test suite executed",
		"Backup verification completed",
		"DR plan reviewed",
		"On-call engineers confirmed and briefed",
		"Deployment team meeting conducted",
		"Go/No-Go decision checklist reviewed",
	}
	DayBefore = []string{
		"Production backup created and verified",
		"Database maintenance mode prepared",
		"Traffic routing plan confirmed (blue-green or canary)",
		"Monitoring dashboards configured",
		"Alert thresholds verified",
		"Status page prepared for updates",
		"Final Go/No-Go decision",
	}
	Validation = []string{
		"Grafana: database query performance and ML inference latency look normal",
		"Application logs: no new ERROR lines",
		"User activity: sessions and logins match pre-deployment levels",
		"Release 2 features: compliance reports, ML predictions, new UI components",
		"No security alerts",
	}
	Review = []string{
		"Issues encountered during the deployment reviewed",
		"Rollback points confirmed (if any were needed)",
		"Monitoring looks good",
		"Customer reports of issues checked",
		"Action items for the next deployment noted",
		"Post-deployment tasks scheduled: 24 h health watch, metrics review, customer feedback, pre/post performance comparison, runbook update, retrospective within a week",
	}
	// Features are announced when the release is live.
	Features = []string{"Compliance report automation", "ML-powered anomaly detection", "Enhanced performance monitoring"}
)

const (
	maintenanceAvailable = "/etc/nginx/sites-available/maintenance.conf"
	maintenanceEnabled   = "/etc/nginx/sites-enabled/maintenance.conf"
	backupDir            = "/opt/dcmms/backups/postgres/full"
	backupPrefix         = "production/pre-release-2/"
)

// Plan builds the seed runbook with the Go API. It compiles to the same
// plan as release-2.hcl (the test compares Plan.Dump byte for byte).
//
// Command timeouts are the steps' (runbook.Step.Timeout, enforced by the
// executor, which cancels the command): the ssh and exec providers' own
// timeout options are left unset because they time out from a goroutine
// sleeping on the run's clock, which lets a simulated clock jump to the
// deadline while the command runs (reported to their owners).
func Plan(c Config, in Instances) (*runbook.Plan, error) {
	b := &build{c: c, in: in}
	p := runbook.NewBuilder("release-2").Describe("dCMMS Release 2 (v0.3.0)").Window(4 * time.Hour)

	p.Phase("checklists", func(p *runbook.Builder) {
		b.checklist(p, "week_before", WeekBefore, time.Minute)
		b.checklist(p, "two_days_before", TwoDaysBefore, time.Minute)
		b.checklist(p, "day_before", DayBefore, time.Minute)
	})

	// Step 1: pre-deployment verification (T-0:00, 15 min).
	p.ParallelPhase("pre_checks", func(p *runbook.Builder) {
		p.Step(runbook.Step{Name: "roll_call", Budget: 2 * time.Minute,
			Action: act(manual.NewTask(in.Team, manual.Task{Message: "Deployment team present in the #deployment-release-2 Slack channel"}))})
		p.Step(runbook.Step{Name: "staging_health", Budget: time.Minute, Retry: runbook.Retry{Attempts: 3, Delay: 10 * time.Second},
			Action: act(httpprov.NewCheck(in.Staging, httpprov.Request{URL: "/api/v1/health",
				Expect: []httpprov.Expectation{httpprov.Equal("status", "healthy"), httpprov.Equal("version", c.Version)}}))})
		p.Step(runbook.Step{Name: "todays_backup", Budget: time.Minute,
			Action: act(aws.NewObjectExists(in.AWS, aws.ObjectExistsArgs{Bucket: c.BackupBucket, Prefix: "production/", Date: "%Y%m%d"}))})
		p.Step(runbook.Step{Name: "running_version", Budget: time.Minute,
			Action: act(docker.NewInspect(in.Docker, docker.Inspect{Target: docker.Target{Project: c.ComposeProject, Service: "backend"}}))})
		p.Step(runbook.Step{Name: "baseline_p95", Budget: time.Minute,
			Action: act(prometheus.NewBaseline(in.Prometheus, prometheus.BaselineConfig{Query: c.P95Query, Window: time.Hour, Reduce: "p95"}))})
		p.Step(runbook.Step{Name: "baseline_error_rate", Budget: time.Minute,
			Action: act(prometheus.NewBaseline(in.Prometheus, prometheus.BaselineConfig{Query: c.ErrorRateQuery, Window: time.Hour, Reduce: "avg"}))})
	})
	p.ParallelPhase("artifacts", func(p *runbook.Builder) {
		for _, img := range []struct{ name, repo string }{{"image_backend", "backend"}, {"image_ml_service", "ml-service"}, {"image_mqtt_bridge", "mqtt-bridge"}, {"image_frontend", "frontend"}} {
			p.Step(runbook.Step{Name: img.name, Budget: 30 * time.Second,
				Action: act(docker.NewPull(in.Docker, docker.Pull{Image: "dcmms/" + img.repo + ":" + c.Version, Policy: docker.PullNever}))})
		}
	})
	p.Gate(runbook.Gate{Name: "go_no_go_start", Kind: runbook.GateApproval, Budget: 3 * time.Minute, Approval: &runbook.Approval{
		Message:   fmt.Sprintf("Go/No-Go: staging is healthy on %s, today's backup is in S3, the 0.3.0 images are present and the baselines are recorded (p95 and error rate). Start the deployment?", c.Version),
		Approvers: c.Approvers, Timeout: 15 * time.Minute}})

	// Step 2: maintenance mode (T-0:15, 5 min).
	p.Phase("maintenance_on", func(p *runbook.Builder) {
		// Undone last: the seed's "communicate rollback to stakeholders".
		p.Step(runbook.Step{Name: "kickoff",
			Action: act(slack.NewMessage(in.Slack, slack.Message{Text: fmt.Sprintf("Go: deploying dCMMS Release 2 (v%s), maintenance window of 4 hours.", c.Version)})),
			Rollbacks: []runbook.Rollback{asRollback(act(email.NewEmail(in.Email, email.Message{To: c.Stakeholders, Template: "rollback", Data: map[string]any{
				"product": "dCMMS", "release": "Release 2", "version": c.Version, "previous_version": c.PreviousVersion,
				"reason": "a rollback criterion was met during the deployment (see #deployment-release-2)",
				"status": "All systems operational on v" + c.PreviousVersion, "contact": "devops@dcmms.com"}})))}})
		p.Step(runbook.Step{Name: "status_incident", Budget: time.Minute,
			Action: act(statuspage.NewIncident(in.Statuspage, statuspage.OpenConfig{
				Incident: statuspage.Incident{Name: "Scheduled Maintenance - Release 2 Deployment", Status: "investigating", ImpactOverride: "maintenance",
					Body: fmt.Sprintf("dCMMS Release 2 (v%s) is being deployed.", c.Version)},
				RollbackBody: fmt.Sprintf("The deployment was rolled back; dCMMS runs v%s again.", c.PreviousVersion)}))})
		p.Step(runbook.Step{Name: "maintenance_page", Budget: 3 * time.Minute,
			Action: b.ssh(in.LB, ssh.ExecOptions{Sudo: true,
				Script:         "ln -sf " + maintenanceAvailable + " /etc/nginx/sites-enabled/ && nginx -t && systemctl reload nginx",
				RollbackScript: "rm -f " + maintenanceEnabled + " && nginx -t && systemctl reload nginx"})})
		p.Step(runbook.Step{Name: "maintenance_live", Budget: time.Minute, Retry: runbook.Retry{Attempts: 5, Delay: 5 * time.Second},
			Action: act(httpprov.NewCheck(in.Site, httpprov.Request{URL: "/", ExpectStatus: []int{503}}))})
	})

	// Step 3: backup (T-0:20, 20 min). The default on_fail (rollback) is
	// the seed's "abort": maintenance off again, nothing else touched.
	p.Phase("backup", func(p *runbook.Builder) {
		p.Step(runbook.Step{Name: "db_backup", Timeout: 20 * time.Minute, Budget: 12 * time.Minute, OnFail: runbook.PolicyRollback,
			Action: b.ssh(in.DB, ssh.ExecOptions{Sudo: true, Command: []string{"/opt/dcmms/scripts/backup/backup-postgres-full.sh"}, ReadOnly: true})})
		p.Step(runbook.Step{Name: "backup_verify", Budget: time.Minute,
			Action: b.ssh(in.DB, ssh.ExecOptions{Command: []string{"ls", "-1t", backupDir}, ReadOnly: true})})
		p.Step(runbook.Step{Name: "backup_upload", Timeout: 15 * time.Minute, Budget: 4 * time.Minute, Irreversible: true, OnFail: runbook.PolicyRollback, Uses: []string{"backup_verify"},
			Lasting: []string{"aws/buckets/" + c.BackupBucket + "/objects/" + backupPrefix},
			Action: b.lazySSH(in.DB, func(env *runbook.Env) (ssh.ExecOptions, error) {
				out, _ := env.Output("backup_verify")
				lines, _ := out["stdout_lines"].([]any)
				if len(lines) == 0 {
					return ssh.ExecOptions{}, runbook.Permanent(errors.New("backup_verify listed no backup file"))
				}
				return ssh.ExecOptions{Command: []string{"aws", "s3", "cp", backupDir + "/" + fmt.Sprint(lines[0]), "s3://" + c.BackupBucket + "/" + backupPrefix}}, nil
			})})
		p.Step(runbook.Step{Name: "config_snapshot", Irreversible: true, Budget: time.Minute,
			Action: b.lazySSH(in.App, func(env *runbook.Env) (ssh.ExecOptions, error) {
				return ssh.ExecOptions{Sudo: true, Command: []string{"tar", "-czf", snapshot(env), "/etc/dcmms/", "/opt/dcmms/.env", "/opt/dcmms/docker-compose.yml"}}, nil
			})})
		p.Step(runbook.Step{Name: "config_upload", Irreversible: true, Budget: time.Minute,
			Lasting: []string{"aws/buckets/" + c.BackupBucket + "/objects/" + backupPrefix},
			Action: b.lazySSH(in.App, func(env *runbook.Env) (ssh.ExecOptions, error) {
				return ssh.ExecOptions{Command: []string{"aws", "s3", "cp", snapshot(env), "s3://" + c.BackupBucket + "/" + backupPrefix}}, nil
			})})
		p.Step(runbook.Step{Name: "backup_in_s3", Budget: time.Minute,
			Action: act(aws.NewObjectExists(in.AWS, aws.ObjectExistsArgs{Bucket: c.BackupBucket, Prefix: backupPrefix, Pattern: "postgres_full_*.sql.gz", Date: "%Y%m%d"}))})
	})

	// Step 4: migrations 015-017 (T-0:40, 30 min).
	p.Phase("migrations", func(p *runbook.Builder) {
		p.Step(runbook.Step{Name: "schema_before", Budget: time.Minute,
			Action: act(postgres.NewQuery(in.Postgres, postgres.QueryArgs{SQL: "SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1", Expect: map[string]string{"version": strconv.Itoa(c.SchemaVersion)}}))})
		p.Step(runbook.Step{Name: "migrate_dry_run", Budget: 4 * time.Minute,
			Action: act(postgres.NewMigrate(in.Postgres, postgres.MigrateArgs{Dir: c.MigrationsDir, DryRun: true}))})
		p.Step(runbook.Step{Name: "migrate", Timeout: 30 * time.Minute, Budget: 20 * time.Minute, RollbackOnFailure: true,
			Action: act(postgres.NewMigrate(in.Postgres, postgres.MigrateArgs{Dir: c.MigrationsDir}))})
		p.Step(runbook.Step{Name: "schema_after", Budget: 2 * time.Minute,
			Action: act(postgres.NewQuery(in.Postgres, postgres.QueryArgs{SQL: "SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 5"}))})
		p.Step(runbook.Step{Name: "tables_present", Budget: 3 * time.Minute,
			Action: act(postgres.NewQuery(in.Postgres, postgres.QueryArgs{SQL: "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('ml_features', 'analytics_views')", Expect: map[string]string{"count": "2"}}))})
	})

	// Step 5: backend services (T-1:10, 30 min), in parallel.
	p.ParallelPhase("backend", func(p *runbook.Builder) {
		for _, svc := range []struct{ name, service string }{{"deploy_backend", "backend"}, {"deploy_ml_service", "ml-service"}, {"deploy_mqtt_bridge", "mqtt-bridge"}} {
			p.Step(runbook.Step{Name: svc.name, Budget: 8 * time.Minute, Action: b.update(svc.service)})
		}
	})
	p.Gate(runbook.Gate{Name: "backend_healthy", Kind: runbook.GateCheck, Every: 10 * time.Second, Timeout: 5 * time.Minute, Budget: 6 * time.Minute,
		Checks: []runbook.Check{{Name: "version", Probe: b.inspect(docker.Target{Project: c.ComposeProject, Service: "backend"}),
			Threshold: `self.health == "healthy" && self.image == "dcmms/backend:${var.version}"`,
			Success: runbook.ConditionFunc(func(env *runbook.Env, _ any) (bool, error) {
				return env.Self()["health"] == "healthy" && env.Self()["image"] == "dcmms/backend:"+c.Version, nil
			})}}})

	// Step 6: frontend (T-1:40, 20 min).
	p.Phase("frontend", func(p *runbook.Builder) {
		p.Step(runbook.Step{Name: "frontend_assets", Timeout: 15 * time.Minute, Budget: 8 * time.Minute,
			Action: b.ssh(in.App, ssh.ExecOptions{Dir: "/opt/dcmms/frontend",
				Script:         "npm run build && aws s3 sync .next/static s3://" + c.AssetsBucket + "/" + c.Version + "/",
				RollbackScript: "aws s3 rm --recursive s3://" + c.AssetsBucket + "/" + c.Version + "/"})})
		p.Step(runbook.Step{Name: "deploy_frontend", Budget: 8 * time.Minute, Action: b.update("frontend")})
		p.Step(runbook.Step{Name: "nginx_reload", Budget: 2 * time.Minute,
			Action: b.ssh(in.LB, ssh.ExecOptions{Sudo: true, Script: "nginx -t && systemctl reload nginx",
				RollbackScript: "nginx -t && systemctl reload nginx"})})
		p.Step(runbook.Step{Name: "frontend_in_maintenance", Budget: 2 * time.Minute,
			Action: act(httpprov.NewCheck(in.Site, httpprov.Request{URL: "/api/v1/health", ExpectStatus: []int{503}}))})
	})

	// Step 7: health checks (T-2:00, 15 min).
	p.Phase("health", func(p *runbook.Builder) {
		p.Step(runbook.Step{Name: "health_script", Budget: 3 * time.Minute,
			Action: b.ssh(in.App, ssh.ExecOptions{Command: []string{"/opt/dcmms/scripts/deployment/health-check.sh"}, ReadOnly: true})})
		for _, ping := range []struct{ name, container, script string }{{"db_ping", "dcmms-backend", "db:ping"}, {"redis_ping", "dcmms-backend", "redis:ping"}, {"kafka_ping", "dcmms-mqtt-bridge", "kafka:ping"}} {
			p.Step(runbook.Step{Name: ping.name, Budget: time.Minute,
				Action: act(docker.NewExec(in.Docker, docker.Exec{Target: docker.Target{Container: ping.container}, Command: []string{"npm", "run", ping.script}, ReadOnlyCmd: true}))})
		}
		for _, l := range []struct{ name, container string }{{"backend_logs", "dcmms-backend"}, {"frontend_logs", "dcmms-frontend"}} {
			p.Step(runbook.Step{Name: l.name, Budget: time.Minute,
				Action: act(docker.NewLogsCheck(in.Docker, docker.LogsCheck{Target: docker.Target{Container: l.container}, Pattern: "error", Tail: 50}))})
		}
	})
	running := func(env *runbook.Env, _ any) (bool, error) { return env.Self()["running"] == true, nil }
	p.Gate(runbook.Gate{Name: "containers_running", Kind: runbook.GateCheck, Timeout: 2 * time.Minute, Budget: 2 * time.Minute, Checks: []runbook.Check{
		{Name: "backend", Probe: b.inspect(docker.Target{Container: "dcmms-backend"}), Threshold: `self.running && self.health == "healthy"`,
			Success: runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) {
				return env.Self()["running"] == true && env.Self()["health"] == "healthy", nil
			})},
		{Name: "frontend", Probe: b.inspect(docker.Target{Container: "dcmms-frontend"}), Threshold: "self.running", Success: runbook.ConditionFunc(running)},
		{Name: "ml_service", Probe: b.inspect(docker.Target{Container: "dcmms-ml-service"}), Threshold: "self.running", Success: runbook.ConditionFunc(running)},
		{Name: "mqtt_bridge", Probe: b.inspect(docker.Target{Container: "dcmms-mqtt-bridge"}), Threshold: "self.running", Success: runbook.ConditionFunc(running)},
	}})
	p.Gate(runbook.Gate{Name: "go_no_go_health", Kind: runbook.GateApproval, Budget: 5 * time.Minute, Approval: &runbook.Approval{
		Message: fmt.Sprintf("Go/No-Go: all health checks passed on %s. Run the smoke tests?", c.Version), Approvers: c.Approvers, Timeout: 15 * time.Minute}})

	// Step 8: smoke tests (T-2:15, 20 min).
	bearer := func(env *runbook.Env, r *httpprov.Request) error {
		out, ok := env.Output("login")
		if !ok {
			return runbook.Permanent(errors.New("login has no outputs"))
		}
		ex, _ := out["extracted"].(map[string]any)
		tok := ex["token"]
		if s, ok := tok.(runbook.Secret); ok {
			tok = s.Reveal()
		}
		r.Headers = map[string]string{"Authorization": fmt.Sprintf("Bearer %v", tok)}
		return nil
	}
	p.Phase("smoke", func(p *runbook.Builder) {
		p.Step(runbook.Step{Name: "smoke_k6", Timeout: 15 * time.Minute, Budget: 10 * time.Minute,
			Action: act(exec.NewK6(in.Exec, exec.K6Options{Script: "/opt/dcmms/backend/tests/smoke-test.js", Env: map[string]string{"API_BASE_URL": c.SiteURL}}))})
		p.Step(runbook.Step{Name: "login", Budget: 2 * time.Minute,
			Action: act(httpprov.NewRequest(in.Site, httpprov.Request{Method: "POST", URL: "/api/v1/auth/login",
				Body:    map[string]any{"email": c.SmokeUser, "password": c.SmokePassword.Reveal()},
				Extract: map[string]string{"token": "token"}, SensitiveOutputs: []string{"token"}}))})
		p.Step(runbook.Step{Name: "work_orders", Budget: 2 * time.Minute, Uses: []string{"login"},
			Action: act(httpprov.NewCheck(in.Site, httpprov.Request{URL: "/api/v1/work-orders", Bind: bearer,
				Expect: []httpprov.Expectation{httpprov.Exists("data"), httpprov.Exists("pagination")}}))})
		p.Step(runbook.Step{Name: "compliance_reports", Budget: 2 * time.Minute, Uses: []string{"login"},
			Action: act(httpprov.NewCheck(in.Site, httpprov.Request{URL: "/api/v1/compliance/reports", Bind: bearer}))})
		p.Step(runbook.Step{Name: "ml_predict", Budget: 4 * time.Minute, Uses: []string{"login"},
			Action: act(httpprov.NewCheck(in.Site, httpprov.Request{Method: "POST", URL: "/api/v1/ml/predict/anomaly", Bind: bearer,
				Body: map[string]any{"siteId": "SITE-0001", "assetId": "INV-001", "features": map[string]any{"temperature": 41.5, "power_kw": 812}}}))})
	})

	// Step 9: the ramp (T-2:35, 45 min), each phase held 15 minutes.
	below := func(limit float64) runbook.Condition {
		return runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) {
			f, err := number(v)
			return err == nil && f < limit, err
		})
	}
	p.Phase("ramp", func(p *runbook.Builder) {
		for _, pct := range c.Ramp {
			p.Step(runbook.Step{Name: fmt.Sprintf("traffic[%d]", pct),
				Action: act(aws.NewWeights(in.AWS, aws.WeightsArgs{RuleARN: c.RuleARN, Weights: map[string]int{c.OldTargetGroupARN: 100 - pct, c.NewTargetGroupARN: pct}}))})
			p.Gate(runbook.Gate{Name: fmt.Sprintf("soak[%d]", pct), Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: 30 * time.Second, Budget: 15 * time.Minute, Checks: []runbook.Check{
				{Name: "p95", Probe: b.query(c.P95Query), Threshold: "self.value < 0.2", Success: below(0.2), Message: "API latency p95 is above 200 ms"},
				{Name: "error_rate", Probe: b.query(c.ErrorRateQuery), Threshold: "self.value < 0.01", Success: below(0.01), Message: "error rate is above 1%"},
				// The new version against the old one; at 100 % the old
				// version serves nothing, so the comparison is only shown.
				{Name: "p95_vs_baseline", Probe: b.compare(c, 0.1), Success: compare.Passed, Failure: compare.Failed, DryRun: pct == 100, InconclusiveLimit: 10,
					Threshold: "p95 of the new version at most 10% above the old one's (Mann-Whitney, 95% confidence)",
					Message:   "the new version's p95 is more than 10% above the old version's"},
			}})
		}
	})
	// The seed's rollback criteria, from the first shift until maintenance
	// mode is off.
	p.Gate(runbook.Gate{Name: "rollback_criteria", Kind: runbook.GateGuard, From: fmt.Sprintf("traffic[%d]", first(c.Ramp)), Until: "maintenance_off",
		Every: 30 * time.Second, Uses: []string{"baseline_p95"}, Checks: []runbook.Check{
			{Name: "error_rate", Probe: b.query(c.ErrorRateQuery), Threshold: "self.value < 0.05", Success: below(0.05), Message: "error rate is above 5%"},
			{Name: "latency", Probe: b.query(c.P95Query), Threshold: "self.value < step.baseline_p95.value * 1.5",
				Message: "performance degraded by more than 50% against the pre-deployment p95",
				Success: runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) {
					base, ok := env.Output("baseline_p95")
					if !ok {
						return false, errors.New("no baseline_p95 yet")
					}
					bv, err := number(base["value"])
					if err != nil {
						return false, err
					}
					f, err := number(v)
					return err == nil && f < bv*1.5, err
				})},
		}})

	// Step 10: monitoring (T-3:20, 30 min): the point of no return.
	p.Phase("monitoring", func(p *runbook.Builder) {
		p.Step(runbook.Step{Name: "monitoring_started", PointOfNoReturn: true,
			Action: act(slack.NewMessage(in.Slack, slack.Message{Text: fmt.Sprintf("Release 2 (v%s) takes 100%% of the traffic. Monitoring for 30 minutes; from now on a rollback is a decision of the Deployment Lead.", c.Version)}))})
		p.Gate(runbook.Gate{Name: "monitor", Kind: runbook.GateSoak, Duration: 30 * time.Minute, Every: time.Minute, Budget: 30 * time.Minute, Checks: []runbook.Check{
			{Name: "p95", Probe: b.query(c.P95Query), Threshold: "self.value < 0.2", Success: below(0.2)},
			{Name: "error_rate", Probe: b.query(c.ErrorRateQuery), Threshold: "self.value < 0.01", Success: below(0.01)},
			{Name: "request_rate", Probe: b.query(c.RequestRateQuery), Threshold: "self.value > 0", DryRun: true,
				Success: runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) {
					f, err := number(v)
					return err == nil && f > 0, err
				})},
		}})
		b.checklist(p, "validation", Validation, 0)
	})

	// Step 11: maintenance off (T-3:50, 5 min) and the notifications.
	p.Phase("maintenance_off", func(p *runbook.Builder) {
		p.Step(runbook.Step{Name: "maintenance_off", Budget: 2 * time.Minute,
			Action: b.ssh(in.LB, ssh.ExecOptions{Sudo: true,
				Script:         "rm -f " + maintenanceEnabled + " && nginx -t && systemctl reload nginx",
				RollbackScript: "ln -sf " + maintenanceAvailable + " /etc/nginx/sites-enabled/ && nginx -t && systemctl reload nginx"})})
		p.Step(runbook.Step{Name: "status_resolved", Budget: time.Minute, Uses: []string{"status_incident"},
			Action: b.lazy(in.Statuspage.Name(), "statuspage_resolve", true, false, func(env *runbook.Env) (runbook.Action, error) {
				out, _ := env.Output("status_incident")
				return statuspage.NewResolve(in.Statuspage, fmt.Sprint(out["incident_id"]), fmt.Sprintf("Release 2 (v%s) is deployed. All systems operational.", c.Version), false)
			})})
		p.Step(runbook.Step{Name: "site_live", Budget: time.Minute, Retry: runbook.Retry{Attempts: 3, Delay: 10 * time.Second},
			Action: act(httpprov.NewCheck(in.Site, httpprov.Request{URL: "/", ExpectStatus: []int{200}}))})
		p.Step(runbook.Step{Name: "announce", Budget: 30 * time.Second,
			Action: act(slack.NewMessage(in.Slack, slack.Message{Channel: "#general", Text: fmt.Sprintf("dCMMS Release 2 (v%s) is live: %s.", c.Version, strings.Join(Features, ", "))}))})
		features := make([]any, len(Features))
		for i, f := range Features {
			features[i] = f
		}
		p.Step(runbook.Step{Name: "stakeholders", Budget: 30 * time.Second,
			Action: act(email.NewEmail(in.Email, email.Message{To: c.Stakeholders, Template: "deployment_complete", Data: map[string]any{
				"product": "dCMMS", "release": "Release 2", "version": c.Version, "duration": "about 4 hours", "issues": "None",
				"status": "All systems operational", "features": features, "support": "support@dcmms.com"}}))})
	})

	// Step 12: post-deployment review (T-3:55, 5 min).
	b.checklist(p, "review", Review, 5*time.Minute)

	if b.err != nil {
		return nil, b.err
	}
	plan, err := p.Build()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, n := range plan.Nodes() {
		if n.Step == nil {
			continue
		}
		if f, ok := n.Step.Action.(failed); ok {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, f.err))
		}
		for _, rb := range n.Step.Rollbacks {
			if ra, ok := rb.(rollbackAction); ok {
				if f, ok := ra.a.(failed); ok {
					errs = append(errs, fmt.Errorf("%s: rollback: %w", n.Name, f.err))
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return plan, nil
}

// asRollback runs an action as a compensation (an explicit rollback
// block).
func asRollback(a runbook.Action) runbook.Rollback { return rollbackAction{a} }

type rollbackAction struct{ a runbook.Action }

func (r rollbackAction) Compensate(ctx context.Context, env *runbook.Env) error {
	_, err := r.a.Do(ctx, env)
	return err
}

func (r rollbackAction) Describe() runbook.Description { return runbook.Describe(r.a) }

func first(list []int) int {
	if len(list) == 0 {
		return 0
	}
	return list[0]
}

// snapshot names the config snapshot of the run's day.
func snapshot(env *runbook.Env) string {
	return "/tmp/dcmms-config-snapshot-" + env.Run().StartedAt.UTC().Format("20060102") + ".tar.gz"
}

// build collects the first constructor error, so that Plan reads as a
// list of steps.
type build struct {
	c   Config
	in  Instances
	err error
}

func (b *build) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// act records a constructor's error and returns its action, giving a
// natural rollback without a description of its own the action's (as the
// HCL front end does).
func act[A runbook.Action](a A, err error) runbook.Action {
	if err != nil {
		return failed{err}
	}
	return described(a)
}

func (b *build) checklist(p *runbook.Builder, name string, items []string, budget time.Duration) {
	p.Step(runbook.Step{Name: name, Budget: budget, Action: act((manual.NewChecklist(b.in.Team, manual.Checklist{Items: items})))})
}

func (b *build) ssh(c ssh.Client, o ssh.ExecOptions) runbook.Action {
	return act((ssh.NewExec(c, o)))
}

// lazySSH is an ssh_exec whose command is known at run time only (it reads
// an earlier step's outputs or the run's start). The steps using it are
// irreversible: no natural rollback is assumed.
func (b *build) lazySSH(c ssh.Client, opts func(env *runbook.Env) (ssh.ExecOptions, error)) runbook.Action {
	return b.lazy(c.Name(), "ssh_exec", false, false, func(env *runbook.Env) (runbook.Action, error) {
		o, err := opts(env)
		if err != nil {
			return nil, err
		}
		return ssh.NewExec(c, o)
	})
}

func (b *build) update(service string) runbook.Action {
	return act((docker.NewServiceUpdate(b.in.Docker, docker.ServiceUpdate{
		Target: docker.Target{Project: b.c.ComposeProject, Service: service}, Image: "dcmms/" + service + ":" + b.c.Version, HealthTimeout: 5 * time.Minute})))
}

func (b *build) inspect(t docker.Target) runbook.Probe {
	x, err := docker.NewInspect(b.in.Docker, docker.Inspect{Target: t})
	if err != nil {
		b.fail(err)
		return nil
	}
	return x
}

func (b *build) compare(c Config, tolerance float64) runbook.Probe {
	x, err := prometheus.NewCompare(b.in.Prometheus, prometheus.CompareConfig{
		Canary: fmt.Sprintf(c.P95ByVersionQuery, c.Version), Baseline: fmt.Sprintf(c.P95ByVersionQuery, c.PreviousVersion),
		Window: 5 * time.Minute, Step: 15 * time.Second, Options: compare.Options{Tolerance: tolerance}})
	if err != nil {
		b.fail(err)
		return nil
	}
	return x
}

func (b *build) query(q string) runbook.Probe {
	x, err := prometheus.NewQuery(b.in.Prometheus, q)
	if err != nil {
		b.fail(err)
		return nil
	}
	return x
}

// failed stands in for an action whose constructor failed; Plan returns
// the error before building.
type failed struct{ err error }

func (f failed) Do(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, f.err }

func (f failed) ReadOnly() bool { return true }

func number(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	}
	return 0, fmt.Errorf("want a number, got %T", v)
}
