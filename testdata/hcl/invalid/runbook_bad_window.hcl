runbook "t" {
  window = "four hours"
}
