runbook "t" {}

provider "demo" "main" {}

gate "soak" "g" {
  duration = "1m"
  check "c" {
    metric    = "m"
    condition = self.value < 1
    no_data   = "ignore"
  }
}
