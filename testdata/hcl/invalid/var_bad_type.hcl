runbook "t" {}

variable "v" {
  type = strin
}
