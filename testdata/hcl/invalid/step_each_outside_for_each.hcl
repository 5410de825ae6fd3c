runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key = each.value
}
