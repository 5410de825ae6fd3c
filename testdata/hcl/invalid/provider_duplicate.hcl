runbook "t" {}

provider "demo" "main" {}

provider "demo" "main" {}
