package hcl_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
	"github.com/handrail-dev/handrail/runbook"
)

func TestVariablePrecedence(t *testing.T) {
	src := `
runbook "p" {}
variable "a" { default = "default" }
variable "b" { default = "default" }
variable "c" { default = "default" }
variable "d" { default = "default" }
variable "e" { default = "default" }
variable "n" {
  type    = number
  default = 1
}
variable "obj" {
  type = object({ name = string, port = optional(number, 80) })
  default = { name = "x" }
}
output "all" { value = "${var.a} ${var.b} ${var.c} ${var.d} ${var.e} ${var.n} ${var.obj.port}" }
`
	dir := t.TempDir()
	path := filepath.Join(dir, "main.hcl")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.auto.hclvars"), []byte("c = \"auto\"\nd = \"auto\"\ne = \"auto\"\n"), 0o644))
	vf := filepath.Join(dir, "prod.hclvars")
	require.NoError(t, os.WriteFile(vf, []byte("d = \"file\"\ne = \"file\"\nobj = { name = \"y\" }\n"), 0o644))
	rb, diags := hcl.Load(context.Background(), path, hcl.Options{
		Registry: testprovider.NewWorld().Registry(),
		Environ:  []string{"HANDRAIL_VAR_b=env", "HANDRAIL_VAR_c=env", "HANDRAIL_VAR_n=42", "PATH=/bin"},
		VarFiles: []string{vf},
		Vars:     map[string]string{"e": "cli"},
	})
	require.False(t, diags.HasErrors(), diags.Error())
	outs, diags := rb.Outputs(runbook.RunInfo{}, func(string) (runbook.Outputs, bool) { return nil, false })
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, "default env auto file cli 42 80", outs[0].Value)
	got := map[string]string{}
	for _, in := range rb.Inputs() {
		got[in.Name] = in.Value
	}
	assert.Equal(t, "cli", got["e"])
	assert.Equal(t, `{name = "y", port = 80}`, got["obj"])
}

func TestRequiredVersion(t *testing.T) {
	src := []byte("runbook \"v\" {\n  required_version = \">= 0.2.0, < 1.0.0\"\n}\n")
	reg := testprovider.NewWorld().Registry()
	for v, ok := range map[string]bool{"0.2.0": true, "0.9.9": true, "0.1.9": false, "1.0.0": false, "": true} {
		_, diags := hcl.LoadSource(context.Background(), "v.hcl", src, hcl.Options{Registry: reg, Version: v})
		assert.Equal(t, !ok, diags.HasErrors(), "version %q", v)
	}
}

func TestFunctionsAndLocals(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "motd.txt"), []byte("hello\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "conf.tpl"), []byte("port=${port} user=${user}"), 0o644))
	src := `
runbook "f" {}
variable "pw" {
  sensitive = true
  default   = "pa55word"
}
locals {
  # used before it is defined: locals are ordered by their references
  conf  = templatefile("conf.tpl", { port = local.port, user = "app" })
  port  = 8080
  motd  = trimspace(file("motd.txt"))
  safe  = try(jsondecode("{"), "fallback")
  ok    = can(regex("^[a-z]+$", local.motd))
  dsn   = "postgres://app:${var.pw}@db/app"
  clear = nonsensitive(sensitive("visible"))
  now   = timestamp()
}
output "o" { value = "${local.conf}|${local.motd}|${local.safe}|${local.ok}|${local.clear}|${local.now}" }
output "dsn" {
  value     = local.dsn
  sensitive = true
}
`
	path := filepath.Join(dir, "main.hcl")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rb, diags := hcl.Load(context.Background(), path, hcl.Options{Registry: testprovider.NewWorld().Registry(), Now: func() time.Time { return now }})
	require.False(t, diags.HasErrors(), diags.Error())
	outs, diags := rb.Outputs(runbook.RunInfo{}, func(string) (runbook.Outputs, bool) { return nil, false })
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, "port=8080 user=app|hello|fallback|true|visible|2026-01-02T03:04:05Z", outs[0].Value)
	assert.True(t, outs[1].Sensitive)
	_, isSecret := outs[1].Value.(runbook.Secret)
	assert.True(t, isSecret)
	assert.Equal(t, "x (sensitive) y", rb.Redactor().Redact("x postgres://app:pa55word@db/app y"))
}

func TestProvidersViaAndImplicit(t *testing.T) {
	w := testprovider.NewWorld()
	src := `
runbook "p" {}
provider "demo" "app" { via = demo.lb }
provider "demo" "lb" { endpoint = "https://lb" }
step "demo_read" "r" {
  provider = demo.app
  key      = "k"
}
`
	rb := load(t, w, src, nil)
	assert.Contains(t, rb.Plan().Dump(), "action demo.app demo_read")
	via := w.Config("demo.app").GetAttr("via")
	require.False(t, via.IsNull())

	// No provider block: an implicit default instance.
	rb = load(t, testprovider.NewWorld(), "runbook \"p\" {}\nstep \"demo_read\" \"r\" {\n  key = \"k\"\n}\n", nil)
	assert.Contains(t, rb.Plan().Dump(), "action demo.default demo_read")
	require.NoError(t, rb.Close())
}

func TestMapForEachAndParallel(t *testing.T) {
	w := testprovider.NewWorld()
	src := `
runbook "m" {}
phase "regions" {
  for_each = { eu = "10.0.0.1", us = "10.0.1.1" }
  parallel = true
  step "demo_set" "drain" {
    key   = "drain-${each.key}"
    value = each.value
  }
  step "demo_exec" "deploy" {
    command = ["deploy", each.key, step.drain.key]
    rollback "demo_exec" {
      command = ["false"]
    }
    rollback "demo_exec" {
      command = ["fallback", self.command[1]]
    }
  }
}
phase "both" {
  parallel = true
  step "demo_read" "x" { key = "x" }
  step "demo_read" "y" { key = "y" }
}
step "demo_exec" "last" {
  command = ["false", step.deploy["eu"].stdout]
  rollback_on_failure = true
  rollback_idempotent = true
  rollback "demo_exec" { command = ["cleanup"] }
}
`
	rb := load(t, w, src, nil)
	dump := rb.Plan().Dump()
	assert.Contains(t, dump, "step \"drain[eu]\"\n  phase \"regions\"\n  parallel \"group1\"")
	assert.Contains(t, dump, "step \"deploy[us]\"\n  phase \"regions\"\n  parallel \"group2\"\n  after [\"drain[eu]\", \"deploy[eu]\", \"drain[us]\"]")
	assert.Contains(t, dump, "parallel \"both\"")
	assert.Contains(t, dump, "rollback[1] demo.default demo_exec")
	assert.Contains(t, dump, "flags rollback_on_failure rollback_idempotent\n")
	res, _ := run(t, rb, true)
	require.Equal(t, runbook.StatusRolledBack, res.Status)
	log := strings.Join(w.Log(), "\n")
	assert.Contains(t, log, "exec [deploy eu drain-eu]")
	assert.Contains(t, log, "exec [false [deploy eu drain-eu]]")
	assert.Contains(t, log, "exec [cleanup]", "rollback_on_failure runs the failed step's own rollback")
	assert.Contains(t, log, "exec [fallback eu]", "the second rollback is a fallback for the first")
}

func TestPlanIsStableAcrossLoads(t *testing.T) {
	src, err := os.ReadFile("../testdata/hcl/valid/ramp.hcl")
	require.NoError(t, err)
	var hashes []string
	for range 3 {
		rb, diags := hcl.LoadSource(context.Background(), "ramp.hcl", src, hcl.Options{Registry: testprovider.NewWorld().Registry(), Vars: map[string]string{"version": "0.3.0"}})
		require.False(t, diags.HasErrors())
		hashes = append(hashes, rb.Plan().Hash())
	}
	assert.Equal(t, hashes[0], hashes[1])
	assert.Equal(t, hashes[0], hashes[2])
}

func TestNilRegistryAndMissingFile(t *testing.T) {
	_, diags := hcl.LoadSource(context.Background(), "x.hcl", []byte(`runbook "x" {}`), hcl.Options{})
	require.True(t, diags.HasErrors())
	assert.Equal(t, "No provider registry", diags[0].Summary)
	rb, diags := hcl.Load(context.Background(), "/nonexistent/x.hcl", hcl.Options{Registry: testprovider.NewWorld().Registry()})
	require.True(t, diags.HasErrors())
	require.NotNil(t, rb)
	require.NotNil(t, diags[0].Subject)
}

func TestMetaArgumentSharedWithAction(t *testing.T) {
	w := testprovider.NewWorld()
	src := `
runbook "m" {}
step "demo_exec" "a" {
  command      = ["one"]
  timeout      = "5m"
  irreversible = true
}
step "demo_exec" "b" {
  command      = ["two"]
  timeout      = step.a.stdout
  irreversible = true
}
`
	rb := load(t, w, src, nil)
	dump := rb.Plan().Dump()
	assert.Contains(t, dump, "step \"a\"\n  action demo.default demo_exec\n  timeout 5m0s\n")
	assert.NotContains(t, dump, "step \"b\"\n  after [\"a\"]\n  action demo.default demo_exec\n  uses [\"a\"]\n  timeout")
	res, _ := run(t, rb, true)
	require.Equal(t, runbook.StatusSucceeded, res.Status, "%v", res.Err)
	assert.Equal(t, []string{"demo.default exec [one] timeout=5m", "demo.default exec [two] timeout=[one]"}, w.Log())
}

func TestImplicitProbeByArguments(t *testing.T) {
	w := testprovider.NewWorld()
	w.Metric("err", 0)
	src := `
runbook "p" {}
provider "demo" "main" {}
gate "check" "g" {
  check "ping" {
    host      = "app"
    condition = self.value == 1
  }
  check "err" {
    metric    = "err"
    condition = self.value == 0
  }
}
`
	rb := load(t, w, src, nil)
	assert.Contains(t, rb.Plan().Dump(), `check "ping" probe=demo.main/demo_ping`)
	assert.Contains(t, rb.Plan().Dump(), `check "err" probe=demo.main/demo_metric`)
	res, _ := run(t, rb, true)
	require.Equal(t, runbook.StatusSucceeded, res.Status, "%v", res.Err)
	assert.Contains(t, w.Log(), "demo.main ping app")
}

// Large runbooks are checked in parallel; diagnostics keep source order.
func TestLargeRunbook(t *testing.T) {
	reg := testprovider.NewWorld().Registry()
	src := generated(1000)
	rb, diags := hcl.LoadSource(context.Background(), "gen.hcl", src, hcl.Options{Registry: reg})
	require.False(t, diags.HasErrors(), diags.Error())
	require.Len(t, rb.Plan().Nodes(), 1000)

	bad := strings.Replace(string(src), `["deploy", step.s9.stdout]`, `["deploy", { a = step.s9.stdout }]`, 1)
	bad = strings.Replace(bad, `["deploy", step.s899.stdout]`, `"deploy"`, 1)
	_, diags = hcl.LoadSource(context.Background(), "gen.hcl", []byte(bad), hcl.Options{Registry: reg})
	require.Len(t, diags, 2, diags.Error())
	assert.Equal(t, "Incorrect attribute value type", diags[0].Summary)
	assert.Equal(t, "Incorrect attribute value type", diags[1].Summary)
	assert.Less(t, diags[0].Subject.Start.Line, diags[1].Subject.Start.Line)
}

func TestCloseInstances(t *testing.T) {
	w := testprovider.NewWorld()
	reg := w.Registry()
	src := "runbook \"c\" {}\nprovider \"demo\" \"a\" {}\nstep \"demo_read\" \"r\" {\n  key = \"k\"\n}\n"
	rb, diags := hcl.LoadSource(context.Background(), "c.hcl", []byte(src), hcl.Options{Registry: reg})
	require.False(t, diags.HasErrors())
	require.NoError(t, rb.Close())
	require.NoError(t, rb.Close())
	assert.Equal(t, []string{"demo.a closed"}, w.Log())

	// A runbook that fails after configuring its providers closes them.
	bad := src + "step \"demo_read\" \"r2\" {\n  key = step.nope.value\n}\n"
	rb, diags = hcl.LoadSource(context.Background(), "c.hcl", []byte(bad), hcl.Options{Registry: reg})
	require.True(t, diags.HasErrors())
	require.NoError(t, rb.Close())
	assert.Equal(t, []string{"demo.a closed", "demo.a closed"}, w.Log())
}

func TestPlanShowsRunTimeValues(t *testing.T) {
	rb := load(t, testprovider.NewWorld(), `
runbook "r" {}
step "demo_read" "a" {
  key = "backup-${run.started_at}"
}
`, nil)
	var sb strings.Builder
	require.NoError(t, rb.WritePlan(&sb))
	assert.Contains(t, sb.String(), "key = (known at run time: run.started_at)")
}
