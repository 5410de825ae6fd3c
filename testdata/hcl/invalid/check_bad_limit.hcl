runbook "t" {}

provider "demo" "main" {}

gate "soak" "g" {
  duration = "1m"
  check "c" {
    metric        = "m"
    condition     = self.value < 1
    failure_limit = -1
  }
}
