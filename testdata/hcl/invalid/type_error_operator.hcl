runbook "t" {}

provider "demo" "main" {}

step "demo_exec" "a" {
  command      = ["x"]
  weight       = "heavy" * 2
  irreversible = true
}
