package hcl_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
	"github.com/handrail-dev/handrail/runbook"
)

// TestVarFileMistakesNeverEchoValues: a var file that does not parse, or
// that sets a misspelt (undeclared) variable, shows file, line and names in
// its diagnostics but no value.
func TestVarFileMistakesNeverEchoValues(t *testing.T) {
	const rbSrc = `
runbook "v" {}
variable "api_token" {
  type      = string
  sensitive = true
}
variable "region" {
  type    = string
  default = "eu"
}
`
	cases := map[string]struct {
		vars     string
		wantLine string // a line the diagnostics show, masked
		wantErr  bool
	}{
		"unterminated string":  {"region = \"eu\"\napi_token = \"" + secret + "\nregion2 = 1\n", "api_token =", true},
		"unterminated heredoc": {"api_token = <<EOT\n" + secret + "\n", "bad.hclvars line 3", true},
		"stray quote":          {"api_token = " + secret + "\"\n", "api_token =", true},
		"misspelt name":        {"api_tokn = \"" + secret + "\"\napi_token = \"abc123\"\n", "api_tokn =", false},
		"bad character":        {"api_token = \"" + secret + "\" ` x\n", "api_token =", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "main.hcl")
			require.NoError(t, os.WriteFile(path, []byte(rbSrc), 0o644))
			vf := filepath.Join(dir, "bad.hclvars")
			require.NoError(t, os.WriteFile(vf, []byte(tc.vars), 0o644))
			rb, diags := hcl.Load(context.Background(), path, hcl.Options{Registry: testprovider.NewWorld().Registry(), VarFiles: []string{vf}})
			require.NotEmpty(t, diags)
			assert.Equal(t, tc.wantErr, diags.HasErrors(), diags.Error())
			var buf bytes.Buffer
			require.NoError(t, rb.WriteDiagnostics(&buf, diags, 120, false))
			buf.WriteString(diags.Error())
			out := buf.String()
			assert.Contains(t, out, "bad.hclvars line", "the diagnostics say where")
			assert.Contains(t, out, tc.wantLine)
			for _, frag := range []string{secret, secret[:8], secret[len(secret)-8:]} {
				assert.NotContains(t, out, frag)
			}
		})
	}
}

// TestShortSensitiveValueRefused: a sensitive variable whose value is
// shorter than runbook.MinSecretLen cannot be redacted, so it is refused,
// naming the variable but not the value.
func TestShortSensitiveValueRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "main.hcl")
	require.NoError(t, os.WriteFile(path, []byte(`
runbook "v" {}
variable "pin" {
  type      = string
  sensitive = true
}
`), 0o644))
	_, diags := hcl.Load(context.Background(), path, hcl.Options{Registry: testprovider.NewWorld().Registry(), Vars: map[string]string{"pin": "Q7"}})
	require.True(t, diags.HasErrors())
	assert.Contains(t, diags.Error(), `"pin"`)
	assert.Contains(t, diags.Error(), "too short")
	assert.NotContains(t, diags.Error(), "Q7")
	for _, ok := range []string{"", "Q7z"} {
		_, diags = hcl.Load(context.Background(), path, hcl.Options{Registry: testprovider.NewWorld().Registry(), Vars: map[string]string{"pin": ok}})
		assert.False(t, diags.HasErrors(), "%q: %s", ok, diags.Error())
	}
	assert.True(t, strings.Contains(runbook.CheckSecret("ab").Error(), "at least 3 bytes"))
}
