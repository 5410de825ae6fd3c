runbook "t" {}

provider "demo" "main" {}

gate "check" "g" {
  timeout = "1m"
}
