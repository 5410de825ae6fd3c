package hcl

import (
	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical layout (indentation, aligned equals
// signs, spacing), like `terraform fmt`. It is idempotent. Source that does
// not parse is returned unchanged with the syntax errors.
func Format(filename string, src []byte) ([]byte, hhcl.Diagnostics) {
	if _, diags := hclsyntax.ParseConfig(src, filename, hhcl.InitialPos); diags.HasErrors() {
		return src, diags
	}
	f, diags := hclwrite.ParseConfig(src, filename, hhcl.InitialPos)
	if diags.HasErrors() {
		return src, diags
	}
	return hclwrite.Format(f.Bytes()), nil
}
