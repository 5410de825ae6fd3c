package hcl_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
	"github.com/handrail-dev/handrail/runbook"
)

func TestApprovalQuorumAndSeparation(t *testing.T) {
	src := `
runbook "r" {}
gate "approval" "go_no_go" {
  message       = "Go for the release?"
  approvers     = ["alice", "bob", "group:sre"]
  quorum        = 2
  separate_from = "starter"
  timeout       = "30m"
  on_timeout    = "deny"
}
`
	rb := load(t, testprovider.NewWorld(), src, nil)
	n, ok := rb.Plan().Node("go_no_go")
	require.True(t, ok)
	a := n.Gate.Approval
	require.NotNil(t, a)
	assert.Equal(t, []string{"alice", "bob", "group:sre"}, a.Approvers)
	assert.Equal(t, 2, a.Quorum)
	assert.Equal(t, runbook.SeparateFromStarter, a.SeparateFrom)
	assert.Contains(t, rb.Plan().Dump(), `quorum=2 separate_from="starter"`)

	// The Go twin of the same gate has the same hash: an approval is bound
	// to it whichever front end built the plan.
	b := runbook.NewBuilder("r")
	b.Gate(runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval, Approval: &runbook.Approval{
		Message: "Go for the release?", Approvers: []string{"alice", "bob", "group:sre"}, Quorum: 2,
		SeparateFrom: runbook.SeparateFromStarter, Timeout: a.Timeout}})
	p, err := b.Build()
	require.NoError(t, err)
	assert.Equal(t, p.Dump(), rb.Plan().Dump())
}

func TestApprovalQuorumErrors(t *testing.T) {
	for _, tc := range []struct{ attrs, want string }{
		{`approvers = ["alice"]` + "\n  quorum = 2", "Quorum cannot be reached"},
		{`quorum = 0`, "Invalid quorum"},
		{`separate_from = "owner"`, `separate_from is "starter"`},
	} {
		src := "runbook \"r\" {}\ngate \"approval\" \"g\" {\n  message = \"m\"\n  " + tc.attrs + "\n}\n"
		_, diags := hcl.LoadSource(context.Background(), "a.hcl", []byte(src), hcl.Options{Registry: testprovider.NewWorld().Registry()})
		require.True(t, diags.HasErrors(), tc.attrs)
		text := diags.Error()
		assert.Contains(t, text, tc.want)
		assert.True(t, strings.HasPrefix(text, "a.hcl:"), "diagnostics name the file and line: %s", text)
	}
}
