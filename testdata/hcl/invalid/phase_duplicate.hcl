runbook "t" {}

provider "demo" "main" {}

phase "p" {}

phase "p" {}
