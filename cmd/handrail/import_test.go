package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImportValidateDoc: `handrail import` writes the runbook and its
// variables, `handrail validate` then lists one located error per step
// left without a rollback (and nothing else), and `handrail doc` renders
// the runbook back as Markdown.
func TestImportValidateDoc(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../mdimport/testdata/docs/seed_shape.md")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "release.md"), src, 0o644))

	r := run(t, dir, "import", "release.md", "-o", "release.hcl")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "Wrote release.hcl")
	assert.FileExists(t, filepath.Join(dir, "release.auto.hclvars"))
	hclSrc, err := os.ReadFile(filepath.Join(dir, "release.hcl"))
	require.NoError(t, err)
	todos := strings.Count(string(hclSrc), "TODO(import): no rollback")
	require.Positive(t, todos)

	// A second import refuses to overwrite.
	r = run(t, dir, "import", "release.md", "-o", "release.hcl")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "-force")

	t.Setenv("HANDRAIL_VAR_database_url", "postgres://tests:placeholder@127.0.0.1:5432/tests")
	if os.Getenv("USER") == "" {
		t.Setenv("USER", "deploy")
	}
	r = run(t, dir, "validate", "release.hcl")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, todos, strings.Count(r.stderr, "Error: Step has no rollback"), r.stderr)
	assert.Equal(t, todos, strings.Count(r.stderr, "Error: "), r.stderr)
	assert.Contains(t, r.stderr, "release.hcl line ")

	r = run(t, dir, "doc", "release.hcl", "-o", "release-doc.md")
	require.Equal(t, 0, r.code, r.stderr)
	doc, err := os.ReadFile(filepath.Join(dir, "release-doc.md"))
	require.NoError(t, err)
	assert.Contains(t, string(doc), "## Timeline")
	assert.Contains(t, string(doc), "## Rollback procedure")
	assert.Contains(t, string(doc), "ssh deploy@billing-app-01")

	r = run(t, dir, "import", "notes.md")
	assert.Equal(t, 1, r.code)
}
