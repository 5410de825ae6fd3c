runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key = "k"
}

locals {
  v = step.a.value
}
