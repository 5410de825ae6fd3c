runbook "t" {}

provider "demo" "a" {}

provider "demo" "b" {}

step "demo_read" "r" {
  key = "k"
}
