runbook "t" {}

provider "demo" "main" {}

gate "soak" "g" {
  every = "30s"
  check "c" {
    metric    = "m"
    condition = self.value < 1
  }
}
