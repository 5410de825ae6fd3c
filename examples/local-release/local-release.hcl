# dCMMS Release 2 (v0.3.0), for real on one machine: the shape of
# ../release-2/release-2.hcl against real components.
#
#   - the backend is a real container on the local Docker engine
#     (dcmms/backend:0.2.9 -> 0.3.0, test images built FROM scratch);
#   - the database is a real PostgreSQL, migrated 014 -> 017 with the
#     files of ./migrations, backed up with pg_dump;
#   - the maintenance page is a file toggled over SSH (sshd on loopback);
#   - the soaks and the rollback criteria query a real Prometheus that
#     scrapes the container's /metrics;
#   - health and smoke checks are HTTP calls to the container;
#   - S3 (backups), ELBv2 (traffic weights), Slack and Statuspage are their
#     fakes served over HTTP, reached by the real clients.
#
# Every address comes from a variable: local_release_test.go starts the
# components and passes them in. See README.md.

runbook "local-release" {
  description = "dCMMS Release 2 (v0.3.0) on local components"
  window      = "5m"
}

# --- Variables ----------------------------------------------------------------

variable "version" {
  type        = string
  description = "The release being deployed."
  default     = "0.3.0"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.version))
    error_message = "version must look like 0.3.0."
  }
}

variable "previous_version" {
  type        = string
  description = "The version running now (what a rollback returns to)."
  default     = "0.2.9"
}

variable "schema_version" {
  type        = number
  description = "Schema version expected before the migrations."
  default     = 14
}

variable "container" {
  type        = string
  description = "Name of the backend's container on the Docker engine."
}

variable "docker_host" {
  type        = string
  description = "Docker engine, in DOCKER_HOST form."
  default     = "unix:///var/run/docker.sock"
}

variable "backend_url" {
  type        = string
  description = "The backend's published port, e.g. http://127.0.0.1:38080."
}

variable "prometheus_url" { type = string }

variable "ssh_host" {
  type    = string
  default = "127.0.0.1"
}
variable "ssh_port" {
  type    = number
  default = 22
}
variable "ssh_user" { type = string }
variable "ssh_key_file" { type = string }
variable "ssh_known_hosts" { type = string }

variable "maintenance_file" {
  type        = string
  description = "The file whose presence puts the site in maintenance (the nginx symlink of the seed)."
}

variable "database_url" {
  type      = string
  sensitive = true
}

variable "migrations_dir" {
  type    = string
  default = "migrations"
}

variable "backup_dir" {
  type        = string
  description = "Where pg_dump writes the full backup."
}

variable "aws_region" {
  type    = string
  default = "eu-west-1"
}
variable "aws_access_key_id" { type = string }
variable "aws_secret_access_key" {
  type      = string
  sensitive = true
}
variable "s3_endpoint" { type = string }
variable "elbv2_endpoint" { type = string }
variable "backup_bucket" { type = string }

variable "rule_arn" { type = string }
variable "old_tg_arn" { type = string }
variable "new_tg_arn" { type = string }

variable "ramp" {
  type        = list(number)
  description = "Percent of traffic on the new version, phase by phase."
  default     = [10, 50, 100]
}

variable "soak" {
  type        = string
  description = "How long each ramp phase is watched (15m in production)."
  default     = "3s"
}

variable "every" {
  type        = string
  description = "Sampling interval of the soaks and the guard (30s in production)."
  default     = "1s"
}

variable "error_rate_query" {
  type    = string
  default = "sum(rate(http_errors_total[5s])) / sum(rate(http_requests_total[5s]))"
}

variable "p95_query" {
  type    = string
  default = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5s])))"
}

variable "p95_floor" {
  type        = number
  description = "Smallest p95 (seconds) the 150%-of-baseline criterion trips at: the test backend answers in microseconds, far below the histogram's first bucket (5 ms)."
  default     = 0.05
}

variable "statuspage_url" { type = string }
variable "statuspage_page_id" { type = string }
variable "statuspage_api_key" {
  type      = string
  sensitive = true
}

variable "slack_webhook_url" {
  type      = string
  sensitive = true
}

variable "smoke_user" {
  type    = string
  default = "qa@dcmms.local"
}

variable "smoke_password" {
  type      = string
  sensitive = true
}

variable "approvers" {
  type    = list(string)
  default = ["deployment-lead"]
}

locals {
  image_new     = "dcmms/backend:${var.version}"
  image_old     = "dcmms/backend:${var.previous_version}"
  backup_prefix = "production/pre-release-2/"
}

# --- Providers ----------------------------------------------------------------

provider "ssh" "lb" {
  host             = var.ssh_host
  port             = var.ssh_port
  user             = var.ssh_user
  private_key_file = var.ssh_key_file
  known_hosts      = var.ssh_known_hosts
}

provider "docker" "app" {
  host = var.docker_host
}

provider "postgres" "dcmms" {
  dsn = var.database_url
}

provider "aws" "prod" {
  region            = var.aws_region
  access_key_id     = var.aws_access_key_id
  secret_access_key = var.aws_secret_access_key
  s3_endpoint       = var.s3_endpoint
  s3_use_path_style = true
  elbv2_endpoint    = var.elbv2_endpoint
  max_attempts      = 2
}

provider "http" "site" {
  base_url = var.backend_url
  timeout  = "5s"
}

provider "prometheus" "main" {
  url     = var.prometheus_url
  timeout = "5s"
}

provider "statuspage" "dcmms" {
  base_url = var.statuspage_url
  page_id  = var.statuspage_page_id
  api_key  = var.statuspage_api_key
}

provider "slack" "deploy" {
  webhook_url = var.slack_webhook_url
  channel     = "#deployment-release-2"
}

# --- Step 1: Pre-deployment verification --------------------------------------

phase "pre_checks" {
  parallel = true

  step "http_check" "production_health" {
    url    = "/api/v1/health"
    expect = { status = "healthy", version = var.previous_version }
  }

  step "s3_object_exists" "todays_backup" {
    bucket = var.backup_bucket
    prefix = "production/"
    date   = "%Y%m%d"
  }

  step "docker_inspect" "running_version" {
    container = var.container
  }

  step "docker_pull" "image_backend" {
    image = local.image_new
    pull  = "never"
  }

  step "prometheus_baseline" "baseline_p95" {
    query  = var.p95_query
    window = "3s"
    step   = "1s"
    reduce = "max"
  }

  step "prometheus_baseline" "baseline_error_rate" {
    query  = var.error_rate_query
    window = "3s"
    step   = "1s"
    reduce = "avg"
  }
}

gate "approval" "go_no_go_start" {
  message   = "Go/No-Go: production is healthy on ${var.previous_version}, today's backup is in S3, ${local.image_new} is present and the baselines are recorded. Start the deployment?"
  approvers = var.approvers
  timeout   = "1m"
}

# --- Step 2: Enable maintenance mode ------------------------------------------

phase "maintenance_on" {
  step "statuspage_incident" "status_incident" {
    name            = "Scheduled Maintenance - Release 2 Deployment"
    status          = "investigating"
    impact_override = "maintenance"
    body            = "dCMMS Release 2 (v${var.version}) is being deployed."
    rollback_body   = "The deployment was rolled back; dCMMS runs v${var.previous_version} again."
    fail_on_error   = true
  }

  step "ssh_exec" "maintenance_page" {
    provider         = ssh.lb
    sudo             = true
    command          = ["touch", var.maintenance_file]
    rollback_command = ["rm", "-f", var.maintenance_file]
  }

  step "ssh_exec" "maintenance_live" {
    provider  = ssh.lb
    sudo      = true
    command   = ["test", "-f", var.maintenance_file]
    read_only = true
  }
}

# --- Step 3: Production backup ("if the backup fails, ABORT") -----------------

phase "backup" {
  step "postgres_backup" "db_backup" {
    dir = var.backup_dir
  }

  # The backup is kept on rollback: it is what a rollback may need, so the
  # rollback matrix allows it to stay.
  step "s3_upload" "backup_upload" {
    bucket  = var.backup_bucket
    source  = step.db_backup.file
    prefix  = local.backup_prefix
    keep    = true
    lasting = ["aws/buckets/${var.backup_bucket}/objects/${local.backup_prefix}"]
  }

  step "s3_object_exists" "backup_in_s3" {
    bucket  = var.backup_bucket
    prefix  = local.backup_prefix
    pattern = "*.dump"
  }
}

# --- Step 4: Database migrations 015-017 --------------------------------------

phase "migrations" {
  step "postgres_query" "schema_before" {
    sql    = "SELECT version FROM schema_migrations"
    expect = { version = tostring(var.schema_version) }
  }

  step "postgres_migrate" "migrate_dry_run" {
    dir     = var.migrations_dir
    dry_run = true
  }

  # "If migrations fail, run migrate:down and ABORT".
  step "postgres_migrate" "migrate" {
    dir                 = var.migrations_dir
    timeout             = "1m"
    rollback_on_failure = true
  }

  step "postgres_query" "schema_after" {
    sql    = "SELECT version FROM schema_migrations"
    expect = { version = "17" }
  }

  step "postgres_query" "tables_present" {
    sql    = "SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('ml_features', 'analytics_views', 'compliance_reports')"
    expect = { n = "3" }
  }
}

# --- Step 5: Deploy the backend -----------------------------------------------
# The container is cloned with the new image (same ports, env, restart
# policy), the old one parked; rollback brings the old one back.

step "docker_service_update" "deploy_backend" {
  container      = var.container
  image          = local.image_new
  pull           = "never"
  health_timeout = "30s"
  health_url     = "${var.backend_url}/api/v1/health"
  stop_timeout   = "5s"
}

gate "check" "backend_healthy" {
  every   = "500ms"
  timeout = "30s"
  check "container" {
    probe     = "docker_inspect"
    container = var.container
    condition = self.health == "healthy" && self.image == local.image_new
  }
}

# The soaks judge rates over a few scrapes: right after the swap Prometheus
# may hold no sample of the new container in the window yet, and an empty
# answer is inconclusive. Wait until it sees the new container's traffic.
gate "check" "metrics_flowing" {
  every   = "500ms"
  timeout = "30s"
  check "error_rate" {
    probe     = "prometheus_query"
    query     = var.error_rate_query
    no_data   = "wait"
    condition = self.value >= 0
  }
}

# --- Step 7: Health checks ----------------------------------------------------

phase "health" {
  step "http_check" "backend_version" {
    url    = "/api/v1/health"
    expect = { status = "healthy", version = var.version, database = "connected" }
    retry {
      attempts = 5
      delay    = "500ms"
    }
  }

  step "docker_exec" "self_check" {
    container = var.container
    command   = ["/dcmms-backend", "-healthcheck"]
    read_only = true
  }

  step "postgres_ping" "db_ping" {}

  step "docker_logs_check" "backend_logs" {
    container = var.container
    pattern   = "panic|fatal"
    since     = "run"
  }
}

gate "approval" "go_no_go_health" {
  message   = "Go/No-Go: all health checks passed on ${var.version}. Run the smoke tests?"
  approvers = var.approvers
  timeout   = "1m"
}

# --- Step 8: Smoke tests: login -> token -> work orders -> ... ----------------

phase "smoke" {
  step "http_request" "login" {
    method            = "POST"
    url               = "/api/v1/auth/login"
    body              = { email = var.smoke_user, password = var.smoke_password }
    extract           = { token = "token" }
    sensitive_outputs = ["token"]
  }

  step "http_check" "work_orders" {
    url     = "/api/v1/work-orders"
    headers = { Authorization = "Bearer ${step.login.extracted.token}" }
    match   = { "data" = { exists = true }, "pagination" = { exists = true } }
  }

  step "http_check" "compliance_reports" {
    url     = "/api/v1/compliance/reports"
    headers = { Authorization = "Bearer ${step.login.extracted.token}" }
    match   = { "data" = { exists = true } }
  }

  step "http_check" "ml_predict" {
    method  = "POST"
    url     = "/api/v1/ml/predict/anomaly"
    headers = { Authorization = "Bearer ${step.login.extracted.token}" }
    body    = { sensor_id = "INV-001", values = [41.5, 41.7, 41.6, 41.9] }
    match   = { "anomaly" = { exists = true } }
  }
}

# --- Step 9: Gradual traffic ramp-up ------------------------------------------
# 10% -> 50% -> 100%, each phase held var.soak: p95 < 200 ms, error rate < 1%.

phase "ramp" {
  for_each = var.ramp

  step "elbv2_weights" "traffic" {
    rule_arn = var.rule_arn
    weights  = { (var.old_tg_arn) = 100 - each.value, (var.new_tg_arn) = each.value }
  }

  gate "soak" "soak" {
    duration = var.soak
    every    = var.every
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
  }
}

# The seed's rollback criteria, watched from the first traffic shift until
# maintenance mode is off.
gate "guard" "rollback_criteria" {
  from  = step.traffic[10]
  until = step.maintenance_off
  every = var.every
  check "error_rate" {
    probe         = "prometheus_query"
    query         = var.error_rate_query
    condition     = self.value < 0.05
    error_message = "error rate is above 5%"
  }
  check "latency" {
    probe         = "prometheus_query"
    query         = var.p95_query
    condition     = self.value < max(step.baseline_p95.value * 1.5, var.p95_floor)
    error_message = "performance degraded by more than 50% against the pre-deployment p95"
  }
}

# --- Step 10: Monitoring & validation ("Rollback Point: No (monitor)") -------

phase "monitoring" {
  step "slack_message" "monitoring_started" {
    text               = "Release 2 (v${var.version}) takes 100% of the traffic. Monitoring; from now on a rollback is a decision of the Deployment Lead."
    fail_on_error      = true
    point_of_no_return = true
  }

  gate "soak" "monitor" {
    duration = var.soak
    every    = var.every
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
  }
}

# --- Step 11: Disable maintenance mode ----------------------------------------

phase "maintenance_off" {
  step "ssh_exec" "maintenance_off" {
    provider         = ssh.lb
    sudo             = true
    command          = ["rm", "-f", var.maintenance_file]
    rollback_command = ["touch", var.maintenance_file]
  }

  step "statuspage_resolve" "status_resolved" {
    incident_id   = step.status_incident.incident_id
    body          = "Release 2 (v${var.version}) is deployed. All systems operational."
    fail_on_error = true
  }

  step "http_check" "site_live" {
    url    = "/api/v1/health"
    expect = { status = "healthy", version = var.version }
  }

  step "slack_message" "announce" {
    text          = "dCMMS Release 2 (v${var.version}) is live."
    fail_on_error = true
  }
}

output "schema_version" {
  value = step.migrate.to_version
}

output "backend_image" {
  value = step.deploy_backend.image
}

output "previous_image" {
  value = step.deploy_backend.previous_image
}

output "incident" {
  value = step.status_incident.incident_id
}

output "backup" {
  value = step.backup_upload.key
}
