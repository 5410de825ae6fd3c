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

const localPathSrc = `
runbook "r" {}
variable "name" {
  type    = string
  default = "dump.sql"
}
provider "demo" "main" { ca_file = "certs/ca.pem" }

step "demo_files" "copy" {
  provider = demo.main
  key      = "copied"
  file     = "out/${var.name}"
  files    = ["/abs/kept", "../up/x", var.name, "~/.ssh/id_ed25519"]
}

step "demo_files" "later" {
  provider = demo.main
  key      = "later"
  file     = step.copy.key
}
`

// Local path arguments written relative to a runbook resolve against the
// runbook file's directory, whatever the working directory; absolute ones,
// and every other argument, are unchanged; variables and step outputs are
// evaluated before the path is resolved.
func TestLocalPathsResolveAgainstRunbookDir(t *testing.T) {
	root := t.TempDir()
	rbDir := filepath.Join(root, "books", "release")
	require.NoError(t, os.MkdirAll(rbDir, 0o755))
	path := filepath.Join(rbDir, "release.hcl")
	require.NoError(t, os.WriteFile(path, []byte(localPathSrc), 0o644))
	elsewhere := filepath.Join(root, "elsewhere")
	require.NoError(t, os.MkdirAll(elsewhere, 0o755))
	t.Chdir(elsewhere)

	for _, name := range []string{path, filepath.Join("..", "books", "release", "release.hcl")} {
		t.Run(name, func(t *testing.T) {
			w := testprovider.NewWorld()
			rb, diags := hcl.Load(context.Background(), name, hcl.Options{Registry: w.Registry()})
			require.False(t, diags.HasErrors(), diags.Error())
			t.Cleanup(func() { _ = rb.Close() })
			res, _ := run(t, rb, true)
			require.Equal(t, runbook.StatusSucceeded, res.Status, "%v", res.Err)

			assert.Equal(t, strings.Join([]string{
				rbDir + "/out/dump.sql",
				"/abs/kept",
				root + "/books/up/x",
				rbDir + "/dump.sql",
				"~/.ssh/id_ed25519", // from the home directory: the provider expands it
			}, "|"), w.Value("copied"))
			// A step output naming a relative path is resolved too: it
			// is written in the runbook, against whose folder it reads.
			assert.Equal(t, rbDir+"/copied", w.Value("later"))
			assert.Equal(t, rbDir+"/certs/ca.pem", w.Config("demo.main").GetAttr("ca_file").AsString())
			// Arguments that are not local paths are unchanged.
			assert.Equal(t, "copied", res.Nodes["copy"].Outputs["key"])
		})
	}
}

// Errors in a local path argument still name the file and line.
func TestLocalPathErrorNamesFileLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.hcl")
	src := "runbook \"r\" {}\nprovider \"demo\" \"main\" {}\n\nstep \"demo_files\" \"copy\" {\n  provider = demo.main\n  key      = \"k\"\n  file     = [\"not\", \"a\", \"string\"]\n}\n"
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	rb, diags := hcl.Load(context.Background(), path, hcl.Options{Registry: testprovider.NewWorld().Registry()})
	require.True(t, diags.HasErrors())
	var buf bytes.Buffer
	require.NoError(t, rb.WriteDiagnostics(&buf, diags, 100, false))
	assert.Contains(t, buf.String(), path+" line 7")
	assert.Contains(t, buf.String(), `"file"`)
}

// A runbook's node hashes do not depend on the working directory it is
// loaded from (nor on how its path is spelt), and changes when the runbook
// moves: its local paths are different files then.
func TestLocalPathHashStableAcrossWorkingDirectories(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	for _, d := range []string{a, b} {
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, "release.hcl"), []byte(localPathSrc), 0o644))
	}
	hash := func(cwd, path string) []runbook.NodeHash {
		t.Chdir(cwd)
		rb, diags := hcl.Load(context.Background(), path, hcl.Options{Registry: testprovider.NewWorld().Registry()})
		require.False(t, diags.HasErrors(), diags.Error())
		defer rb.Close()
		return rb.Plan().NodeHashes()
	}
	fromA := hash(a, "release.hcl")
	assert.Equal(t, fromA, hash(b, filepath.Join("..", "a", "release.hcl")))
	assert.Equal(t, fromA, hash(root, filepath.Join(a, "release.hcl")))
	assert.NotEqual(t, fromA, hash(a, filepath.Join("..", "b", "release.hcl")))
}
