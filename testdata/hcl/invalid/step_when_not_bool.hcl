runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key  = "k"
  when = "yes"
}
