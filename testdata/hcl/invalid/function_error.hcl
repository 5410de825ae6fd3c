runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key = upper(1, 2)
}
