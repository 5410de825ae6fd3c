runbook "t" {}

provider "demo" "main" {
  endpont = "x"
}
