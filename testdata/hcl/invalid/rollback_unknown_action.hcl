runbook "t" {}

provider "demo" "main" {}

step "demo_exec" "a" {
  command = ["x"]
  rollback "demo_undo" {
  }
}
