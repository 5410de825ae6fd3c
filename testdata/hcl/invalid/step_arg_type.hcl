runbook "t" {}

provider "demo" "main" {}

step "demo_exec" "a" {
  command      = "ls -l"
  irreversible = true
}
