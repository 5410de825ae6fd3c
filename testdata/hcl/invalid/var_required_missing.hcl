runbook "t" {}

variable "needed" {
  type = string
}
