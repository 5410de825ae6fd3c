# A traffic shift whose ModifyRule may lose its answer, retried, and a
# smoke test after it that fails: the rollback must put traffic back.

runbook "lost-answer" {
  description = "a traffic shift whose answer is lost, then a failing smoke test"
}

variable "rule_arn" { type = string }
variable "old_tg_arn" { type = string }
variable "new_tg_arn" { type = string }

provider "aws" "prod" {
  region = "eu-west-1"
}

provider "exec" "local" {}

step "elbv2_weights" "traffic" {
  rule_arn = var.rule_arn
  weights  = { (var.old_tg_arn) = 90, (var.new_tg_arn) = 10 }
  retry {
    attempts = 2
  }
}

step "local_exec" "smoke" {
  command      = ["smoke-test", "https://dcmms.example.com"]
  irreversible = true
}
