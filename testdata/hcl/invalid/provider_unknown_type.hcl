runbook "t" {}

provider "dmeo" "main" {}
