package hcl_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
	"github.com/handrail-dev/handrail/runbook"
)

func ExampleLoadSource() {
	src := `
runbook "hello" {}

variable "token" {
  type      = string
  sensitive = true
}

provider "demo" "main" { token = var.token }

step "demo_set" "maintenance_on" {
  key   = "maintenance"
  value = "on"
}

gate "soak" "watch" {
  duration = "15m"
  every    = "30s"
  check "errors" {
    metric    = "error_rate"
    condition = self.value < 0.01
  }
}
`
	world := testprovider.NewWorld() // a fake provider; use cmd's registry for real ones
	world.Metric("error_rate", 0.001)
	rb, diags := hcl.LoadSource(context.Background(), "hello.hcl", []byte(src), hcl.Options{
		Registry: world.Registry(),
		Vars:     map[string]string{"token": "s3cr3t-token"},
	})
	if diags.HasErrors() {
		_ = rb.WriteDiagnostics(os.Stderr, diags, 100, false)
		return
	}
	defer rb.Close()
	_ = rb.WritePlan(os.Stdout)

	ex := &runbook.Executor{Clock: runbook.NewSimClock(time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)), Redactor: rb.Redactor()}
	res, err := ex.Run(context.Background(), rb.Plan(), runbook.RunOptions{Inputs: rb.Inputs()})
	fmt.Println(res.Status, err, world.Value("maintenance"))
	// Output:
	// runbook "hello"
	//   step maintenance_on: demo.main demo_set
	//       key = "maintenance"
	//       value = "on"
	//     rollback (natural): demo.main demo_set
	//   gate watch: soak for 15m0s, every 30s
	//     check errors: demo.main demo_metric, holds when self.value < 0.01
	//         metric = "error_rate"
	// succeeded <nil> on
}
