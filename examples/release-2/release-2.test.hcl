# Scenarios of release-2.hcl, run against the stateful fakes of every
# provider on a simulated clock (4 hours play in milliseconds):
#
#   handrail test examples/release-2          # go test -run TestScenarios ./examples/release-2
#
# The idea of Terraform's .tftest.hcl with mock providers, for runbooks:
#
#   runbook = "release-2.hcl"      # optional: NAME.test.hcl tests NAME.hcl
#   start   = "2026-01-04T02:00:00Z"  # optional: when the simulated clock starts
#
#   variables { name = value }     # -var values for every scenario; var.* here
#                                  # also sees the runbook's *.auto.hclvars
#   world { ... }                  # the fake world every scenario starts from;
#                                  # `handrail apply --sandbox` rehearses in it too
#
#   scenario "name" {
#     description = "..."
#     variables { ... }            # overrides for this scenario
#     world { ... }                # added to the file's world ("0.3.0 is unhealthy")
#     fail        = ["step.x", "gate.y"]  # a step fails, a gate breaches at once
#     deny        = ["gate.go_no_go_start"]  # the approver says no (approval gates, manual tasks)
#     silence     = ["gate.go_no_go_health"] # nobody answers: the gate times out
#     crash_after = "step.traffic[50]"   # the process dies after that node; a new one resumes
#     resume {                           # fails at X, edited, resumed: once the run ended,
#       runbook      = "fixed.hcl"       #   a new process resumes it (default: this runbook)
#       from         = "step.migrate"    #   from a node (rerun = [...] for completed ones)
#       force        = true              #   accept unsafe changes, with
#       reason       = "..."             #   a reason
#       first_status = "aborted"         #   how the first run must have ended
#       world { ... }                    #   what the fix changed outside the runbook
#     }                                  # expect is then about the resumed process
#     fault {                            # repeatable: a node-level fault
#       node    = "step.traffic[10]"
#       mode    = "after_effect"           # before_effect, after_effect, timeout, latency
#       latency = "30s"                    # with mode = "latency"
#     }
#     expect {
#       status         = "succeeded"   # rolled_back, aborted, halted, rollback_incomplete, interrupted
#       executed       = [...]         # nodes in the order they started
#       not_executed   = [...]
#       compensated    = ["a", ["b", "c"], "d"]  # a nested list: any order (parallel branches)
#       pending        = [...]         # what is left to undo (halted, aborted)
#       error_contains = "..."
#       max_simulated  = "4h"
#       world { ... }                  # the fake world's final state
#     }
#   }
#
# A world block holds (all repeatable):
#   docker_images = [refs]  docker_unhealthy = [refs]  docker_pull_fails = { ref = "message" }
#   docker_container { name, image, project, service, logs = [lines] }
#   docker_exec { container, command = [argv] (absent: any), exit_code, stdout, stderr }
#   postgres { version, fail_migrations = { "16" = "message" }, fail_migrations_down, fixed_migrations, unreachable,
#              query { sql, columns, rows } }
#   s3_bucket { name, versioned }   s3_object { bucket, key, content, age = "3h" }
#   elbv2_rule { arn, weights = { tg_arn = weight } }
#   prometheus { query, value, no_data, at { node = "soak[50]", after = "9m", value } }
#   http { host, method, path, status, json | body, latency, at { node, after, status, json | body } }
#   ssh_host { host, files = { path = content }, dirs, symlinks = { link = target }, down }
#   ssh_reply { host, command = [argv patterns, "..." = any rest] | script = "substring", stdout, stderr, exit_code, times }
#   exec_reply { command, stdout, stderr, exit_code, times }   k6 { summary = file(...), exit_code }
# and an expect's world block:
#   docker_container { name, image, running, health }   postgres_version = 17
#   elbv2_rule { arn, weights }   s3_object { bucket, key | prefix, exists }
#   ssh_file { host, path, exists }   statuspage_open = 0   statuspage_incidents = 1
#   slack_messages = 2   email_subjects = [...]
#
# In the sandbox, an ssh host runs a script as its `&&`-separated commands,
# and `aws s3 cp|sync|rm` there act on the fake S3.

world {
  docker_images = [
    "dcmms/backend:0.3.0", "dcmms/ml-service:0.3.0", "dcmms/mqtt-bridge:0.3.0", "dcmms/frontend:0.3.0",
  ]

  docker_container {
    name    = "dcmms-backend"
    image   = "dcmms/backend:0.2.9"
    project = "dcmms"
    service = "backend"
    logs    = ["server listening on :3000", "connected to postgres"]
  }
  docker_container {
    name    = "dcmms-ml-service"
    image   = "dcmms/ml-service:0.2.9"
    project = "dcmms"
    service = "ml-service"
  }
  docker_container {
    name    = "dcmms-mqtt-bridge"
    image   = "dcmms/mqtt-bridge:0.2.9"
    project = "dcmms"
    service = "mqtt-bridge"
  }
  docker_container {
    name    = "dcmms-frontend"
    image   = "dcmms/frontend:0.2.9"
    project = "dcmms"
    service = "frontend"
  }

  postgres {
    version = 14
    query {
      sql     = "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('ml_features', 'analytics_views')"
      columns = ["count"]
      rows    = [[2]]
    }
  }

  s3_bucket {
    name = var.backup_bucket
  }
  s3_bucket {
    name = var.assets_bucket
  }
  s3_object {
    bucket = var.backup_bucket
    key    = "production/postgres_full_${test.today}_010000.sql.gz"
    age    = "1h"
  }

  elbv2_rule {
    arn     = var.rule_arn
    weights = { (var.old_tg_arn) = 100, (var.new_tg_arn) = 0 }
  }

  prometheus {
    query = var.p95_query
    value = 0.12
  }
  prometheus {
    query = var.error_rate_query
    value = 0.002
  }
  prometheus {
    query = var.request_rate_query
    value = 850
  }
  # The new version's p95 and the old one's, for the canary comparison.
  prometheus {
    query = format(var.p95_by_version_query, var.version)
    value = 0.118
  }
  prometheus {
    query = format(var.p95_by_version_query, var.previous_version)
    value = 0.121
  }

  http {
    host = "staging.dcmms.com"
    path = "/api/v1/health"
    json = { status = "healthy", version = "0.3.0" }
  }
  http {
    host   = "dcmms.com"
    path   = "/"
    status = 503
    body   = "dCMMS is down for scheduled maintenance"
    at {
      node   = "maintenance_off"
      status = 200
      body   = "<!doctype html><title>dCMMS</title>"
    }
  }
  http {
    host   = "dcmms.com"
    path   = "/api/v1/health"
    status = 503
    body   = "dCMMS is down for scheduled maintenance"
  }
  http {
    host   = "dcmms.com"
    method = "POST"
    path   = "/api/v1/auth/login"
    json   = { token = "sandbox-session-token-7f3a" }
  }
  http {
    host = "dcmms.com"
    path = "/api/v1/work-orders"
    json = { data = [{ id = "WO-1001" }], pagination = { page = 1, total = 1 } }
  }
  http {
    host = "dcmms.com"
    path = "/api/v1/compliance/reports"
    json = { data = [] }
  }
  http {
    host   = "dcmms.com"
    method = "POST"
    path   = "/api/v1/ml/predict/anomaly"
    json   = { anomaly = false, score = 0.07 }
  }

  ssh_host {
    host  = var.lb_host
    files = { "/etc/nginx/sites-available/maintenance.conf" = "return 503;\n" }
    dirs  = ["/etc/nginx/sites-enabled"]
  }
  ssh_reply {
    host    = var.db_host
    command = ["ls", "-1t", "/opt/dcmms/backups/postgres/full"]
    stdout  = "postgres_full_${test.today}_021500.sql.gz\npostgres_full_20260103_021500.sql.gz\n"
  }

  k6 {
    summary = file("testdata/k6-smoke-summary.json")
  }
}

scenario "happy_path" {
  description = "The whole release: 0.3.0 runs, schema 017, all traffic on the new target group, maintenance off, incident resolved."
  expect {
    status        = "succeeded"
    max_simulated = "4h"
    compensated   = []
    world {
      docker_container {
        name  = "dcmms-backend"
        image = "dcmms/backend:0.3.0"
      }
      docker_container {
        name  = "dcmms-ml-service"
        image = "dcmms/ml-service:0.3.0"
      }
      docker_container {
        name  = "dcmms-mqtt-bridge"
        image = "dcmms/mqtt-bridge:0.3.0"
      }
      docker_container {
        name  = "dcmms-frontend"
        image = "dcmms/frontend:0.3.0"
      }
      postgres_version = 17
      elbv2_rule {
        arn     = var.rule_arn
        weights = { (var.old_tg_arn) = 0, (var.new_tg_arn) = 100 }
      }
      ssh_file {
        host   = var.lb_host
        path   = "/etc/nginx/sites-enabled/maintenance.conf"
        exists = false
      }
      s3_object {
        bucket = var.backup_bucket
        key    = "production/pre-release-2/postgres_full_${test.today}_021500.sql.gz"
        exists = true
      }
      s3_object {
        bucket = var.assets_bucket
        prefix = "0.3.0/"
        exists = true
      }
      statuspage_incidents = 1
      statuspage_open      = 0
      email_subjects       = ["[dCMMS] Release 2 Deployment Complete"]
    }
  }
}

scenario "backup_fails" {
  description = "If the backup fails, abort: maintenance is switched off again and nothing else is touched."
  world {
    ssh_reply {
      host      = var.db_host
      command   = ["/opt/dcmms/scripts/backup/backup-postgres-full.sh"]
      stderr    = "pg_dump: error: connection to server failed"
      exit_code = 1
    }
  }
  expect {
    status = "rolled_back"
    executed = [
      "week_before", "two_days_before", "day_before",
      ["roll_call", "staging_health", "todays_backup", "running_version", "baseline_p95", "baseline_error_rate"],
      ["image_backend", "image_ml_service", "image_mqtt_bridge", "image_frontend"],
      "go_no_go_start", "kickoff", "status_incident", "maintenance_page", "maintenance_live", "db_backup",
    ]
    compensated  = ["maintenance_page", "status_incident", "kickoff"]
    not_executed = ["backup_upload", "migrate", "deploy_backend", "traffic[10]"]
    world {
      postgres_version = 14
      docker_container {
        name  = "dcmms-backend"
        image = "dcmms/backend:0.2.9"
      }
      elbv2_rule {
        arn     = var.rule_arn
        weights = { (var.old_tg_arn) = 100, (var.new_tg_arn) = 0 }
      }
      ssh_file {
        host   = var.lb_host
        path   = "/etc/nginx/sites-enabled/maintenance.conf"
        exists = false
      }
      s3_object {
        bucket = var.backup_bucket
        prefix = "production/pre-release-2/"
        exists = false
      }
      statuspage_incidents = 1
      statuspage_open      = 0
    }
  }
}

scenario "migration_016_fails" {
  description = "Migration 016 fails: migrate down to 014 (rollback_on_failure), maintenance off."
  world {
    postgres {
      fail_migrations = { "16" = "syntax error at or near \"VEIW\"" }
    }
  }
  expect {
    status         = "rolled_back"
    error_contains = "016"
    # backup_upload and the config snapshot are kept: they are irreversible,
    # so nothing compensates them.
    compensated  = ["migrate", "maintenance_page", "status_incident", "kickoff"]
    not_executed = ["deploy_backend", "deploy_frontend"]
    world {
      postgres_version = 14
      docker_container {
        name  = "dcmms-backend"
        image = "dcmms/backend:0.2.9"
      }
      ssh_file {
        host   = var.lb_host
        path   = "/etc/nginx/sites-enabled/maintenance.conf"
        exists = false
      }
      s3_object {
        bucket = var.backup_bucket
        key    = "production/pre-release-2/postgres_full_${test.today}_021500.sql.gz"
        exists = true
      }
      statuspage_open = 0
    }
  }
}

scenario "migration_016_fixed_and_resumed" {
  description = "Migration 016 fails on a typo; the release stops there (migration_failure = abort), the SQL is fixed, and the release resumes from the migration: 016 and 017 apply, the backup is not taken again, the release succeeds."
  variables {
    migration_failure = "abort"
  }
  world {
    postgres {
      fail_migrations = { "16" = "syntax error at or near \"VEIW\"" }
    }
  }
  resume {
    from         = "step.migrate"
    first_status = "aborted"
    reason       = "016: VEIW -> VIEW"
    # The fix is in the migration's SQL file, outside the runbook.
    world {
      postgres {
        fixed_migrations = ["16"]
      }
    }
  }
  expect {
    status       = "succeeded"
    not_executed = ["db_backup", "backup_verify", "backup_upload", "config_snapshot", "maintenance_page", "migrate_dry_run"]
    compensated  = []
    world {
      postgres_version = 17
      docker_container {
        name  = "dcmms-backend"
        image = "dcmms/backend:0.3.0"
      }
    }
  }
}

scenario "image_unhealthy" {
  description = "Image 0.3.0 of the backend never becomes healthy: its update restores 0.2.9, the other services and the schema roll back."
  world {
    docker_unhealthy = ["dcmms/backend:0.3.0"]
  }
  expect {
    # The failure cancels the sibling updates in flight (each puts its
    # previous container back) or, if they finished first, compensates
    # them: which one depends on timing, so the world is what is asserted.
    status       = "rolled_back"
    not_executed = ["deploy_frontend", "traffic[10]"]
    world {
      docker_container {
        name  = "dcmms-backend"
        image = "dcmms/backend:0.2.9"
      }
      docker_container {
        name  = "dcmms-ml-service"
        image = "dcmms/ml-service:0.2.9"
      }
      docker_container {
        name  = "dcmms-mqtt-bridge"
        image = "dcmms/mqtt-bridge:0.2.9"
      }
      postgres_version = 14
      statuspage_open  = 0
    }
  }
}

scenario "health_check_fails" {
  description = "The database ping from the new backend fails: images back to 0.2.9, schema 014."
  world {
    docker_exec {
      container = "dcmms-backend"
      command   = ["npm", "run", "db:ping"]
      exit_code = 1
      stderr    = "ECONNREFUSED 10.0.3.12:5432"
    }
  }
  expect {
    status       = "rolled_back"
    compensated  = ["nginx_reload", "deploy_frontend", "frontend_assets", ["deploy_backend", "deploy_ml_service", "deploy_mqtt_bridge"], "migrate", "maintenance_page", "status_incident", "kickoff"]
    not_executed = ["smoke_k6", "traffic[10]"]
    world {
      docker_container {
        name  = "dcmms-backend"
        image = "dcmms/backend:0.2.9"
      }
      docker_container {
        name  = "dcmms-ml-service"
        image = "dcmms/ml-service:0.2.9"
      }
      docker_container {
        name  = "dcmms-mqtt-bridge"
        image = "dcmms/mqtt-bridge:0.2.9"
      }
      docker_container {
        name  = "dcmms-frontend"
        image = "dcmms/frontend:0.2.9"
      }
      postgres_version = 14
      s3_object {
        bucket = var.assets_bucket
        prefix = "0.3.0/"
        exists = false
      }
      statuspage_open = 0
    }
  }
}

scenario "canary_slower_than_baseline_at_10" {
  description = "Four minutes into the 10% soak the new version's p95 rises to 160 ms: under the 200 ms limit, but a third above the old version's, so the canary comparison fails the soak and everything is undone."
  world {
    prometheus {
      query = format(var.p95_by_version_query, var.version)
      value = 0.118
      at {
        node  = "soak[10]"
        after = "4m"
        value = 0.16
      }
    }
  }
  expect {
    status         = "rolled_back"
    error_contains = "p95_vs_baseline breached"
    compensated    = ["traffic[10]", "nginx_reload", "deploy_frontend", "frontend_assets", ["deploy_backend", "deploy_ml_service", "deploy_mqtt_bridge"], "migrate", "maintenance_page", "status_incident", "kickoff"]
    not_executed   = ["traffic[50]", "maintenance_off"]
    world {
      elbv2_rule {
        arn     = var.rule_arn
        weights = { (var.old_tg_arn) = 100, (var.new_tg_arn) = 0 }
      }
      postgres_version = 14
    }
  }
}

scenario "lost_answer_at_10" {
  description = "The load balancer applies the 90/10 weights and the answer is lost: the step fails after its effect. Its own rollback restores 100/0 from the weights checkpointed before the change, and everything before it is undone."
  fault {
    node = "step.traffic[10]"
    mode = "after_effect"
  }
  expect {
    status         = "rolled_back"
    error_contains = "the effect happened, the answer was lost"
    compensated    = ["traffic[10]", "nginx_reload", "deploy_frontend", "frontend_assets", ["deploy_backend", "deploy_ml_service", "deploy_mqtt_bridge"], "migrate", "maintenance_page", "status_incident", "kickoff"]
    not_executed   = ["soak[10]", "traffic[50]", "maintenance_off"]
    world {
      elbv2_rule {
        arn     = var.rule_arn
        weights = { (var.old_tg_arn) = 100, (var.new_tg_arn) = 0 }
      }
      postgres_version = 14
    }
  }
}

scenario "soak_breach_at_50" {
  description = "The error rate reaches 6% at minute 9 of the 50% soak: everything is undone, in exactly the reverse order."
  world {
    prometheus {
      query = var.error_rate_query
      value = 0.002
      at {
        node  = "soak[50]"
        after = "9m"
        value = 0.06
      }
    }
  }
  expect {
    status         = "rolled_back"
    error_contains = "error rate is above"
    compensated    = ["traffic[50]", "traffic[10]", "nginx_reload", "deploy_frontend", "frontend_assets", ["deploy_backend", "deploy_ml_service", "deploy_mqtt_bridge"], "migrate", "maintenance_page", "status_incident", "kickoff"]
    not_executed   = ["traffic[100]", "monitoring_started", "maintenance_off"]
    world {
      elbv2_rule {
        arn     = var.rule_arn
        weights = { (var.old_tg_arn) = 100, (var.new_tg_arn) = 0 }
      }
      docker_container {
        name  = "dcmms-backend"
        image = "dcmms/backend:0.2.9"
      }
      docker_container {
        name  = "dcmms-ml-service"
        image = "dcmms/ml-service:0.2.9"
      }
      docker_container {
        name  = "dcmms-mqtt-bridge"
        image = "dcmms/mqtt-bridge:0.2.9"
      }
      docker_container {
        name  = "dcmms-frontend"
        image = "dcmms/frontend:0.2.9"
      }
      postgres_version = 14
      ssh_file {
        host   = var.lb_host
        path   = "/etc/nginx/sites-enabled/maintenance.conf"
        exists = false
      }
      statuspage_incidents = 1
      statuspage_open      = 0
      email_subjects       = ["[dCMMS] Release 2 Deployment Rolled Back"]
    }
  }
}

scenario "go_no_go_denied" {
  description = "The Deployment Lead says No-Go after the pre-deployment checks: nothing was touched, nothing to undo."
  deny        = ["gate.go_no_go_start"]
  expect {
    status       = "rolled_back"
    compensated  = []
    not_executed = ["status_incident", "maintenance_page", "migrate"]
    world {
      statuspage_incidents = 0
      postgres_version     = 14
      docker_container {
        name  = "dcmms-backend"
        image = "dcmms/backend:0.2.9"
      }
    }
  }
}

scenario "go_no_go_denied_after_health" {
  description = "No-Go after the health checks: the deployment is rolled back."
  deny        = ["gate.go_no_go_health"]
  expect {
    status       = "rolled_back"
    compensated  = ["nginx_reload", "deploy_frontend", "frontend_assets", ["deploy_backend", "deploy_ml_service", "deploy_mqtt_bridge"], "migrate", "maintenance_page", "status_incident", "kickoff"]
    not_executed = ["smoke_k6"]
    world {
      postgres_version = 14
      docker_container {
        name  = "dcmms-backend"
        image = "dcmms/backend:0.2.9"
      }
      statuspage_open = 0
    }
  }
}

scenario "failure_after_point_of_no_return" {
  description = "p95 degrades during the 30-minute monitoring: the run halts and says how to roll back; nothing is compensated automatically."
  world {
    prometheus {
      query = var.p95_query
      value = 0.12
      at {
        node  = "monitor"
        after = "10m"
        value = 0.5
      }
    }
  }
  expect {
    status       = "halted"
    compensated  = []
    pending      = ["traffic[100]", "traffic[50]", "traffic[10]", "nginx_reload", "deploy_frontend", "frontend_assets", ["deploy_backend", "deploy_ml_service", "deploy_mqtt_bridge"], "migrate", "maintenance_page", "status_incident", "kickoff"]
    not_executed = ["maintenance_off"]
    world {
      docker_container {
        name  = "dcmms-backend"
        image = "dcmms/backend:0.3.0"
      }
      postgres_version = 17
      elbv2_rule {
        arn     = var.rule_arn
        weights = { (var.old_tg_arn) = 0, (var.new_tg_arn) = 100 }
      }
      statuspage_open = 1
    }
  }
}

scenario "crash_mid_ramp" {
  description = "The machine running the release dies right after the 50% shift; a new process resumes from the journal and completes the release."
  crash_after = "step.traffic[50]"
  expect {
    status      = "succeeded"
    compensated = []
    world {
      docker_container {
        name  = "dcmms-backend"
        image = "dcmms/backend:0.3.0"
      }
      postgres_version = 17
      elbv2_rule {
        arn     = var.rule_arn
        weights = { (var.old_tg_arn) = 0, (var.new_tg_arn) = 100 }
      }
      ssh_file {
        host   = var.lb_host
        path   = "/etc/nginx/sites-enabled/maintenance.conf"
        exists = false
      }
      statuspage_open = 0
    }
  }
}

scenario "nobody_answers" {
  description = "Nobody takes the Go/No-Go decision after the health checks: after 15 minutes the gate's default (No-Go) rolls the deployment back."
  silence     = ["gate.go_no_go_health"]
  expect {
    status       = "rolled_back"
    not_executed = ["smoke_k6"]
    world {
      postgres_version = 14
      docker_container {
        name  = "dcmms-backend"
        image = "dcmms/backend:0.2.9"
      }
      statuspage_open = 0
    }
  }
}
