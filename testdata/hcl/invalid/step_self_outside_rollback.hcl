runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key = self.key
}
