package sandbox_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/handrail-dev/handrail/sandbox"
)

// A runbook and its test file: the error rate climbs during the soak, and
// the scenario expects the maintenance switch to be undone.
func ExampleRunTestFile() {
	dir, _ := os.MkdirTemp("", "sandbox-example-")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "deploy.hcl"), []byte(`
runbook "deploy" {
  window = "1h"
}

provider "ssh" "lb" {
  host = "lb-01"
}

provider "prometheus" "main" {
  url = "http://prometheus:9090"
}

step "ssh_exec" "maintenance_on" {
  command          = ["touch", "/etc/maintenance"]
  rollback_command = ["rm", "-f", "/etc/maintenance"]
}

gate "soak" "watch" {
  duration = "15m"
  check "errors" {
    probe     = "prometheus_query"
    query     = "errors"
    condition = self.value < 0.01
  }
}
`), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "deploy.test.hcl"), []byte(`
world {
  prometheus {
    query = "errors"
    value = 0.001
  }
}

scenario "healthy" {
  expect {
    status = "succeeded"
  }
}

scenario "errors_climb" {
  world {
    prometheus {
      query = "errors"
      value = 0.001
      at {
        node  = "watch"
        after = "9m"
        value = 0.06
      }
    }
  }
  expect {
    status      = "rolled_back"
    compensated = ["maintenance_on"]
    world {
      ssh_file {
        host   = "lb-01"
        path   = "/etc/maintenance"
        exists = false
      }
    }
  }
}
`), 0o644)
	results, err := sandbox.RunTestFile(context.Background(), filepath.Join(dir, "deploy.test.hcl"), sandbox.TestOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range results {
		fmt.Printf("%s: passed=%t status=%s simulated=%s\n", r.Name, r.Passed, r.Result.Status, r.Simulated)
	}
	// Output:
	// healthy: passed=true status=succeeded simulated=15m0s
	// errors_climb: passed=true status=rolled_back simulated=9m0s
}
