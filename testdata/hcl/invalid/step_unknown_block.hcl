runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key = "k"
  retyr {
    attempts = 3
  }
}
