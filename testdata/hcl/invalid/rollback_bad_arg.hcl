runbook "t" {}

provider "demo" "main" {}

step "demo_exec" "a" {
  command = ["x"]
  rollback "demo_exec" {
    command = self.missing
  }
}
