runbook "t" {}

variable "a" {
  type    = string
  default = "x"
  validation {
    condition     = var.b != ""
    error_message = "no"
  }
}
