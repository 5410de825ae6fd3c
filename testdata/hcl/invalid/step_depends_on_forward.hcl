runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key        = "k"
  depends_on = [step.b]
}

step "demo_read" "b" {
  key = "k"
}
