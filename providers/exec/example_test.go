package exec_test

import (
	"context"
	"fmt"

	"github.com/handrail-dev/handrail/providers/exec"
	"github.com/handrail-dev/handrail/providers/exec/execfake"
	"github.com/handrail-dev/handrail/runbook"
)

// A k6 smoke test whose thresholds fail fails its step, naming them.
func ExampleNewK6() {
	world := execfake.New()
	world.OnK6(`{"metrics":{
	  "http_req_duration":{"avg":610.5,"p(95)":1402.6,"thresholds":{"p(95)<500":true}},
	  "http_req_failed":{"passes":0,"fails":120,"value":0,"thresholds":{"rate<0.01":false}}}}`, 99)
	// With the real provider: exec.New("local", exec.Config{}).
	var local exec.Runner = world.Instance("local")

	k6, _ := exec.NewK6(local, exec.K6Options{Script: "smoke-test.js"})
	out, err := k6.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	fmt.Println(err)
	fmt.Println(out["http_req_duration_p95"], out["http_req_failed_rate"], out["thresholds_failed"])
	// Output:
	// exec: k6 thresholds failed: exec.local k6_run smoke-test.js: http_req_duration: p(95)<500
	// 1402.6 0 [http_req_duration: p(95)<500]
}
