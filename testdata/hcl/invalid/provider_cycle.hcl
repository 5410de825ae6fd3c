runbook "t" {}

provider "demo" "a" {
  via = demo.b
}

provider "demo" "b" {
  via = demo.a
}
