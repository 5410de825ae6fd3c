runbook "t" {}

provider "demo" "main" {}

step "demo_read" "maintenance" {
  key = "k"
}

step "demo_read" "b" {
  key = step.maintenace.value
}
