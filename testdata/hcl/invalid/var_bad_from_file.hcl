# var-file: bad.hclvars
runbook "t" {}

variable "weights" {
  type = list(number)
}
