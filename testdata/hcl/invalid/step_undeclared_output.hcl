runbook "t" {}

provider "demo" "main" {}

step "demo_set" "a" {
  key   = "k"
  value = "v"
}

step "demo_read" "b" {
  key = step.a.previus
}
