package hcl_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixtureOptions reads "# vars: k=v", "# env: K=V" and "# var-file: f"
// header comments.
func fixtureOptions(t *testing.T, path string, src []byte) hcl.Options {
	opts := hcl.Options{Registry: testprovider.NewWorld().Registry(), Vars: map[string]string{}}
	for _, line := range strings.Split(string(src), "\n") {
		if !strings.HasPrefix(line, "# ") {
			break
		}
		key, val, _ := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
		switch key {
		case "vars":
			k, v, _ := strings.Cut(val, "=")
			opts.Vars[k] = v
		case "env":
			opts.Environ = append(opts.Environ, val)
		case "var-file":
			opts.VarFiles = append(opts.VarFiles, filepath.Join(filepath.Dir(path), val))
		}
	}
	return opts
}

func renderDiags(diags hhcl.Diagnostics) string {
	var sb strings.Builder
	for _, d := range diags {
		sev := "error"
		if d.Severity == hhcl.DiagWarning {
			sev = "warning"
		}
		fmt.Fprintf(&sb, "%s:%d,%d: %s: %s\n", filepath.Base(d.Subject.Filename), d.Subject.Start.Line, d.Subject.Start.Column, sev, d.Summary)
	}
	return sb.String()
}

func invalidFixtures(t *testing.T) []string {
	files, err := filepath.Glob("../testdata/hcl/invalid/*.hcl")
	require.NoError(t, err)
	more, _ := filepath.Glob("../testdata/hcl/invalid/*/main.hcl")
	return append(files, more...)
}

func TestInvalidFixtures(t *testing.T) {
	files := invalidFixtures(t)
	require.GreaterOrEqual(t, len(files), 30)
	for _, path := range files {
		name := strings.TrimPrefix(path, "../testdata/hcl/invalid/")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(path)
			require.NoError(t, err)
			opts := fixtureOptions(t, path, src)
			rb, diags := hcl.Load(context.Background(), path, opts)
			require.NotNil(t, rb)
			require.True(t, diags.HasErrors(), "want errors")
			assert.Nil(t, rb.Plan())
			for _, d := range diags {
				require.NotNil(t, d.Subject, "every diagnostic has a range: %s", d.Summary)
			}
			got := renderDiags(diags)
			golden := strings.TrimSuffix(path, ".hcl") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "missing golden (run with -update)")
			assert.Equal(t, string(want), got)
			// The text writer can print them all with snippets.
			var buf bytes.Buffer
			require.NoError(t, rb.WriteDiagnostics(&buf, diags, 100, false))
			assert.NotContains(t, buf.String(), "(source code not available)")
		})
	}
}

func TestValidFixtures(t *testing.T) {
	files, err := filepath.Glob("../testdata/hcl/valid/*.hcl")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			require.NoError(t, err)
			opts := fixtureOptions(t, path, src)
			rb, diags := hcl.Load(context.Background(), path, opts)
			var buf bytes.Buffer
			_ = rb.WriteDiagnostics(&buf, diags, 100, false)
			require.False(t, diags.HasErrors(), buf.String())
			require.NotNil(t, rb.Plan())
			var plan bytes.Buffer
			require.NoError(t, rb.WritePlan(&plan))
			golden := strings.TrimSuffix(path, ".hcl") + ".plan"
			got := rb.Plan().Dump() + "\n---\n" + plan.String()
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "missing golden (run with -update)")
			assert.Equal(t, string(want), got)
		})
	}
}

func TestFormatIdempotentOnValidFixtures(t *testing.T) {
	files, _ := filepath.Glob("../testdata/hcl/valid/*.hcl")
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			require.NoError(t, err)
			once, diags := hcl.Format(path, src)
			require.False(t, diags.HasErrors(), diags.Error())
			twice, diags := hcl.Format(path, once)
			require.False(t, diags.HasErrors())
			assert.Equal(t, string(once), string(twice), "Format is idempotent")
			assert.Equal(t, string(src), string(once), "fixtures are kept formatted")
		})
	}
}

func TestFormatFixesLayout(t *testing.T) {
	src := []byte("runbook \"x\" {\ndescription=\"d\"\n   window =    \"1h\"\n}\n")
	got, diags := hcl.Format("x.hcl", src)
	require.False(t, diags.HasErrors())
	assert.Equal(t, "runbook \"x\" {\n  description = \"d\"\n  window      = \"1h\"\n}\n", string(got))
	_, diags = hcl.Format("x.hcl", []byte("runbook {"))
	assert.True(t, diags.HasErrors())
}
