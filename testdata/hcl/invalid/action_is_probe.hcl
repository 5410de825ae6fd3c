runbook "t" {}

provider "demo" "main" {}

step "demo_metric" "a" {
  metric = "m"
}
