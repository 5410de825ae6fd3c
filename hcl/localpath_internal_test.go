package hcl

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
)

// A provider configuration's local path marked DefaultsToRunbookDir that
// is left out becomes the directory of the file declaring the block; one
// that is set is resolved as any local path; an unmarked one stays null;
// nothing changes for a source without a file name; marks are kept.
func TestResolveSchemaDefaultsToRunbookDir(t *testing.T) {
	s := provider.Schema{
		"dir":   {Type: cty.String, LocalPath: true, DefaultsToRunbookDir: true},
		"ca":    {Type: cty.String, LocalPath: true},
		"other": {Type: cty.String},
	}
	root := t.TempDir()
	file := filepath.Join(root, "books", "release.hcl")
	obj := func(dir, ca cty.Value) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"dir": dir, "ca": ca, "other": cty.NullVal(cty.String)})
	}
	null := cty.NullVal(cty.String)

	got := resolveSchema(obj(null, null), s, file)
	assert.Equal(t, filepath.Join(root, "books"), got.GetAttr("dir").AsString())
	assert.True(t, got.GetAttr("ca").IsNull())
	assert.True(t, got.GetAttr("other").IsNull())

	got = resolveSchema(obj(cty.StringVal("tools"), null), s, file)
	assert.Equal(t, filepath.Join(root, "books", "tools"), got.GetAttr("dir").AsString())

	assert.True(t, resolveSchema(obj(null, null), s, "").GetAttr("dir").IsNull())

	got = resolveSchema(obj(null, null).Mark("sensitive"), s, file)
	assert.True(t, got.HasMark("sensitive"))

	// A relative file name is the working directory's.
	t.Chdir(root)
	cwd, err := os.Getwd()
	require.NoError(t, err)
	got = resolveSchema(obj(null, null), s, "release.hcl")
	assert.Equal(t, cwd, got.GetAttr("dir").AsString())
}
