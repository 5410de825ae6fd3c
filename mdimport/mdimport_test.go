package mdimport_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/mdimport"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func docs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/docs/*.md")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func importFile(t *testing.T, path string) *mdimport.Result {
	t.Helper()
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	res, err := mdimport.Import(filepath.Base(path), src)
	require.NoError(t, err)
	return res
}

// TestGolden compares each document's import with its reviewed golden
// files (testdata/golden; -update rewrites them, then review the diff).
func TestGolden(t *testing.T) {
	for _, f := range docs(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".md")
		t.Run(name, func(t *testing.T) {
			res := importFile(t, f)
			for ext, got := range map[string][]byte{".hcl": res.HCL, ".auto.hclvars": res.Vars} {
				golden := filepath.Join("testdata/golden", name+ext)
				if *update {
					require.NoError(t, os.WriteFile(golden, got, 0o644))
					continue
				}
				want, err := os.ReadFile(golden)
				require.NoError(t, err, "run go test ./mdimport -run TestGolden -update")
				assert.Equal(t, string(want), string(got), golden)
			}
		})
	}
}

var todoRE = regexp.MustCompile(`TODO\(import\)`)

// TestValidate: every imported document loads with the real providers and
// fails only with "Step has no rollback", once per step marked
// TODO(import), at that step's block.
func TestValidate(t *testing.T) {
	for _, f := range docs(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".md")
		t.Run(name, func(t *testing.T) {
			res := importFile(t, f)
			rb, diags, path := load(t, name, res.HCL, res.Vars)
			lines := strings.Split(string(res.HCL), "\n")
			// The steps marked TODO: the line of the step block after each marker.
			want := map[int]bool{}
			for i, l := range lines {
				if todoRE.MatchString(l) && strings.Contains(l, "no rollback") {
					for j := i + 1; j < len(lines); j++ {
						if strings.HasPrefix(strings.TrimSpace(lines[j]), "step ") {
							want[j+1] = true
							break
						}
					}
				}
			}
			got := map[int]bool{}
			for _, d := range diags.Errs() {
				var buf strings.Builder
				_ = rb.WriteDiagnostics(&buf, diags, 100, false)
				require.Equal(t, "Step has no rollback", diagSummary(d), buf.String())
			}
			for _, d := range diags {
				require.NotNil(t, d.Subject, "a located error")
				require.Equal(t, path, d.Subject.Filename)
				require.False(t, got[d.Subject.Start.Line], "one error per step")
				got[d.Subject.Start.Line] = true
			}
			assert.Equal(t, want, got)
			assert.Equal(t, res.Stats.Placeholders, len(got))
			if len(got) == 0 {
				require.NotNil(t, rb.Plan())
				_ = rb.Close()
			}
		})
	}
}

func diagSummary(err error) string {
	s := err.Error()
	// "file:line,col-col: Summary; detail"
	if i := strings.Index(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	if i := strings.Index(s, ";"); i >= 0 {
		s = s[:i]
	}
	return s
}

// TestSecretsStayOut: literal secrets of the documents reach neither the
// runbook nor its variables file.
func TestSecretsStayOut(t *testing.T) {
	for _, f := range docs(t) {
		res := importFile(t, f)
		for _, secret := range []string{"hunter2-very-secret", "s3cr3t-pass"} {
			assert.NotContains(t, string(res.HCL), secret, f)
			assert.NotContains(t, string(res.Vars), secret, f)
		}
	}
}

func TestNoSteps(t *testing.T) {
	_, err := mdimport.Import("notes.md", []byte("# Notes\n\nNothing to run here.\n"))
	require.ErrorIs(t, err, mdimport.ErrNoSteps)
	assert.Contains(t, err.Error(), "notes.md")
}
