runbook "t" {}

provider "demo" "main" {}

step "demo_read" "1st" {
  key = "k"
}
