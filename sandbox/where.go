package sandbox

import (
	"fmt"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// where says where the parts of one block of a test file are written, so
// that a failing expectation names its file and line: each attribute by
// its name, each nested block by its type and index ("world[0]",
// "docker_container[1]"), and the block itself under "".
type where map[string]hhcl.Range

// whereIn records the attributes and nested blocks of a block's body
// (written in native syntax; JSON bodies locate at the block only).
func whereIn(def hhcl.Range, body hhcl.Body) where {
	w := where{"": def}
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return w
	}
	for name, a := range sb.Attributes {
		w[name] = a.SrcRange
	}
	count := map[string]int{}
	for _, b := range sb.Blocks {
		w[fmt.Sprintf("%s[%d]", b.Type, count[b.Type])] = b.DefRange()
		count[b.Type]++
	}
	return w
}

// nestedBlock returns the i-th nested block of type typ of a body written
// in native syntax, or nil.
func nestedBlock(body hhcl.Body, typ string, i int) *hclsyntax.Block {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	n := 0
	for _, b := range sb.Blocks {
		if b.Type != typ {
			continue
		}
		if n == i {
			return b
		}
		n++
	}
	return nil
}

// at prefixes msg with "FILE:LINE: " of key, or of the block when key is
// not written (a default).
func (w where) at(key, msg string) string {
	r, ok := w[key]
	if !ok {
		r, ok = w[""]
	}
	if !ok || r.Filename == "" {
		return msg
	}
	return fmt.Sprintf("%s:%d: %s", r.Filename, r.Start.Line, msg)
}
