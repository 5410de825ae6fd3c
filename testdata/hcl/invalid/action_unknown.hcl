runbook "t" {}

provider "demo" "main" {}

step "demo_sett" "a" {
  key   = "k"
  value = "v"
}
