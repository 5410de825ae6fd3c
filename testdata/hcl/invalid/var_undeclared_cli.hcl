# vars: verison=1
runbook "t" {}

variable "version" {
  type    = string
  default = "1"
}
