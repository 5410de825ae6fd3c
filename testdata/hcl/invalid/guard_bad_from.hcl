runbook "t" {}

provider "demo" "main" {}

variable "x" {
  default = "a"
}

step "demo_read" "a" {
  key = "k"
}

gate "guard" "g" {
  from = var.x
  check "c" {
    metric    = "m"
    condition = self.value < 1
  }
}
