package hcl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
	"github.com/handrail-dev/handrail/runbook"
)

func load(t *testing.T, w *testprovider.World, src string, vars map[string]string) *hcl.Runbook {
	t.Helper()
	rb, diags := hcl.LoadSource(context.Background(), "test.hcl", []byte(src), hcl.Options{Registry: w.Registry(), Vars: vars})
	if diags.HasErrors() {
		var buf bytes.Buffer
		_ = rb.WriteDiagnostics(&buf, diags, 100, false)
		t.Fatalf("load: %s", buf.String())
	}
	t.Cleanup(func() { _ = rb.Close() })
	return rb
}

func run(t *testing.T, rb *hcl.Runbook, approve bool) (*runbook.Result, *bytes.Buffer) {
	t.Helper()
	var events bytes.Buffer
	ex := &runbook.Executor{
		Clock:    runbook.NewSimClock(time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)),
		Journal:  &runbook.MemJournal{},
		Redactor: rb.Redactor(),
		Observer: runbook.NewJSONObserver(&events),
		Approver: runbook.ApproverFunc(func(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
			return runbook.Decision{Approved: approve, By: "lead"}, nil
		}),
		RollbackRetry: &runbook.Retry{Attempts: 1},
	}
	res, _ := ex.Run(context.Background(), rb.Plan(), runbook.RunOptions{RunID: "run-1", Inputs: rb.Inputs()})
	require.NotNil(t, res)
	return res, &events
}

const runSrc = `
runbook "r" {}
variable "token" {
  type      = string
  sensitive = true
  default   = "hunter2-very-secret"
}
provider "demo" "main" { token = var.token }

step "demo_set" "a" {
  key    = "a"
  value  = "one"
  secret = "x-${var.token}"
}
step "demo_exec" "b" {
  command = ["deploy", step.a.key, step.a.previous]
  rollback "demo_exec" {
    command = ["undeploy", self.stdout, self.command[0], step.a.key]
  }
}
phase "ramp" {
  for_each = [10, 50]
  step "demo_set" "shift" {
    key   = "w${each.key}"
    value = "${each.value}"
  }
  gate "soak" "watch" {
    duration = "2m"
    every    = "30s"
    check "err" {
      probe     = "demo_metric"
      metric    = "err"
      condition = self.value < 0.01 && self.latency < 100
    }
  }
}
step "demo_read" "final" {
  key  = "w${step.shift[50].previous}"
  when = gate.watch[50].outcome == "passed"
}
output "final" { value = step.final.value }
output "tok" {
  value     = step.a.token
  sensitive = true
}
`

func TestRunHappyPath(t *testing.T) {
	w := testprovider.NewWorld()
	w.Set("a", "zero")
	w.Set("w", "kept")
	w.Metric("err", 0.001)
	rb := load(t, w, runSrc, nil)
	res, events := run(t, rb, true)
	require.Equal(t, runbook.StatusSucceeded, res.Status, "%v", res.Err)
	assert.Equal(t, []string{
		"demo.main set a=one",
		"demo.main exec [deploy a zero]",
		"demo.main set w10=10",
		"demo.main set w50=50",
		"demo.main read w",
	}, w.Log())
	outs, diags := rb.Outputs(res.Run, func(n string) (runbook.Outputs, bool) {
		r, ok := res.Nodes[n]
		if !ok || r.Outputs == nil {
			return nil, false
		}
		return r.Outputs, true
	})
	require.False(t, diags.HasErrors(), diags.Error())
	require.Len(t, outs, 2)
	assert.Equal(t, "kept", outs[0].Value)
	assert.Equal(t, "(sensitive)", fmtAny(outs[1].Value))
	assert.True(t, outs[1].Sensitive)
	assert.NotContains(t, events.String(), "hunter2")
	assert.NotContains(t, events.String(), "s3cr3t")
	// The provider received the unmarked secret.
	assert.Equal(t, "hunter2-very-secret", w.Config("demo.main").GetAttr("token").AsString())
}

func fmtAny(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

func TestRunFailureRollsBackWithSelf(t *testing.T) {
	w := testprovider.NewWorld()
	w.Set("a", "zero")
	w.FailKey("w50")
	w.Metric("err", 0.001)
	rb := load(t, w, runSrc, nil)
	res, _ := run(t, rb, true)
	require.Equal(t, runbook.StatusRolledBack, res.Status, "%v", res.Err)
	assert.Equal(t, []string{
		"demo.main set a=one",
		"demo.main exec [deploy a zero]",
		"demo.main set w10=10",
		"demo.main set w50=50 failed",
		"demo.main restore w10=",
		"demo.main exec [undeploy [deploy a zero] deploy a]",
		"demo.main restore a=zero",
	}, w.Log())
	assert.Equal(t, "zero", w.Value("a"))
}

func TestSoakBreachRollsBack(t *testing.T) {
	w := testprovider.NewWorld()
	w.Metric("err", 0.001, 0.5)
	rb := load(t, w, runSrc, nil)
	res, _ := run(t, rb, true)
	require.Equal(t, runbook.StatusRolledBack, res.Status)
	var se *runbook.StepError
	require.ErrorAs(t, res.Err, &se)
	assert.Equal(t, "watch[10]", se.Node)
	assert.ErrorIs(t, res.Err, runbook.ErrGateFailed)
}

func TestWhenSkips(t *testing.T) {
	w := testprovider.NewWorld()
	w.Metric("err", 0.001)
	src := strings.Replace(runSrc, `gate.watch[50].outcome == "passed"`, `gate.watch[50].outcome != "passed"`, 1)
	rb := load(t, w, src, nil)
	res, _ := run(t, rb, true)
	require.Equal(t, runbook.StatusSucceeded, res.Status, "%v", res.Err)
	assert.Equal(t, runbook.StateSkipped, res.Nodes["final"].Status)
}

func TestRunTimeEvaluationErrorIsDiagnostics(t *testing.T) {
	w := testprovider.NewWorld()
	src := `
runbook "r" {}
step "demo_set" "a" {
  key   = "a"
  value = "v"
}
step "demo_exec" "b" {
  command      = [jsondecode(step.a.previous).x]
  irreversible = true
}
`
	rb := load(t, w, src, nil)
	res, _ := run(t, rb, true)
	require.Equal(t, runbook.StatusRolledBack, res.Status)
	var diags hhcl.Diagnostics
	require.True(t, errors.As(res.Err, &diags), "error %T %v", res.Err, res.Err)
	require.NotNil(t, diags[0].Subject)
	assert.Equal(t, 8, diags[0].Subject.Start.Line)
}

func TestGuardBreachRollsBack(t *testing.T) {
	src := `
runbook "g" {}
step "demo_set" "traffic_10" {
  key   = "weight"
  value = "10"
}
gate "guard" "budget" {
  from  = step.traffic_10
  until = step.done
  every = "30s"
  check "errors" {
    probe     = "demo_metric"
    metric    = "err"
    condition = self.value < 0.05
  }
}
gate "soak" "watch" {
  duration = "10m"
  every    = "1m"
  check "ok" {
    probe     = "demo_metric"
    metric    = "ok"
    condition = self.value == 0
  }
}
step "demo_set" "done" {
  key   = "maintenance"
  value = "off"
}
`
	for _, tc := range []struct {
		name   string
		errors []float64
		want   runbook.Status
	}{
		{"breach", []float64{0.01, 0.01, 0.5}, runbook.StatusRolledBack},
		{"quiet", []float64{0.01}, runbook.StatusSucceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := testprovider.NewWorld()
			w.Metric("err", tc.errors...)
			w.Metric("ok", 0)
			rb := load(t, w, src, nil)
			res, _ := run(t, rb, true)
			require.Equal(t, tc.want, res.Status, "%v", res.Err)
			if tc.want == runbook.StatusRolledBack {
				var se *runbook.StepError
				require.ErrorAs(t, res.Err, &se)
				assert.Equal(t, "budget", se.Node)
				assert.Equal(t, []string{"traffic_10"}, res.Compensated)
				assert.Equal(t, "", w.Value("weight"))
			}
		})
	}
}

// A run halted after its point of no return is rolled back later by a new
// process: the plan is loaded again from the same file, and the rollbacks
// read the step's outputs from the journal.
func TestRollbackLaterFromJournal(t *testing.T) {
	src := `
runbook "later" {}
step "demo_set" "a" {
  key   = "a"
  value = "new"
}
step "demo_exec" "b" {
  command = ["deploy", step.a.previous]
  rollback "demo_exec" {
    command = ["undeploy", self.stdout, self.command[1]]
  }
}
step "demo_set" "c" {
  key                = "c"
  value              = "x"
  point_of_no_return = true
}
step "demo_exec" "d" {
  command      = ["false"]
  irreversible = true
}
`
	w := testprovider.NewWorld()
	w.Set("a", "old")
	journal := &runbook.MemJournal{}
	clock := runbook.NewSimClock(time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC))
	rb1 := load(t, w, src, nil)
	res, _ := (&runbook.Executor{Clock: clock, Journal: journal, Redactor: rb1.Redactor()}).Run(context.Background(), rb1.Plan(), runbook.RunOptions{RunID: "r1"})
	require.Equal(t, runbook.StatusHalted, res.Status)

	rb2 := load(t, w, src, nil)
	require.Equal(t, rb1.Plan().Hash(), rb2.Plan().Hash())
	res, err := (&runbook.Executor{Clock: clock, Journal: journal, Redactor: rb2.Redactor(), RollbackRetry: &runbook.Retry{Attempts: 1}}).Rollback(context.Background(), rb2.Plan(), "r1", runbook.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, runbook.StatusRolledBack, res.Status, "%v", res.Err)
	log := w.Log()
	assert.Equal(t, []string{
		"demo.default restore c=",
		"demo.default exec [undeploy [deploy old] old]",
		"demo.default restore a=old",
	}, log[len(log)-3:])
	assert.Equal(t, "old", w.Value("a"))
}

func TestSkippedStepOutputsAreNull(t *testing.T) {
	src := `
runbook "skip" {}
step "demo_set" "a" {
  key   = "a"
  value = "v"
  when  = false
}
step "demo_read" "b" {
  key = coalesce(step.a.previous, "fallback")
}
`
	w := testprovider.NewWorld()
	rb := load(t, w, src, nil)
	res, _ := run(t, rb, true)
	require.Equal(t, runbook.StatusSucceeded, res.Status, "%v", res.Err)
	assert.Equal(t, []string{"demo.default read fallback"}, w.Log())
}

func TestProviderRefusesArguments(t *testing.T) {
	// Known at load time: refused while loading.
	w := testprovider.NewWorld()
	_, diags := hcl.LoadSource(context.Background(), "p.hcl", []byte(`
runbook "p" {}
step "demo_set" "a" {
  key   = "a"
  value = "invalid:x"
}
`), hcl.Options{Registry: w.Registry()})
	require.True(t, diags.HasErrors())
	assert.Equal(t, "Invalid arguments for demo_set", diags[0].Summary)
	assert.Equal(t, 3, diags[0].Subject.Start.Line)

	// Known only at run time: refused then, as diagnostics, not retried.
	rb := load(t, w, `
runbook "p" {}
step "demo_read" "a" {
  key = "k"
}
step "demo_set" "b" {
  key   = "b"
  value = "invalid:${step.a.value}"
  retry {
    attempts = 3
  }
}
`, nil)
	res, _ := run(t, rb, true)
	require.Equal(t, runbook.StatusRolledBack, res.Status)
	var diags2 hhcl.Diagnostics
	require.ErrorAs(t, res.Err, &diags2)
	assert.Equal(t, "Invalid arguments for demo_set", diags2[0].Summary)
	assert.Equal(t, 1, res.Nodes["b"].Attempts)
}
