# local-release.hcl in the sandbox: the same release against the stateful
# fakes of every provider on a simulated clock, instead of the real Docker
# engine, PostgreSQL, sshd and Prometheus that local_release_test.go starts.
# It gives `handrail test` its scenarios and `handrail test -every-failure`
# the world its rollback matrix starts from:
#
#   handrail test examples/local-release
#   handrail test -every-failure examples/local-release
#
# The addresses below name nothing real: every provider reaches its fake.

variables {
  container       = "dcmms-backend"
  backend_url     = "http://backend.local:38080"
  prometheus_url  = "http://prometheus.local:9090"
  ssh_host        = "lb.local"
  ssh_user        = "deploy"
  ssh_key_file    = "/sandbox/id_ed25519"
  ssh_known_hosts = "/sandbox/known_hosts"

  maintenance_file = "/etc/nginx/maintenance.on"
  database_url     = "postgres://dcmms:placeholder@db.local:5432/dcmms"
  backup_dir       = "/var/backups/dcmms"

  aws_access_key_id     = "AKIASANDBOX"
  aws_secret_access_key = "placeholder-secret"
  s3_endpoint           = "http://s3.local"
  elbv2_endpoint        = "http://elbv2.local"
  backup_bucket         = "dcmms-backups"
  rule_arn              = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/dcmms/1/2/3"
  old_tg_arn            = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dcmms-blue/1"
  new_tg_arn            = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dcmms-green/2"

  statuspage_url     = "http://statuspage.local"
  statuspage_page_id = "dcmms"
  statuspage_api_key = "placeholder-statuspage-key"
  slack_webhook_url  = "http://slack.local/hooks/placeholder"
  smoke_password     = "placeholder-smoke-password"
}

world {
  docker_images = ["dcmms/backend:0.3.0"]

  docker_container {
    name  = var.container
    image = "dcmms/backend:0.2.9"
    logs  = ["listening on :8080"]
  }

  postgres {
    version = 14
    query {
      sql     = "SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('ml_features', 'analytics_views', 'compliance_reports')"
      columns = ["n"]
      rows    = [[3]]
    }
  }

  s3_bucket {
    name = var.backup_bucket
  }
  s3_object {
    bucket = var.backup_bucket
    key    = "production/postgres_full_${test.today}_010000.dump"
    age    = "1h"
  }

  elbv2_rule {
    arn     = var.rule_arn
    weights = { (var.old_tg_arn) = 100, (var.new_tg_arn) = 0 }
  }

  prometheus {
    query = var.p95_query
    value = 0.004
  }
  prometheus {
    query = var.error_rate_query
    value = 0
  }

  http {
    host = "backend.local"
    path = "/api/v1/health"
    json = { status = "healthy", version = "0.2.9", database = "connected" }
    at {
      node = "deploy_backend"
      json = { status = "healthy", version = "0.3.0", database = "connected" }
    }
  }
  http {
    host   = "backend.local"
    method = "POST"
    path   = "/api/v1/auth/login"
    json   = { token = "sandbox-session-token" }
  }
  http {
    host = "backend.local"
    path = "/api/v1/work-orders"
    json = { data = [{ id = "WO-1001" }], pagination = { page = 1, total = 1 } }
  }
  http {
    host = "backend.local"
    path = "/api/v1/compliance/reports"
    json = { data = [] }
  }
  http {
    host   = "backend.local"
    method = "POST"
    path   = "/api/v1/ml/predict/anomaly"
    json   = { anomaly = false, score = 0.07 }
  }

  ssh_host {
    host = var.ssh_host
    dirs = ["/etc/nginx"]
  }
}

scenario "happy_path" {
  description = "The whole release: 0.3.0 runs, schema 017, all traffic on the new target group, maintenance off, incident resolved, backup in S3."
  expect {
    status      = "succeeded"
    compensated = []
    world {
      docker_container {
        name  = var.container
        image = "dcmms/backend:0.3.0"
      }
      postgres_version = 17
      elbv2_rule {
        arn     = var.rule_arn
        weights = { (var.old_tg_arn) = 0, (var.new_tg_arn) = 100 }
      }
      ssh_file {
        host   = var.ssh_host
        path   = var.maintenance_file
        exists = false
      }
      s3_object {
        bucket = var.backup_bucket
        prefix = "production/pre-release-2/"
        exists = true
      }
      statuspage_incidents = 1
      statuspage_open      = 0
      slack_messages       = 2
    }
  }
}

scenario "soak_breach_at_50" {
  description = "0.3.0 fails API calls during the 50% soak (TestLocalReleaseRollback on the real components): everything is undone in reverse order; the backup stays in S3."
  world {
    prometheus {
      query = var.error_rate_query
      value = 0
      at {
        node  = "soak[50]"
        after = "1s"
        value = 0.3
      }
    }
  }
  expect {
    status         = "rolled_back"
    error_contains = "error rate is above"
    compensated    = ["traffic[50]", "traffic[10]", "deploy_backend", "migrate", "backup_upload", "maintenance_page", "status_incident"]
    not_executed   = ["traffic[100]", "monitoring_started", "maintenance_off"]
    world {
      docker_container {
        name  = var.container
        image = "dcmms/backend:0.2.9"
      }
      postgres_version = 14
      elbv2_rule {
        arn     = var.rule_arn
        weights = { (var.old_tg_arn) = 100, (var.new_tg_arn) = 0 }
      }
      ssh_file {
        host   = var.ssh_host
        path   = var.maintenance_file
        exists = false
      }
      s3_object {
        bucket = var.backup_bucket
        prefix = "production/pre-release-2/"
        exists = true
      }
      statuspage_incidents = 1
      statuspage_open      = 0
    }
  }
}

scenario "lost_answer_at_10" {
  description = "The load balancer applies 90/10 and the answer is lost: the step's own rollback restores 100/0 from its checkpoint, and the rest is undone."
  fault {
    node = "step.traffic[10]"
    mode = "after_effect"
  }
  expect {
    status       = "rolled_back"
    compensated  = ["traffic[10]", "deploy_backend", "migrate", "backup_upload", "maintenance_page", "status_incident"]
    not_executed = ["soak[10]", "traffic[50]"]
    world {
      elbv2_rule {
        arn     = var.rule_arn
        weights = { (var.old_tg_arn) = 100, (var.new_tg_arn) = 0 }
      }
      docker_container {
        name  = var.container
        image = "dcmms/backend:0.2.9"
      }
      postgres_version = 14
      statuspage_open  = 0
    }
  }
}

scenario "crash_after_migrate" {
  description = "The process dies right after the migrations, before their end is recorded; a new process resumes from the journal and completes the release."
  crash_after = "step.migrate"
  expect {
    status = "succeeded"
    world {
      docker_container {
        name  = var.container
        image = "dcmms/backend:0.3.0"
      }
      postgres_version = 17
      elbv2_rule {
        arn     = var.rule_arn
        weights = { (var.old_tg_arn) = 0, (var.new_tg_arn) = 100 }
      }
      statuspage_open = 0
    }
  }
}
