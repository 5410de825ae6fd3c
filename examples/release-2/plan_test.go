package release2_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/hcl"
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

// TestValidatesWithTheRealProviders loads release-2.hcl with the standard
// providers (which connect lazily: nothing is touched) and renders its
// plan, as `handrail validate` and `handrail plan` do.
func TestValidatesWithTheRealProviders(t *testing.T) {
	reg, err := provider.NewRegistry(&ssh.Provider{}, &httpprov.Provider{}, &prometheus.Provider{}, &slack.Provider{},
		&statuspage.Provider{}, &email.Provider{}, &docker.Provider{}, &postgres.Provider{}, &aws.Provider{}, &exec.Provider{}, &manual.Provider{})
	require.NoError(t, err)
	rb, diags := hcl.Load(context.Background(), "release-2.hcl", hcl.Options{Registry: reg})
	require.False(t, diags.HasErrors(), diags.Error())
	defer rb.Close()
	var buf bytes.Buffer
	require.NoError(t, rb.WritePlan(&buf))
	plan := buf.String()
	for _, want := range []string{"phase ramp", "step traffic[50]", "gate soak[50]", "rollback (natural)", "gate rollback_criteria"} {
		assert.Contains(t, plan, want)
	}
	for _, secret := range []string{"placeholder-smoke-password", "placeholder-statuspage-api-key", "hooks.slack.com/services/T0000", "dcmms:placeholder@"} {
		assert.NotContains(t, plan, secret)
		assert.NotContains(t, rb.Plan().Dump(), secret)
	}
}
