package hcl_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
	"github.com/handrail-dev/handrail/runbook"
)

const fingerprintBase = `
runbook "fp" {}
variable "token" {
  type      = string
  sensitive = true
}
step "demo_set" "a" {
  key    = "a"
  value  = "one"
  secret = "x-${var.token}"
}
step "demo_exec" "b" {
  command = ["deploy", step.a.key, "v1"]
  rollback "demo_exec" {
    command = ["undo", self.stdout]
  }
}
gate "check" "g" {
  check "latency" {
    probe     = "demo_metric"
    metric    = "p95"
    condition = self.value < 300
  }
}
`

// hashes loads src and returns its node hashes by node name.
func hashes(t *testing.T, src string, token string) map[string]runbook.NodeHash {
	t.Helper()
	rb := load(t, testprovider.NewWorld(), src, map[string]string{"token": token})
	out := map[string]runbook.NodeHash{}
	for _, h := range rb.Plan().NodeHashes() {
		out[h.Node] = h
	}
	return out
}

func TestNodeHashesFollowArguments(t *testing.T) {
	base := hashes(t, fingerprintBase, "s3cret")
	require.Len(t, base, 3)
	tests := []struct {
		name     string
		from, to string
		do, undo []string // nodes whose action / rollback hash changes
	}{
		// a's natural rollback is built from its arguments.
		{name: "argument known at load time", from: `value  = "one"`, to: `value  = "two"`, do: []string{"a"}, undo: []string{"a"}},
		{name: "argument known at run time", from: `step.a.key, "v1"`, to: `step.a.key, "v2"`, do: []string{"b"}},
		{name: "reference changed", from: `step.a.key, "v1"`, to: `step.a.previous, "v1"`, do: []string{"b"}},
		{name: "rollback argument", from: `["undo", self.stdout]`, to: `["undo", self.command[0]]`, undo: []string{"b"}},
		{name: "probe argument", from: `metric    = "p95"`, to: `metric    = "p99"`, do: []string{"g"}},
		{name: "condition", from: `self.value < 300`, to: `self.value < 500`, do: []string{"g"}},
		{name: "layout and comments only", from: `["deploy", step.a.key, "v1"]`, to: "[\n    \"deploy\", # the verb\n    step.a.key,\n    \"v1\",\n  ]"},
		{name: "timeout is not what the step does", from: `step "demo_set" "a" {`, to: "step \"demo_set\" \"a\" {\n  timeout = \"5m\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, fingerprintBase, tc.from)
			got := hashes(t, strings.Replace(fingerprintBase, tc.from, tc.to, 1), "s3cret")
			for node, h := range base {
				assert.Equal(t, contains(tc.do, node), h.Do != got[node].Do, "action hash of %s", node)
				assert.Equal(t, contains(tc.undo, node), h.Rollback != got[node].Rollback, "rollback hash of %s", node)
			}
		})
	}
	// A sensitive value is left out of the fingerprint: it is never in a
	// hash that a journal stores.
	other := hashes(t, fingerprintBase, "another")
	assert.Equal(t, base["a"], other["a"])
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
