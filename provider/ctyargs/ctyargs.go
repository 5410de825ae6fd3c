// Package ctyargs reads the decoded arguments of a provider block or an
// action (a cty object or map, or null) by name: the one decoder every
// provider uses.
//
// Absent and null arguments read as zero values, so that optional arguments
// need no special case; a value of the wrong type, or one that is not known
// yet, is an error naming the argument and what was wanted. [Attrs] keeps
// the first error, so that a decoder reads every argument and checks once.
// Nothing here panics on bad input.
//
//	a := &ctyargs.Attrs{V: args, Where: "http_check"}
//	url, timeout := a.Str("url"), a.Duration("timeout")
//	if err := a.Err(); err != nil {
//		return nil, err // "http_check: url: want a string, got number"
//	}
package ctyargs

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// GoValue converts a wholly known cty value to plain JSON-compatible Go
// values: string, bool, json.Number, []any, map[string]any or nil. Marks
// are removed; an unknown value is an error.
func GoValue(v cty.Value) (any, error) {
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return nil, fmt.Errorf("the value is not known yet")
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}
