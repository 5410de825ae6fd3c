#!/usr/bin/env bash
# gen-runbook.sh N — print a runbook of N ssh_exec steps for the CLI
# benchmarks. Each step has an explicit rollback and a reference to the
# previous step's output (so the plan has N-1 values "known after" a step).
# Nothing connects at validate/plan time: the ssh provider connects lazily.
#
#   bench/cli/gen-runbook.sh 10000 > /tmp/bench-10k.hcl
set -euo pipefail
n=${1:-10000}
case $n in '' | *[!0-9]*) echo "usage: $0 N (a number of steps)" >&2; exit 1 ;; esac
# 30 s budget a step; the window leaves an hour to spare.
window_min=$(( n / 2 + 60 ))
cat <<HEAD
runbook "bench-${n}" {
  description = "Generated: ${n} ssh_exec steps, each with a rollback and a reference to the previous step"
  window      = "${window_min}m"
}

variable "release" {
  type    = string
  default = "0.3.0"
}

provider "ssh" "x" {
  host = "127.0.0.1"
  user = "bench"
}
HEAD
awk -v n="$n" 'BEGIN {
  for (i = 0; i < n; i++) {
    printf "\nstep \"ssh_exec\" \"s%05d\" {\n  provider = ssh.x\n", i
    if (i == 0) {
      printf "  command  = [\"deploy\", var.release, \"%d\"]\n", i
    } else {
      printf "  command  = [\"deploy\", var.release, \"%d\", step.s%05d.stdout]\n", i, i - 1
    }
    printf "  budget   = \"30s\"\n  timeout  = \"1m\"\n"
    printf "  rollback \"ssh_exec\" {\n    provider = ssh.x\n    command  = [\"undo\", var.release, \"%d\"]\n  }\n}\n", i
  }
}'
