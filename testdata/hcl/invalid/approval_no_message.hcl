runbook "t" {}

provider "demo" "main" {}

gate "approval" "g" {
  approvers = ["lead"]
}
