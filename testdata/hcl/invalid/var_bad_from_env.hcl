# env: HANDRAIL_VAR_replicas=[1,
runbook "t" {}

variable "replicas" {
  type = list(number)
}
