runbook "t" {}

provider "demo" "main" {}

gate "approval" "go" {
  message = "go?"
}

step "demo_read" "b" {
  key = step.go.by
}
