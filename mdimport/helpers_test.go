package mdimport_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hhcl "github.com/hashicorp/hcl/v2"
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

// registry is the CLI's: the real providers, which connect lazily, so
// loading touches nothing.
func registry(t *testing.T) *provider.Registry {
	t.Helper()
	reg, err := provider.NewRegistry(&ssh.Provider{}, &exec.Provider{}, &aws.Provider{}, &httpprov.Provider{},
		&prometheus.Provider{}, &slack.Provider{}, &statuspage.Provider{}, &email.Provider{}, &docker.Provider{},
		&postgres.Provider{}, &manual.Provider{})
	require.NoError(t, err)
	return reg
}

// load writes an imported runbook and its variables to a folder and loads
// it as `handrail validate` does, with a value for every sensitive
// variable (they are never written to the .auto.hclvars).
func load(t *testing.T, name string, hclSrc, vars []byte) (*hcl.Runbook, hhcl.Diagnostics, string) {
	t.Helper()
	if os.Getenv("USER") == "" {
		t.Setenv("USER", "deploy") // ssh's default login when the document names none
	}
	dir := t.TempDir()
	path := filepath.Join(dir, name+".hcl")
	require.NoError(t, os.WriteFile(path, hclSrc, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".auto.hclvars"), vars, 0o644))
	var env []string
	for _, l := range strings.Split(string(hclSrc), "\n") {
		if strings.HasPrefix(l, "variable ") {
			name := strings.Trim(strings.Fields(l)[1], `"`)
			val := "placeholder-for-tests"
			if name == "database_url" {
				val = "postgres://tests:placeholder@127.0.0.1:5432/tests"
			}
			env = append(env, "HANDRAIL_VAR_"+name+"="+val)
		}
	}
	rb, diags := hcl.Load(context.Background(), path, hcl.Options{Registry: registry(t), Environ: env})
	return rb, diags, path
}
