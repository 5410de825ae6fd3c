runbook "t" {}

provider "demo" "main" {}

phase "p" {
  paralel = true
}
