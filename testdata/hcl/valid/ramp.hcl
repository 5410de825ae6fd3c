# vars: version=0.3.0
runbook "ramp" {
  description = "Demo release with a ramp"
  window      = "4h"
}

variable "version" {
  type = string
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.version))
    error_message = "version must look like 1.2.3"
  }
}

variable "token" {
  type      = string
  sensitive = true
  default   = "hunter2-very-secret"
}

variable "weights" {
  type    = list(number)
  default = [10, 50, 100]
}

locals {
  image = "app:${var.version}"
  auth  = "Bearer ${var.token}"
}

provider "demo" "lb" {
  endpoint = "https://lb.example"
  token    = var.token
}

provider "demo" "app" {
  via = demo.lb
}

phase "prepare" {
  step "demo_set" "maintenance_on" {
    provider = demo.lb
    key      = "maintenance"
    value    = "on"
    secret   = local.auth
    timeout  = "5m"
    budget   = "5m"
  }

  step "demo_exec" "backup" {
    provider = demo.app
    command  = ["backup", var.version]
    retry {
      attempts = 3
      delay    = "10s"
    }
    rollback "demo_exec" {
      command = ["delete-backup", self.stdout]
    }
  }
}

phase "deploy" {
  step "demo_set" "image" {
    provider   = demo.app
    key        = "image"
    value      = local.image
    depends_on = [step.backup]
    tags = {
      previous = step.maintenance_on.previous
    }
  }

  gate "check" "healthy" {
    every   = "10s"
    timeout = "5m"
    check "up" {
      probe     = "demo_metric"
      provider  = demo.app
      metric    = "health"
      condition = self.value >= 1
    }
  }
}

phase "ramp" {
  for_each = var.weights

  step "demo_set" "shift" {
    provider = demo.lb
    key      = "weight"
    value    = tostring(each.value)
  }

  gate "soak" "watch" {
    duration = "15m"
    every    = "30s"
    check "errors" {
      probe         = "demo_metric"
      provider      = demo.app
      metric        = "errors"
      success       = self.value < 0.01
      failure       = self.value > 0.05
      failure_limit = 2
      error_message = "error rate too high"
    }
  }
}

gate "approval" "go" {
  message   = "Shift done, keep ${var.version}?"
  approvers = ["lead"]
  timeout   = "30m"
}

step "demo_read" "final" {
  provider = demo.lb
  key      = "weight"
  when     = gate.go.approved
}

output "final_weight" {
  value = step.final.value
}

output "last_shift" {
  value = step.shift[100].previous
}
