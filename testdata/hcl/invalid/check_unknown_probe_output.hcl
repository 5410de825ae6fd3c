runbook "t" {}

provider "demo" "main" {}

gate "check" "g" {
  check "c" {
    metric    = "m"
    condition = self.latncy < 10
  }
}
