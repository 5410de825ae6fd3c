runbook "t" {}

provider "demo" "main" {}

step "demo_read" "r" {
  provider = demo.mian
  key      = "k"
}
