runbook "t" {}

provider "demo" "main" {}

gate "check" "g" {
  check "c" {
    probe     = "demo_read"
    key       = "k"
    condition = self.value == "x"
  }
}
