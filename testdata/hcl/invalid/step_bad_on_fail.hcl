runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key     = "k"
  on_fail = "rollbak"
}
