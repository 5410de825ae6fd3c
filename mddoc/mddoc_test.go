package mddoc_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/mddoc"
	"github.com/handrail-dev/handrail/mdimport"
	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/email"
	"github.com/handrail-dev/handrail/providers/exec"
	httpprov "github.com/handrail-dev/handrail/providers/http"
	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/providers/slack"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/providers/statuspage"
	"github.com/handrail-dev/handrail/sandbox/manual"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func registry(t *testing.T) *provider.Registry {
	t.Helper()
	reg, err := provider.NewRegistry(&ssh.Provider{}, &exec.Provider{}, &aws.Provider{}, &httpprov.Provider{},
		&prometheus.Provider{}, &slack.Provider{}, &statuspage.Provider{}, &email.Provider{}, &docker.Provider{},
		&postgres.Provider{}, &manual.Provider{})
	require.NoError(t, err)
	return reg
}

// planDump loads a runbook (with its variables file) as the CLI does and
// returns its plan's canonical dump; steps still without a rollback are
// given irreversible = true first, so that a skeleton compiles.
func planDump(t *testing.T, name string, src, vars []byte) string {
	t.Helper()
	if os.Getenv("USER") == "" {
		t.Setenv("USER", "deploy")
	}
	s := markIrreversible(string(src))
	dir := t.TempDir()
	path := filepath.Join(dir, name+".hcl")
	require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".auto.hclvars"), vars, 0o644))
	var env []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "variable ") {
			v := strings.Trim(strings.Fields(l)[1], `"`)
			val := "placeholder-for-tests"
			if v == "database_url" {
				val = "postgres://tests:placeholder@127.0.0.1:5432/tests"
			}
			env = append(env, "HANDRAIL_VAR_"+v+"="+val)
		}
	}
	rb, diags := hcl.Load(context.Background(), path, hcl.Options{Registry: registry(t), Environ: env})
	if diags.HasErrors() {
		var b strings.Builder
		_ = rb.WriteDiagnostics(&b, diags, 100, false)
		t.Fatalf("%s does not load:\n%s\n%s", name, b.String(), s)
	}
	defer rb.Close()
	return rb.Plan().Dump()
}

// TestRoundTrip: import(doc(x)) has x's plan, for every test document's
// import and for a hand-written runbook of known constructs.
func TestRoundTrip(t *testing.T) {
	docs, err := filepath.Glob("../mdimport/testdata/docs/*.md")
	require.NoError(t, err)
	require.NotEmpty(t, docs)
	for _, f := range docs {
		name := strings.TrimSuffix(filepath.Base(f), ".md")
		t.Run(name, func(t *testing.T) {
			md, err := os.ReadFile(f)
			require.NoError(t, err)
			x, err := mdimport.Import(name+".md", md)
			require.NoError(t, err)
			roundTrip(t, name, x.HCL, x.Vars)
		})
	}
	t.Run("known", func(t *testing.T) {
		src, err := os.ReadFile("testdata/known.hcl")
		require.NoError(t, err)
		vars, err := os.ReadFile("testdata/known.auto.hclvars")
		require.NoError(t, err)
		roundTrip(t, "known", src, vars)
	})
}

func roundTrip(t *testing.T, name string, src, varsSrc []byte) {
	t.Helper()
	want := planDump(t, name, src, varsSrc)
	vars, err := mddoc.ReadVars(name+".auto.hclvars", varsSrc)
	require.NoError(t, err)
	doc, err := mddoc.Render(name+".hcl", src, vars)
	require.NoError(t, err)
	back, err := mdimport.Import(name+".md", doc)
	require.NoError(t, err, string(doc))
	got := planDump(t, name, back.HCL, back.Vars)
	require.Equal(t, want, got, "document:\n%s\nimported back:\n%s", doc, back.HCL)
	// The commands survive too, not only the plan's shape.
	assert.Equal(t, scripts(t, src, vars), scripts(t, back.HCL, parseVars(t, back.Vars)))
}

func parseVars(t *testing.T, src []byte) map[string]cty.Value {
	t.Helper()
	v, err := mddoc.ReadVars("vars", src)
	require.NoError(t, err)
	return v
}

// scripts renders a runbook and keeps its fenced code: the commands a
// person would run, with variables replaced by their values.
func scripts(t *testing.T, src []byte, vars map[string]cty.Value) []string {
	t.Helper()
	doc, err := mddoc.Render("x.hcl", src, vars)
	require.NoError(t, err)
	var out []string
	in := false
	var cur []string
	for _, l := range strings.Split(string(doc), "\n") {
		switch {
		case strings.HasPrefix(l, "```") && !in:
			in, cur = true, nil
		case strings.HasPrefix(l, "```") && in:
			in = false
			out = append(out, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, l)
		}
	}
	return out
}

// TestRich renders a copy of the release-2 example (every kind of gate
// and many actions) and compares it with the reviewed golden document.
func TestRich(t *testing.T) {
	src, err := os.ReadFile("testdata/rich.hcl")
	require.NoError(t, err)
	varsSrc, err := os.ReadFile("testdata/rich.auto.hclvars")
	require.NoError(t, err)
	vars, err := mddoc.ReadVars("rich.auto.hclvars", varsSrc)
	require.NoError(t, err)
	doc, err := mddoc.Render("rich.hcl", src, vars)
	require.NoError(t, err)
	golden := "testdata/rich.md"
	if *update {
		require.NoError(t, os.WriteFile(golden, doc, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "go test ./mddoc -run TestRich -update")
	assert.Equal(t, string(want), string(doc))
	// Secrets never show: the variables file's placeholders are not read
	// for sensitive variables.
	assert.NotContains(t, string(doc), "placeholder-smoke-password")
	assert.NotContains(t, string(doc), "placeholder-statuspage-api-key")
	assert.Contains(t, string(doc), "var.smoke_password")
}

func TestRenderBadHCL(t *testing.T) {
	_, err := mddoc.Render("bad.hcl", []byte("step \"x\" {"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad.hcl")
}

// markIrreversible adds irreversible = true to the steps an import left
// without a rollback (marked TODO(import)), as their author would.
func markIrreversible(src string) string {
	lines := strings.Split(src, "\n")
	todo := false
	for i, l := range lines {
		if strings.Contains(l, "TODO(import): no rollback") {
			todo = true
			continue
		}
		if todo && strings.HasPrefix(strings.TrimSpace(l), "step ") {
			lines[i] = l + "\nirreversible = true"
			todo = false
		}
	}
	return strings.Join(lines, "\n")
}
