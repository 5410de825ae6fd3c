# dCMMS Release 2 (v0.3.0): the production deployment runbook (a Markdown
# document of the dCMMS team), whole, as a Handrail runbook.
#
#   handrail validate examples/release-2
#   handrail plan     examples/release-2/release-2.hcl
#   handrail apply --sandbox examples/release-2/release-2.hcl                       # rehearse, fake world
#   handrail apply --sandbox examples/release-2/release-2.hcl --fail 'gate.soak[50]' # rehearse a rollback
#   handrail test     examples/release-2                                             # the scenarios of release-2.test.hcl
#
# Budgets follow the seed's timeline (4-hour window). "Rollback Point: Yes"
# becomes a rollback on every step that changes the world; "Rollback Point:
# No (monitor)" becomes the point of no return of step.monitoring_started.

runbook "release-2" {
  description = "dCMMS Release 2 (v0.3.0)"
  window      = "4h"
}

# --- Variables (values in release-2.auto.hclvars) ---------------------------

variable "version" {
  type        = string
  description = "The release being deployed."
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.version))
    error_message = "version must look like 0.3.0."
  }
}

variable "previous_version" {
  type        = string
  description = "The version running now (what a rollback returns to)."
}

variable "schema_version" {
  type        = number
  description = "Schema version expected before the migrations (014, from Sprint 11)."
  default     = 14
}

variable "lb_host" { type = string }
variable "app_host" { type = string }
variable "db_host" { type = string }

variable "ssh_user" {
  type    = string
  default = "deploy"
}

variable "compose_project" {
  type        = string
  description = "docker-compose project of the production services."
  default     = "dcmms"
}

variable "backend_services" {
  type        = list(string)
  description = "Compose services deployed in parallel in Step 5."
  default     = ["backend", "ml-service", "mqtt-bridge"]
}

variable "site_url" { type = string }
variable "staging_url" { type = string }
variable "prometheus_url" { type = string }

variable "aws_region" {
  type    = string
  default = "us-east-1"
}

variable "backup_bucket" { type = string }
variable "assets_bucket" { type = string }

variable "rule_arn" {
  type        = string
  description = "ALB listener rule whose forward action carries the ramp's weights."
}
variable "old_tg_arn" { type = string }
variable "new_tg_arn" { type = string }

variable "ramp" {
  type        = list(number)
  description = "Percent of traffic on the new version, phase by phase."
  default     = [10, 50, 100]
}

variable "error_rate_query" {
  type        = string
  description = "PromQL: the API's error rate (0.01 is 1%)."
}

variable "p95_query" {
  type        = string
  description = "PromQL: the API's p95 latency in seconds."
}

variable "p95_by_version_query" {
  type        = string
  description = "PromQL: the API's p95 latency in seconds of one version (%s stands for the version)."
}

variable "request_rate_query" {
  type        = string
  description = "PromQL: the API's request rate (req/s)."
}

variable "migrations_dir" {
  type        = string
  description = "NNN_name.up.sql / .down.sql files of the release (relative paths are the runbook's folder in the sandbox)."
  default     = "migrations"
}

variable "migration_failure" {
  type        = string
  description = "What a failed migration does: rollback (migrate down and roll the release back, the seed's \"run migrate:down and ABORT\") or abort (stop where it failed, schema and site as they are, to fix the migration and go on: handrail resume RUN -runbook FILE -from step.migrate)."
  default     = "rollback"
}

variable "statuspage_page_id" { type = string }

variable "statuspage_api_key" {
  type      = string
  sensitive = true
}

variable "slack_webhook_url" {
  type      = string
  sensitive = true
}

variable "database_url" {
  type      = string
  sensitive = true
}

variable "smoke_user" { type = string }

variable "smoke_password" {
  type      = string
  sensitive = true
}

variable "smtp_host" { type = string }

variable "smtp_from" {
  type    = string
  default = "dCMMS DevOps <devops@dcmms.com>"
}

variable "stakeholders" {
  type = list(string)
}

variable "approvers" {
  type        = list(string)
  description = "Who takes the Go/No-Go decisions (the Deployment Lead)."
  default     = ["deployment-lead"]
}

locals {
  maintenance_available = "/etc/nginx/sites-available/maintenance.conf"
  maintenance_enabled   = "/etc/nginx/sites-enabled/maintenance.conf"
  backup_dir            = "/opt/dcmms/backups/postgres/full"
  backup_prefix         = "production/pre-release-2/"
  features              = ["Compliance report automation", "ML-powered anomaly detection", "Enhanced performance monitoring"]
}

# --- Providers ----------------------------------------------------------------

provider "ssh" "lb" {
  host = var.lb_host
  user = var.ssh_user
}

provider "ssh" "app" {
  host = var.app_host
  user = var.ssh_user
}

provider "ssh" "db" {
  host = var.db_host
  user = var.ssh_user
}

provider "docker" "app" {
  via = ssh.app
}

provider "postgres" "dcmms" {
  dsn = var.database_url
}

provider "aws" "prod" {
  region = var.aws_region
}

provider "http" "site" {
  base_url = var.site_url
  timeout  = "10s"
}

provider "http" "staging" {
  base_url = var.staging_url
  timeout  = "10s"
}

provider "prometheus" "main" {
  url = var.prometheus_url
}

provider "statuspage" "dcmms" {
  page_id = var.statuspage_page_id
  api_key = var.statuspage_api_key
}

provider "slack" "deploy" {
  webhook_url = var.slack_webhook_url
  channel     = "#deployment-release-2"
}

provider "email" "ops" {
  host = var.smtp_host
  from = var.smtp_from
}

provider "exec" "local" {}

provider "manual" "team" {}

# --- Pre-deployment checklists (the week, 48 h and 24 h before) -------------

phase "checklists" {
  step "manual_checklist" "week_before" {
    budget = "1m"
    items = [
      "Code freeze initiated",
      "Final smoke tests completed in staging",
      "Performance validation tests executed (k6 final-validation-test.js)",
      "Security scans completed (Snyk, OWASP ZAP)",
      "Database migration scripts reviewed and tested",
      "Stakeholder sign-off obtained (Product, Engineering, Security)",
      "Deployment window scheduled and communicated",
      "Rollback plan documented and tested",
      "Customer notification drafted (if downtime expected)",
    ]
  }

  step "manual_checklist" "two_days_before" {
    budget = "1m"
    items = [
      "Staging environment mirrors production",
      "Full regression test suite executed",
      "Backup verification completed",
      "DR plan reviewed",
      "On-call engineers confirmed and briefed",
      "Deployment team meeting conducted",
      "Go/No-Go decision checklist reviewed",
    ]
  }

  step "manual_checklist" "day_before" {
    budget = "1m"
    items = [
      "Production backup created and verified",
      "Database maintenance mode prepared",
      "Traffic routing plan confirmed (blue-green or canary)",
      "Monitoring dashboards configured",
      "Alert thresholds verified",
      "Status page prepared for updates",
      "Final Go/No-Go decision",
    ]
  }
}

# --- Step 1: Pre-deployment verification (T-0:00, 15 min) --------------------

phase "pre_checks" {
  parallel = true

  step "manual_task" "roll_call" {
    message = "Deployment team present in the #deployment-release-2 Slack channel"
    budget  = "2m"
  }

  step "http_check" "staging_health" {
    provider = http.staging
    url      = "/api/v1/health"
    expect   = { status = "healthy", version = var.version }
    budget   = "1m"
    retry {
      attempts = 3
      delay    = "10s"
    }
  }

  step "s3_object_exists" "todays_backup" {
    bucket = var.backup_bucket
    prefix = "production/"
    date   = "%Y%m%d"
    budget = "1m"
  }

  step "docker_inspect" "running_version" {
    service = "backend"
    project = var.compose_project
    budget  = "1m"
  }

  step "prometheus_baseline" "baseline_p95" {
    query  = var.p95_query
    window = "1h"
    reduce = "p95"
    budget = "1m"
  }

  step "prometheus_baseline" "baseline_error_rate" {
    query  = var.error_rate_query
    window = "1h"
    reduce = "avg"
    budget = "1m"
  }
}

phase "artifacts" {
  parallel = true

  step "docker_pull" "image_backend" {
    image  = "dcmms/backend:${var.version}"
    pull   = "never"
    budget = "30s"
  }
  step "docker_pull" "image_ml_service" {
    image  = "dcmms/ml-service:${var.version}"
    pull   = "never"
    budget = "30s"
  }
  step "docker_pull" "image_mqtt_bridge" {
    image  = "dcmms/mqtt-bridge:${var.version}"
    pull   = "never"
    budget = "30s"
  }
  step "docker_pull" "image_frontend" {
    image  = "dcmms/frontend:${var.version}"
    pull   = "never"
    budget = "30s"
  }
}

gate "approval" "go_no_go_start" {
  message   = "Go/No-Go: staging is healthy on ${var.version}, today's backup is in S3, the 0.3.0 images are present and the baselines are recorded (p95 and error rate). Start the deployment?"
  approvers = var.approvers
  timeout   = "15m"
  budget    = "3m"
}

# --- Step 2: Enable maintenance mode (T-0:15, 5 min) --------------------------

phase "maintenance_on" {
  # The deployment starts. Should it be rolled back, this is the last step
  # undone: the seed's "communicate rollback to stakeholders" (the status
  # page says so through the incident's rollback_body).
  step "slack_message" "kickoff" {
    text = "Go: deploying dCMMS Release 2 (v${var.version}), maintenance window of 4 hours."
    rollback "email" {
      to       = var.stakeholders
      template = "rollback"
      data = {
        product          = "dCMMS"
        release          = "Release 2"
        version          = var.version
        previous_version = var.previous_version
        reason           = "a rollback criterion was met during the deployment (see #deployment-release-2)"
        status           = "All systems operational on v${var.previous_version}"
        contact          = "devops@dcmms.com"
      }
    }
  }

  step "statuspage_incident" "status_incident" {
    name            = "Scheduled Maintenance - Release 2 Deployment"
    status          = "investigating"
    impact_override = "maintenance"
    body            = "dCMMS Release 2 (v${var.version}) is being deployed."
    rollback_body   = "The deployment was rolled back; dCMMS runs v${var.previous_version} again."
    budget          = "1m"
  }

  step "ssh_exec" "maintenance_page" {
    provider        = ssh.lb
    sudo            = true
    script          = "ln -sf ${local.maintenance_available} /etc/nginx/sites-enabled/ && nginx -t && systemctl reload nginx"
    rollback_script = "rm -f ${local.maintenance_enabled} && nginx -t && systemctl reload nginx"
    budget          = "3m"
  }

  step "http_check" "maintenance_live" {
    provider      = http.site
    url           = "/"
    expect_status = 503
    budget        = "1m"
    retry {
      attempts = 5
      delay    = "5s"
    }
  }
}

# --- Step 3: Production backup (T-0:20, 20 min) -------------------------------
# "If backup fails, ABORT deployment": the backup steps keep the default
# on_fail = "rollback". Aborting the deployment here means giving it up and
# putting the site back as it was: the two maintenance steps are undone
# (maintenance page off, incident resolved) and nothing else has been
# touched. on_fail = "abort" would compensate nothing and leave the site in
# maintenance, which is not what the seed asks.

phase "backup" {
  step "ssh_exec" "db_backup" {
    provider  = ssh.db
    sudo      = true
    command   = ["/opt/dcmms/scripts/backup/backup-postgres-full.sh"]
    timeout   = "20m"
    budget    = "12m"
    read_only = true
    on_fail   = "rollback"
  }

  step "ssh_exec" "backup_verify" {
    provider  = ssh.db
    command   = ["ls", "-1t", local.backup_dir]
    read_only = true
    budget    = "1m"
  }

  # The backup is kept on rollback: it is what a rollback may need.
  step "ssh_exec" "backup_upload" {
    provider     = ssh.db
    command      = ["aws", "s3", "cp", "${local.backup_dir}/${step.backup_verify.stdout_lines[0]}", "s3://${var.backup_bucket}/${local.backup_prefix}"]
    timeout      = "15m"
    budget       = "4m"
    irreversible = true
    on_fail      = "rollback"
    # The backup stays in S3 after a rollback: the rollback matrix does
    # not count it against "restored".
    lasting = ["aws/buckets/${var.backup_bucket}/objects/${local.backup_prefix}"]
  }

  step "ssh_exec" "config_snapshot" {
    provider     = ssh.app
    sudo         = true
    command      = ["tar", "-czf", "/tmp/dcmms-config-snapshot-${formatdate("YYYYMMDD", run.started_at)}.tar.gz", "/etc/dcmms/", "/opt/dcmms/.env", "/opt/dcmms/docker-compose.yml"]
    irreversible = true
    budget       = "1m"
  }

  step "ssh_exec" "config_upload" {
    provider     = ssh.app
    command      = ["aws", "s3", "cp", "/tmp/dcmms-config-snapshot-${formatdate("YYYYMMDD", run.started_at)}.tar.gz", "s3://${var.backup_bucket}/${local.backup_prefix}"]
    irreversible = true
    budget       = "1m"
    lasting      = ["aws/buckets/${var.backup_bucket}/objects/${local.backup_prefix}"]
  }

  step "s3_object_exists" "backup_in_s3" {
    bucket  = var.backup_bucket
    prefix  = local.backup_prefix
    pattern = "postgres_full_*.sql.gz"
    date    = "%Y%m%d"
    budget  = "1m"
  }
}

# --- Step 4: Database migrations 015-017 (T-0:40, 30 min) ---------------------

phase "migrations" {
  step "postgres_query" "schema_before" {
    sql    = "SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1"
    expect = { version = tostring(var.schema_version) }
    budget = "1m"
  }

  step "postgres_migrate" "migrate_dry_run" {
    dir     = var.migrations_dir
    dry_run = true
    budget  = "4m"
  }

  # "If migrations fail, run npm run migrate:down and ABORT": the natural
  # rollback migrates down to the version captured before the step, and
  # rollback_on_failure runs it when the step itself fails half-way.
  step "postgres_migrate" "migrate" {
    dir                 = var.migrations_dir
    timeout             = "30m"
    budget              = "20m"
    rollback_on_failure = true
    on_fail             = var.migration_failure
  }

  step "postgres_query" "schema_after" {
    sql    = "SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 5"
    budget = "2m"
  }

  step "postgres_query" "tables_present" {
    sql    = "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('ml_features', 'analytics_views')"
    expect = { count = "2" }
    budget = "3m"
  }
}

# --- Step 5: Deploy backend services (T-1:10, 30 min) -------------------------
# Pull, stop, set the image, up -d and wait for health, for the three
# services at once; rollback puts the previous image back.

phase "backend" {
  parallel = true

  step "docker_service_update" "deploy_backend" {
    project        = var.compose_project
    service        = "backend"
    image          = "dcmms/backend:${var.version}"
    health_timeout = "5m"
    budget         = "8m"
  }

  step "docker_service_update" "deploy_ml_service" {
    project        = var.compose_project
    service        = "ml-service"
    image          = "dcmms/ml-service:${var.version}"
    health_timeout = "5m"
    budget         = "8m"
  }

  step "docker_service_update" "deploy_mqtt_bridge" {
    project        = var.compose_project
    service        = "mqtt-bridge"
    image          = "dcmms/mqtt-bridge:${var.version}"
    health_timeout = "5m"
    budget         = "8m"
  }
}

gate "check" "backend_healthy" {
  every   = "10s"
  timeout = "5m"
  budget  = "6m"
  check "version" {
    probe     = "docker_inspect"
    service   = "backend"
    project   = var.compose_project
    condition = self.health == "healthy" && self.image == "dcmms/backend:${var.version}"
  }
}

# --- Step 6: Deploy frontend (T-1:40, 20 min) ---------------------------------

phase "frontend" {
  step "ssh_exec" "frontend_assets" {
    provider        = ssh.app
    dir             = "/opt/dcmms/frontend"
    script          = "npm run build && aws s3 sync .next/static s3://${var.assets_bucket}/${var.version}/"
    rollback_script = "aws s3 rm --recursive s3://${var.assets_bucket}/${var.version}/"
    timeout         = "15m"
    budget          = "8m"
  }

  step "docker_service_update" "deploy_frontend" {
    project        = var.compose_project
    service        = "frontend"
    image          = "dcmms/frontend:${var.version}"
    health_timeout = "5m"
    budget         = "8m"
  }

  step "ssh_exec" "nginx_reload" {
    provider        = ssh.lb
    sudo            = true
    script          = "nginx -t && systemctl reload nginx"
    rollback_script = "nginx -t && systemctl reload nginx"
    budget          = "2m"
  }

  step "http_check" "frontend_in_maintenance" {
    provider      = http.site
    url           = "/api/v1/health"
    expect_status = 503
    budget        = "2m"
  }
}

# --- Step 7: Health checks (T-2:00, 15 min) ----------------------------------

phase "health" {
  step "ssh_exec" "health_script" {
    provider  = ssh.app
    command   = ["/opt/dcmms/scripts/deployment/health-check.sh"]
    read_only = true
    budget    = "3m"
  }

  step "docker_exec" "db_ping" {
    container = "dcmms-backend"
    command   = ["npm", "run", "db:ping"]
    read_only = true
    budget    = "1m"
  }

  step "docker_exec" "redis_ping" {
    container = "dcmms-backend"
    command   = ["npm", "run", "redis:ping"]
    read_only = true
    budget    = "1m"
  }

  step "docker_exec" "kafka_ping" {
    container = "dcmms-mqtt-bridge"
    command   = ["npm", "run", "kafka:ping"]
    read_only = true
    budget    = "1m"
  }

  step "docker_logs_check" "backend_logs" {
    container = "dcmms-backend"
    pattern   = "error"
    tail      = 50
    budget    = "1m"
  }

  step "docker_logs_check" "frontend_logs" {
    container = "dcmms-frontend"
    pattern   = "error"
    tail      = 50
    budget    = "1m"
  }
}

gate "check" "containers_running" {
  timeout = "2m"
  budget  = "2m"
  check "backend" {
    probe     = "docker_inspect"
    container = "dcmms-backend"
    condition = self.running && self.health == "healthy"
  }
  check "frontend" {
    probe     = "docker_inspect"
    container = "dcmms-frontend"
    condition = self.running
  }
  check "ml_service" {
    probe     = "docker_inspect"
    container = "dcmms-ml-service"
    condition = self.running
  }
  check "mqtt_bridge" {
    probe     = "docker_inspect"
    container = "dcmms-mqtt-bridge"
    condition = self.running
  }
}

gate "approval" "go_no_go_health" {
  message   = "Go/No-Go: all health checks passed on ${var.version}. Run the smoke tests?"
  approvers = var.approvers
  timeout   = "15m"
  budget    = "5m"
}

# --- Step 8: Smoke tests (T-2:15, 20 min) -------------------------------------

phase "smoke" {
  step "k6_run" "smoke_k6" {
    script  = "/opt/dcmms/backend/tests/smoke-test.js"
    env     = { API_BASE_URL = var.site_url }
    timeout = "15m"
    budget  = "10m"
  }

  step "http_request" "login" {
    provider          = http.site
    method            = "POST"
    url               = "/api/v1/auth/login"
    body              = { email = var.smoke_user, password = var.smoke_password }
    extract           = { token = "token" }
    sensitive_outputs = ["token"]
    budget            = "2m"
  }

  step "http_check" "work_orders" {
    provider = http.site
    url      = "/api/v1/work-orders"
    headers  = { Authorization = "Bearer ${step.login.token}" }
    match    = { "data" = { exists = true }, "pagination" = { exists = true } }
    budget   = "2m"
  }

  step "http_check" "compliance_reports" {
    provider = http.site
    url      = "/api/v1/compliance/reports"
    headers  = { Authorization = "Bearer ${step.login.token}" }
    budget   = "2m"
  }

  step "http_check" "ml_predict" {
    provider = http.site
    method   = "POST"
    url      = "/api/v1/ml/predict/anomaly"
    headers  = { Authorization = "Bearer ${step.login.token}" }
    body     = { siteId = "SITE-0001", assetId = "INV-001", features = { temperature = 41.5, power_kw = 812 } }
    budget   = "4m"
  }
}

# --- Step 9: Gradual traffic ramp-up (T-2:35, 45 min) -------------------------
# 10% -> 50% -> 100%, each held 15 minutes: p95 < 200 ms and error rate < 1%.

phase "ramp" {
  for_each = var.ramp

  step "elbv2_weights" "traffic" {
    rule_arn = var.rule_arn
    weights  = { (var.old_tg_arn) = 100 - each.value, (var.new_tg_arn) = each.value }
  }

  gate "soak" "soak" {
    duration = "15m"
    every    = "30s"
    budget   = "15m"
    check "p95" {
      probe         = "prometheus_query"
      query         = var.p95_query
      condition     = self.value < 0.2
      error_message = "API latency p95 is above 200 ms"
    }
    check "error_rate" {
      probe         = "prometheus_query"
      query         = var.error_rate_query
      condition     = self.value < 0.01
      error_message = "error rate is above 1%"
    }
    # The new version against the old one over the last 5 minutes. At 100 %
    # the old version serves nothing: the comparison is shown, not enforced.
    check "p95_vs_baseline" {
      probe     = "prometheus_compare"
      canary    = format(var.p95_by_version_query, var.version)
      baseline  = format(var.p95_by_version_query, var.previous_version)
      window    = "5m"
      step      = "15s"
      tolerance = 0.1
      # A shift in progress is inconclusive for a while: tolerate 5 minutes.
      inconclusive_limit = 10
      success            = self.verdict == "pass"
      failure            = self.verdict == "fail"
      threshold          = "p95 of the new version at most 10% above the old one's (Mann-Whitney, 95% confidence)"
      dry_run            = each.value == 100
      error_message      = "the new version's p95 is more than 10% above the old version's"
    }
  }
}

# The seed's rollback criteria, watched without pause from the first
# traffic shift until maintenance mode is off.
gate "guard" "rollback_criteria" {
  from  = step.traffic[10]
  until = step.maintenance_off
  every = "30s"
  check "error_rate" {
    probe         = "prometheus_query"
    query         = var.error_rate_query
    condition     = self.value < 0.05
    error_message = "error rate is above 5%"
  }
  check "latency" {
    probe         = "prometheus_query"
    query         = var.p95_query
    condition     = self.value < step.baseline_p95.value * 1.5
    error_message = "performance degraded by more than 50% against the pre-deployment p95"
  }
}

# --- Step 10: Monitoring & validation (T-3:20, 30 min) ------------------------
# "Rollback Point: No (monitor)": from here a failure halts the run and
# prints how to roll back; nothing is compensated automatically.

phase "monitoring" {
  step "slack_message" "monitoring_started" {
    text               = "Release 2 (v${var.version}) takes 100% of the traffic. Monitoring for 30 minutes; from now on a rollback is a decision of the Deployment Lead."
    point_of_no_return = true
  }

  gate "soak" "monitor" {
    duration = "30m"
    every    = "1m"
    budget   = "30m"
    check "p95" {
      probe     = "prometheus_query"
      query     = var.p95_query
      condition = self.value < 0.2
    }
    check "error_rate" {
      probe     = "prometheus_query"
      query     = var.error_rate_query
      condition = self.value < 0.01
    }
    check "request_rate" {
      probe     = "prometheus_query"
      query     = var.request_rate_query
      condition = self.value > 0
      dry_run   = true
    }
  }

  step "manual_checklist" "validation" {
    items = [
      "Grafana: database query performance and ML inference latency look normal",
      "Application logs: no new ERROR lines",
      "User activity: sessions and logins match pre-deployment levels",
      "Release 2 features: compliance reports, ML predictions, new UI components",
      "No security alerts",
    ]
  }
}

# --- Step 11: Disable maintenance mode (T-3:50, 5 min) ------------------------

phase "maintenance_off" {
  step "ssh_exec" "maintenance_off" {
    provider        = ssh.lb
    sudo            = true
    script          = "rm -f ${local.maintenance_enabled} && nginx -t && systemctl reload nginx"
    rollback_script = "ln -sf ${local.maintenance_available} /etc/nginx/sites-enabled/ && nginx -t && systemctl reload nginx"
    budget          = "2m"
  }

  step "statuspage_resolve" "status_resolved" {
    incident_id = step.status_incident.incident_id
    body        = "Release 2 (v${var.version}) is deployed. All systems operational."
    budget      = "1m"
  }

  step "http_check" "site_live" {
    provider      = http.site
    url           = "/"
    expect_status = 200
    budget        = "1m"
    retry {
      attempts = 3
      delay    = "10s"
    }
  }

  step "slack_message" "announce" {
    channel = "#general"
    text    = "dCMMS Release 2 (v${var.version}) is live: ${join(", ", local.features)}."
    budget  = "30s"
  }

  step "email" "stakeholders" {
    to       = var.stakeholders
    template = "deployment_complete"
    data = {
      product  = "dCMMS"
      release  = "Release 2"
      version  = var.version
      duration = "about 4 hours"
      issues   = "None"
      status   = "All systems operational"
      features = local.features
      support  = "support@dcmms.com"
    }
    budget = "30s"
  }
}

# --- Step 12: Post-deployment review (T-3:55, 5 min) --------------------------

step "manual_checklist" "review" {
  budget = "5m"
  items = [
    "Issues encountered during the deployment reviewed",
    "Rollback points confirmed (if any were needed)",
    "Monitoring looks good",
    "Customer reports of issues checked",
    "Action items for the next deployment noted",
    "Post-deployment tasks scheduled: 24 h health watch, metrics review, customer feedback, pre/post performance comparison, runbook update, retrospective within a week",
  ]
}

output "schema_version" {
  value = step.migrate.to_version
}

output "backend_image" {
  value = step.deploy_backend.image
}

output "incident" {
  value = step.status_incident.incident_id
}
