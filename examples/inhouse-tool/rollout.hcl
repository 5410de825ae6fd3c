# Roll the new checkout out behind a feature flag, watching the error rate:
# the in-house "flags" provider next to Handrail's standard ones.

runbook "checkout-v2" {
  description = "Roll out checkout v2 behind its feature flag"
  window      = "1h"
}

variable "flag" {
  type    = string
  default = "checkout_v2"
}

variable "error_rate_query" {
  type    = string
  default = "sum(rate(checkout_errors_total[5m])) / sum(rate(checkout_requests_total[5m]))"
}

provider "flags" "main" {
  url = "https://flags.internal.example.com/api"
}

provider "prometheus" "main" {
  url = "http://prometheus.internal.example.com:9090"
}

provider "slack" "team" {
  webhook_url = "https://hooks.slack.com/services/T0000/B0000/placeholder"
}

phase "rollout" {
  for_each = [10, 50, 100]

  step "flag_set" "checkout" {
    flag       = var.flag
    enabled    = true
    percentage = each.value
    budget     = "1m"
  }

  gate "soak" "watch" {
    duration = "10m"
    every    = "30s"
    check "errors" {
      probe         = "prometheus_query"
      query         = var.error_rate_query
      condition     = self.value < 0.01
      error_message = "checkout error rate above 1%"
    }
  }
}

step "slack_message" "announce" {
  text = "Checkout v2 is on for everyone."
}
