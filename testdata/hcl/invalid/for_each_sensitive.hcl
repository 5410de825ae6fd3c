runbook "t" {}

provider "demo" "main" {}

variable "hosts" {
  type      = list(string)
  sensitive = true
  default   = ["alpha", "beta"]
}

phase "p" {
  for_each = var.hosts
  step "demo_read" "r" {
    key = each.value
  }
}
