runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key = step.b.value
}

step "demo_read" "b" {
  key = "k"
}
