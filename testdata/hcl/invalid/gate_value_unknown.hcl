runbook "t" {}

provider "demo" "main" {}

gate "approval" "go" {
  message = "go?"
}

step "demo_read" "b" {
  key = gate.go.approvd ? "a" : "b"
}
