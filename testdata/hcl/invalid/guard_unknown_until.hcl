runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key = "k"
}

gate "guard" "g" {
  from  = step.a
  until = step.maintenance_of
  check "c" {
    metric    = "m"
    condition = self.value < 1
  }
}

step "demo_read" "maintenance_off" {
  key = "k"
}
