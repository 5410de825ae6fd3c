runbook "t" {}

variable "t" {
  type      = string
  sensitive = true
  default   = "s3cret-value"
}

output "token" {
  value = var.t
}
