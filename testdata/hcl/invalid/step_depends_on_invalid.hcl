runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key        = "k"
  depends_on = ["b"]
}
