runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key     = "k"
  timeout = "5 minutes"
}
