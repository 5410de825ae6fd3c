runbook "t" {}

provider "demo" "main" {}

gate "check" "g" {
  duration = "1m"
  check "c" {
    metric    = "m"
    condition = self.value > 0
  }
}
