runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key = "k"
  retry {
    attempts = 2.5
    backoff  = 0.5
  }
}
