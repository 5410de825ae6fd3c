runbook "t" {}

provider "demo" "main" {}

phase "p" {
  for_each = 3
  step "demo_read" "a" {
    key = "k"
  }
}
