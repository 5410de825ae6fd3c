runbook "t" {}

provider "demo" "main" {}

phase "ramp" {
  for_each = [10, 50]
  step "demo_set" "shift" {
    key   = "w"
    value = "${each.value}"
  }
}

step "demo_read" "after" {
  key = step.shift.previous
}
