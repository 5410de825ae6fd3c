runbook "t" {}

provider "demo" "main" {}

step "backup" "demo_read" {
  key = "k"
}

gate "watch" "soak" {
  duration = "1m"
  check "c" {
    metric    = "m"
    condition = self.value < 1
  }
}
