runbook "gates" {
  description = "Every gate knob: limits, dry runs, guards"
  on_failure  = "rollback"
}

provider "demo" "main" {}

step "demo_read" "baseline" {
  key = "p95"
}

step "demo_set" "traffic_10" {
  key   = "weight"
  value = "10"
}

gate "guard" "error_budget" {
  from            = step.traffic_10
  until           = step.maintenance_off
  every           = "15s"
  on_inconclusive = "continue"
  check "errors" {
    metric    = "errors"
    condition = self.value < 0.05
  }
  check "latency" {
    metric    = "p95"
    condition = self.value < 1.5 * tonumber(step.baseline.value)
    no_data   = "wait"
  }
}

gate "check" "healthy" {
  every         = "5s"
  initial_delay = "10s"
  timeout       = "2m"
  check "up" {
    metric        = "health"
    success       = self.value == 1
    error_limit   = 3
    error_message = "the service did not come up"
  }
}

gate "soak" "watch" {
  duration        = "15m"
  every           = "30s"
  tolerate        = 1
  on_fail         = "pause"
  on_inconclusive = "rollback"
  check "error_rate" {
    metric             = "errors"
    success            = self.value < 0.01
    failure            = self.value > 0.05
    failure_limit      = 2
    inconclusive_limit = 3
    no_data            = "fail"
  }
  check "new_threshold" {
    metric    = "errors"
    condition = self.value < 0.005
    threshold = "< 0.5%"
    dry_run   = true
  }
}

gate "soak" "count_only" {
  every = "1m"
  count = 5
  check "latency" {
    metric    = "p95"
    condition = self.latency < 200
    count     = 5
  }
}

gate "approval" "go" {
  message    = "Errors stayed low. Open to everyone?"
  approvers  = ["lead", "sre"]
  timeout    = "30m"
  on_timeout = "approve"
  on_fail    = "abort"
}

step "demo_set" "maintenance_off" {
  key                = "maintenance"
  value              = "off"
  point_of_no_return = true
  idempotent         = true
  on_fail            = "continue"
}
