runbook "t" {}

provider "demo" "main" {}

step "demo_exec" "a" {
  command = ["rm", "-rf", "/tmp/x"]
}
