runbook "t" {}

variable "version" {
  type    = string
  default = "latest"
  validation {
    condition     = can(regex("^[0-9.]+$", var.version))
    error_message = "version must be numeric, like 1.2.3"
  }
}
