runbook "t" {}

provider "demo" "main" {}

gate "approval" "g" {
  message    = "go?"
  timeout    = "10m"
  on_timeout = "yes"
}
