runbook "t" {}

provider "demo" "main" {}

phase "p" {
  for_each = [10, 50]
  step "demo_read" "shift" {
    key = "w${each.value}"
  }
}

step "demo_read" "after" {
  key = step.shift[20].value
}
