runbook "t" {}

provider "demo" "main" {}

variable "t" {
  type      = string
  sensitive = true
  default   = "10m"
}

step "demo_read" "a" {
  key     = "k"
  timeout = var.t
}
