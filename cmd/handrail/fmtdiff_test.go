package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFmtDiff: fmt -diff prints what diff -u prints between the file and
// its formatted self (two hunks; a file without a final newline), patch
// applies it to give exactly what fmt writes, -check -diff leaves the file
// alone and exits 1, and a formatted file gives no diff and exit 0.
func TestFmtDiff(t *testing.T) {
	diffBin, err := exec.LookPath("diff")
	require.NoError(t, err, "diff (GNU diffutils) is needed to compare fmt -diff with diff -u")
	patchBin, err := exec.LookPath("patch")
	require.NoError(t, err, "patch is needed to apply fmt -diff's output")
	for name, src := range map[string]string{
		"two-hunks.hcl": "runbook \"x\" {\nwindow=\"1h\"\n   description =   \"d\"\n}\n\nvariable \"a\" {\n  type = string\n}\n\nvariable \"b\" {\n  type = string\n}\n\n" +
			"variable \"c\" {\n  type = string\n}\n\nprovider \"manual\" \"team\" {}\n\nstep \"manual_task\" \"one\" {\n  message=\"One\"\n  budget = \"1m\"\n}\n",
		"no-newline.hcl": "runbook \"y\" {\nwindow=\"1h\"\n}",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			f := writeFile(t, dir, name, src)
			formatted := writeFile(t, dir, "formatted.hcl", src)
			r := run(t, dir, "fmt", formatted)
			require.Equal(t, 0, r.code, r.stderr)
			want, err := os.ReadFile(formatted)
			require.NoError(t, err)
			require.NotEqual(t, src, string(want), "the source is not formatted")

			r = run(t, dir, "fmt", "-check", "-diff", name)
			assert.Equal(t, 1, r.code, r.stderr)
			d := r.stdout
			require.True(t, strings.HasPrefix(d, "--- "+name+"\n+++ "+name+"\n"), d)
			got, err := os.ReadFile(f)
			require.NoError(t, err)
			assert.Equal(t, src, string(got), "-check -diff writes nothing")

			// The same hunks as diff -u.
			gnu, _ := exec.Command(diffBin, "-u", f, formatted).Output()
			gnuBody := string(gnu)[strings.Index(string(gnu), "\n@@")+1:]
			assert.Equal(t, gnuBody, d[strings.Index(d, "\n@@")+1:])

			// patch turns the file into its formatted self.
			cp := writeFile(t, dir, "patched.hcl", src)
			cmd := exec.Command(patchBin, "-s", cp)
			cmd.Stdin = strings.NewReader(d)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "patch refused the diff: %s", out)
			patched, err := os.ReadFile(cp)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(patched))

			// fmt -diff writes and shows what it wrote; then nothing is left.
			r = run(t, dir, "fmt", "-diff", name)
			assert.Equal(t, 0, r.code, r.stderr)
			assert.Equal(t, d, r.stdout)
			r = run(t, dir, "fmt", "-check", "-diff", filepath.Join(dir, name))
			assert.Equal(t, 0, r.code, r.stdout)
			assert.Empty(t, r.stdout)
		})
	}
}
