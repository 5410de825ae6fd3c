runbook "t" {}

provider "demo" "main" {}

step "demo_read" "a" {
  key = "k"
}

step "demo_read" "b" {
  key = stpe.a.value
}
