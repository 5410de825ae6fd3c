runbook "t" {}

locals {
  image = "app:${local.verison}"
  version = "1"
}
