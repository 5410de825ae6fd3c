runbook "t" {}

provider "demo" "main" {}

variable "version" {
  default = "1"
}

step "demo_read" "a" {
  key = var.verison
}
