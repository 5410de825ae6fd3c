runbook "t" {}

provider "demo" "main" {}

variable "hosts" {
  type      = list(string)
  sensitive = true
  default   = ["a", "b"]
}

phase "p" {
  for_each = var.hosts
  step "demo_read" "r" {
    key = each.value
  }
}
