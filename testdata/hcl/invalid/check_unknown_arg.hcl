runbook "t" {}

provider "demo" "main" {}

gate "check" "g" {
  check "c" {
    metrc     = "m"
    condition = self.value > 0
  }
}
