# vars: count=abc
runbook "t" {}

variable "count" {
  type = number
}
