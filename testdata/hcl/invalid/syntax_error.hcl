runbook "t" {}

step "demo_read" "a" {
  key = "k"
