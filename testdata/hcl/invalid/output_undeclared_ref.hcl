runbook "t" {}

output "o" {
  value = step.nope.value
}
