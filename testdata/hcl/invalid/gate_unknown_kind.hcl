runbook "t" {}

provider "demo" "main" {}

gate "sok" "g" {
  duration = "1m"
}
