runbook "t" {}

runbook "again" {}
