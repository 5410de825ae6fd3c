runbook "t" {}

variable "replicas" {
  type = number
}
