# Scenarios of rollout.hcl. The flags provider is the tool's own: the Go
# test registers it next to the sandbox's fakes (sandbox.TestOptions.Providers).
# `handrail test` alone does not know it, so the file lives in testdata/,
# which `handrail test` skips.

runbook = "../rollout.hcl"

world {
  prometheus {
    query = var.error_rate_query
    value = 0.002
  }
}

scenario "rollout" {
  expect {
    status   = "succeeded"
    executed = ["checkout[10]", "watch[10]", "checkout[50]", "watch[50]", "checkout[100]", "watch[100]", "announce"]
  }
}

scenario "errors_at_50" {
  world {
    prometheus {
      query = var.error_rate_query
      value = 0.002
      at {
        node  = "watch[50]"
        after = "4m"
        value = 0.04
      }
    }
  }
  expect {
    status       = "rolled_back"
    compensated  = ["checkout[50]", "checkout[10]"]
    not_executed = ["checkout[100]"]
  }
}
