# A runbook written by hand from the constructs `handrail import` knows.
runbook "known-constructs" {
  description = "Known constructs"
  window      = "1h"
}

variable "web_host" {
  type = string
}

variable "site_url" {
  type = string
}

variable "version" {
  type = string
}

variable "token" {
  type      = string
  sensitive = true
}

provider "ssh" "web" {
  host = var.web_host
  user = "deploy"
}

provider "docker" "web" {
  via = ssh.web
}

provider "http" "site" {
  base_url = var.site_url
}

provider "exec" "local" {}

provider "manual" "team" {}

step "manual_checklist" "ready" {
  provider = manual.team
  items    = ["Change approved", "On-call paged"]
  budget   = "2m"
}

phase "deploy" {
  description = "Deploy the web tier"

  step "ssh_exec" "drain" {
    provider    = ssh.web
    description = "Drain the node"
    script      = "sudo touch /etc/web/drain && sleep 10"
    budget      = "5m"
    rollback "ssh_exec" {
      provider = ssh.web
      script   = "sudo rm -f /etc/web/drain"
    }
  }

  step "docker_service_update" "web" {
    provider = docker.web
    service  = "web"
    image    = "example/web:${var.version}"
    budget   = "10m"
  }

  step "http_check" "health" {
    provider      = http.site
    url           = "/healthz"
    headers       = { Authorization = "Bearer ${var.token}" }
    expect_status = 200
    budget        = "1m"
  }

  gate "approval" "go_no_go" {
    message   = "Go/No-Go: the Release Manager confirms the web tier is healthy"
    approvers = ["release-manager"]
    budget    = "5m"
  }
}

phase "finish" {
  step "local_exec" "announce" {
    provider           = exec.local
    command            = ["bash", "-c", "echo deployed ${var.version}"]
    read_only          = true
    point_of_no_return = true
    budget             = "1m"
  }

  step "manual_task" "watch" {
    provider = manual.team
    message  = "Watch the dashboards for ten minutes"
    budget   = "10m"
  }
}
