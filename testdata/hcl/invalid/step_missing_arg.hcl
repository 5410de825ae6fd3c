runbook "t" {}

provider "demo" "main" {}

step "demo_set" "a" {
  key = "k"
}
