package main_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProvidersCommand: the schema of every provider, as the providers
// declare it in their sources (local_exec's arguments, k6_run read-only,
// prometheus_query a probe), and did-you-mean for unknown names.
func TestProvidersCommand(t *testing.T) {
	dir := t.TempDir()
	r := run(t, dir, "providers", "local_exec")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `provider "exec"`)
	assert.Contains(t, r.stdout, "local_exec (step, natural rollback)")
	assert.Regexp(t, `command +list\(string\) \(required\)  argv\.`, r.stdout)
	assert.Regexp(t, `rollback_command +list\(string\) \(optional\)`, r.stdout)
	assert.NotContains(t, r.stdout, "k6_run", "one action asked for")

	r = run(t, dir, "providers", "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var doc struct {
		FormatVersion string `json:"format_version"`
		Providers     []struct {
			Type    string `json:"type"`
			Actions []struct {
				Name            string `json:"name"`
				Step            bool   `json:"step"`
				Probe           bool   `json:"probe"`
				ReadOnly        bool   `json:"read_only"`
				NaturalRollback bool   `json:"natural_rollback"`
				Args            []struct {
					Name     string `json:"name"`
					Type     string `json:"type"`
					Required bool   `json:"required"`
					Default  string `json:"default"`
				} `json:"args"`
				Outputs []struct {
					Name string `json:"name"`
				} `json:"outputs"`
			} `json:"actions"`
		} `json:"providers"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	assert.Equal(t, "1", doc.FormatVersion)
	types := map[string]bool{}
	acts := map[string]bool{}
	for _, p := range doc.Providers {
		types[p.Type] = true
		for _, a := range p.Actions {
			acts[a.Name] = true
			switch a.Name {
			case "k6_run":
				assert.True(t, a.ReadOnly && a.Step && !a.NaturalRollback, "k6_run")
			case "prometheus_query":
				assert.True(t, a.Probe, "prometheus_query is a probe")
			case "local_exec":
				assert.True(t, a.NaturalRollback)
				names := map[string]bool{}
				for _, o := range a.Outputs {
					names[o.Name] = true
				}
				assert.True(t, names["exit_code"] && names["stdout"], "outputs")
			}
		}
	}
	for _, want := range []string{"ssh", "exec", "aws", "http", "prometheus", "slack", "statuspage", "email", "docker", "postgres", "manual"} {
		assert.True(t, types[want], want)
	}
	for _, want := range []string{"ssh_exec", "local_exec", "k6_run", "prometheus_query", "manual_checklist"} {
		assert.True(t, acts[want], want)
	}

	r = run(t, dir, "providers", "exe")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "Did you mean exec")

	// An unknown action in a runbook points to the one meant.
	rb := writeFile(t, dir, "x.hcl", "runbook \"x\" {\n  window = \"1h\"\n}\n\nprovider \"exec\" \"l\" {}\n\nstep \"exec\" \"a\" {\n  provider  = exec.l\n  command   = [\"true\"]\n  read_only = true\n}\n")
	r = run(t, dir, "validate", rb)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `No provider offers an action named "exec"`)
	assert.Contains(t, r.stderr, "local_exec")
	assert.Contains(t, r.stderr, "handrail providers")
}
