package hcl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
	"github.com/handrail-dev/handrail/runbook"
)

const secret = "hunter2-very-secret"

func diagText(t *testing.T, src string, opts hcl.Options) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "main.hcl")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	rb, diags := hcl.Load(context.Background(), path, opts)
	require.True(t, diags.HasErrors())
	var buf bytes.Buffer
	require.NoError(t, rb.WriteDiagnostics(&buf, diags, 120, false))
	buf.WriteString(diags.Error())
	return buf.String()
}

func TestSecretNeverInDiagnostics(t *testing.T) {
	reg := testprovider.NewWorld().Registry()
	tokenVar := `
runbook "s" {}
variable "token" {
  type      = string
  sensitive = true
  default   = "` + secret + `"
}
`
	cases := []struct {
		name string
		src  string
		opts hcl.Options
	}{
		{"evaluation error", tokenVar + `
step "demo_read" "a" {
  key = var.token + 1
}`, hcl.Options{}},
		{"function error", tokenVar + `
step "demo_read" "a" {
  key = jsondecode(var.token)
}`, hcl.Options{}},
		{"type error in default", `
runbook "s" {}
variable "pin" {
  type      = number
  sensitive = true
  default   = "` + secret + `"
}`, hcl.Options{}},
		{"bad -var value", `
runbook "s" {}
variable "pin" {
  type      = number
  sensitive = true
}`, hcl.Options{Vars: map[string]string{"pin": secret}}},
		{"bad env value", `
runbook "s" {}
variable "pins" {
  type      = list(number)
  sensitive = true
}`, hcl.Options{Environ: []string{"HANDRAIL_VAR_pins=[\"" + secret + "\"]"}}},
		{"validation", `
runbook "s" {}
variable "token" {
  type      = string
  sensitive = true
  default   = "` + secret + `"
  validation {
    condition     = length(var.token) < 5
    error_message = "token ${var.token} is too long"
  }
}`, hcl.Options{}},
		{"output", tokenVar + `
output "t" {
  value = "Bearer ${var.token}"
}`, hcl.Options{}},
		{"provider config", tokenVar + `
provider "demo" "main" {
  token = var.token
  endpoint = 42 + var.token
}`, hcl.Options{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Registry = reg
			text := diagText(t, tc.src, tc.opts)
			assert.NotContains(t, text, secret)
			assert.NotContains(t, text, "hunter2")
		})
	}
	t.Run("var file", func(t *testing.T) {
		dir := t.TempDir()
		vf := filepath.Join(dir, "prod.hclvars")
		require.NoError(t, os.WriteFile(vf, []byte(`pin = "`+secret+`"`+"\n"), 0o644))
		text := diagText(t, `
runbook "s" {}
variable "pin" {
  type      = number
  sensitive = true
}`, hcl.Options{Registry: reg, VarFiles: []string{vf}})
		assert.NotContains(t, text, "hunter2")
		assert.Contains(t, text, "prod.hclvars")
	})
}

func TestSecretNeverInPlanOrRun(t *testing.T) {
	w := testprovider.NewWorld()
	w.FailKey("k-" + secret)
	src := `
runbook "s" {}
variable "token" {
  type      = string
  sensitive = true
}
provider "demo" "main" { token = var.token }
step "demo_set" "a" {
  key    = "k-${var.token}"
  value  = upper(var.token)
  secret = "plain"
}
output "t" {
  value     = step.a.token
  sensitive = true
}
`
	rb, diags := hcl.LoadSource(context.Background(), "s.hcl", []byte(src), hcl.Options{Registry: w.Registry(), Environ: []string{"HANDRAIL_VAR_token=" + secret}})
	require.False(t, diags.HasErrors(), diags.Error())
	var plan bytes.Buffer
	require.NoError(t, rb.WritePlan(&plan))
	assert.NotContains(t, plan.String(), "hunter2")
	assert.NotContains(t, plan.String(), "HUNTER2")
	assert.Contains(t, plan.String(), "key = (sensitive)")
	assert.Contains(t, plan.String(), "secret = (sensitive)", "a sensitive argument of the action is hidden even when its value is not")
	assert.NotContains(t, rb.Plan().Dump(), "hunter2")

	inputs := rb.Inputs()
	require.Len(t, inputs, 1)
	assert.True(t, inputs[0].Sensitive)

	res, events := run(t, rb, true)
	require.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.NotContains(t, events.String(), "hunter2")
	assert.NotContains(t, events.String(), "HUNTER2", "values derived from a secret are registered too")
	j, _ := json.Marshal(res.Nodes["a"].Outputs)
	assert.NotContains(t, string(j), "hunter2")
	assert.Equal(t, "(sensitive)", rb.Redactor().Redact(secret))
}
