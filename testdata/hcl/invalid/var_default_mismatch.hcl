runbook "t" {}

variable "count" {
  type    = number
  default = "abc"
}
