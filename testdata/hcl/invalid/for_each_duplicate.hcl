runbook "t" {}

provider "demo" "main" {}

phase "p" {
  for_each = ["a", "b", "a"]
  step "demo_read" "a" {
    key = each.value
  }
}
