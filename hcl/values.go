package hcl

import (
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/handrail-dev/handrail/runbook"
)

// marker is the type of the cty marks this package sets.
type marker string

// sensitiveMark marks a sensitive value.
const sensitiveMark = marker("sensitive")

func markSensitive(v cty.Value) cty.Value { return v.Mark(sensitiveMark) }

// hasSensitive reports whether v or any value inside it is sensitive.
func hasSensitive(v cty.Value) bool {
	if v.HasMark(sensitiveMark) {
		return true
	}
	_, pvm := v.UnmarkDeepWithPaths()
	for _, p := range pvm {
		if _, ok := p.Marks[sensitiveMark]; ok {
			return true
		}
	}
	return false
}

// sensitiveStrings returns every string inside v that is sensitive or lies
// under a sensitive mark. Unknown values are skipped.
func sensitiveStrings(v cty.Value) []string {
	var out []string
	var walk func(v cty.Value, under bool)
	walk = func(v cty.Value, under bool) {
		v, marks := v.Unmark()
		if _, ok := marks[sensitiveMark]; ok {
			under = true
		}
		if v.IsNull() || !v.IsKnown() {
			return
		}
		ty := v.Type()
		switch {
		case ty == cty.String:
			if under {
				out = append(out, v.AsString())
			}
		case ty == cty.Number || ty == cty.Bool:
			if under {
				out = append(out, primitiveString(v))
			}
		case ty.IsListType() || ty.IsSetType() || ty.IsTupleType() || ty.IsMapType() || ty.IsObjectType():
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				walk(e, under)
			}
		}
	}
	walk(v, false)
	return out
}

// unmarkForProvider strips marks at the provider boundary and returns the
// sensitive strings found, for the redactor.
func unmarkForProvider(v cty.Value) (cty.Value, []string) {
	secrets := sensitiveStrings(v)
	u, _ := v.UnmarkDeep()
	return u, secrets
}

func primitiveString(v cty.Value) string {
	switch v.Type() {
	case cty.String:
		return v.AsString()
	case cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	case cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			i, _ := bf.Int(nil)
			return i.String()
		}
		return bf.Text('g', -1)
	}
	return ""
}

// goToCty converts a JSON-compatible Go value (a step output) to cty.
// runbook.Secret values become marked strings.
func goToCty(v any) (cty.Value, error) {
	switch x := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType), nil
	case runbook.Secret:
		return markSensitive(cty.StringVal(x.Reveal())), nil
	case string:
		return cty.StringVal(x), nil
	case bool:
		return cty.BoolVal(x), nil
	case int:
		return cty.NumberIntVal(int64(x)), nil
	case int8:
		return cty.NumberIntVal(int64(x)), nil
	case int16:
		return cty.NumberIntVal(int64(x)), nil
	case int32:
		return cty.NumberIntVal(int64(x)), nil
	case int64:
		return cty.NumberIntVal(x), nil
	case uint:
		return cty.NumberUIntVal(uint64(x)), nil
	case uint8:
		return cty.NumberUIntVal(uint64(x)), nil
	case uint16:
		return cty.NumberUIntVal(uint64(x)), nil
	case uint32:
		return cty.NumberUIntVal(uint64(x)), nil
	case uint64:
		return cty.NumberUIntVal(x), nil
	case float32:
		return cty.NumberFloatVal(float64(x)), nil
	case float64:
		return cty.NumberFloatVal(x), nil
	case json.Number:
		bf, ok := new(big.Float).SetString(string(x))
		if !ok {
			return cty.NilVal, fmt.Errorf("invalid number %q", x)
		}
		return cty.NumberVal(bf), nil
	case []string:
		if len(x) == 0 {
			return cty.ListValEmpty(cty.String), nil
		}
		vals := make([]cty.Value, len(x))
		for i, s := range x {
			vals[i] = cty.StringVal(s)
		}
		return cty.ListVal(vals), nil
	case []any:
		vals := make([]cty.Value, len(x))
		for i, e := range x {
			c, err := goToCty(e)
			if err != nil {
				return cty.NilVal, err
			}
			vals[i] = c
		}
		return cty.TupleVal(vals), nil
	case runbook.Outputs:
		return goToCty(map[string]any(x))
	case map[string]any:
		attrs := make(map[string]cty.Value, len(x))
		for k, e := range x {
			c, err := goToCty(e)
			if err != nil {
				return cty.NilVal, err
			}
			attrs[k] = c
		}
		return cty.ObjectVal(attrs), nil
	case map[string]string:
		attrs := make(map[string]cty.Value, len(x))
		for k, e := range x {
			attrs[k] = cty.StringVal(e)
		}
		return cty.ObjectVal(attrs), nil
	}
	return cty.NilVal, fmt.Errorf("unsupported output value of Go type %T", v)
}

// convertOutput converts a Go output to the declared type, marking it when
// sensitive.
func convertOutput(v any, ty cty.Type, sensitive bool) (cty.Value, error) {
	c, err := goToCty(v)
	if err != nil {
		return cty.NilVal, err
	}
	if c.IsNull() {
		c = cty.NullVal(ty)
	} else if ty != cty.DynamicPseudoType {
		conv, err := convert.Convert(c, ty)
		if err != nil {
			return cty.NilVal, err
		}
		c = conv
	}
	if sensitive {
		c = markSensitive(c)
	}
	return c, nil
}

// ctyToGo converts a value to a JSON-compatible Go value; sensitive strings
// become runbook.Secret, other sensitive values "(sensitive)".
func ctyToGo(v cty.Value) any {
	v, marks := v.Unmark()
	_, sens := marks[sensitiveMark]
	if !v.IsKnown() || v.IsNull() {
		return nil
	}
	ty := v.Type()
	if sens {
		if ty == cty.String {
			return runbook.NewSecret(v.AsString())
		}
		if u, _ := v.UnmarkDeep(); u.Type().IsPrimitiveType() {
			return runbook.NewSecret(primitiveString(u))
		}
	}
	switch {
	case ty == cty.String:
		return v.AsString()
	case ty == cty.Bool:
		return v.True()
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return i
			}
		}
		f, _ := bf.Float64()
		return f
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		out := []any{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, ctyToGo(e))
		}
		return out
	case ty.IsMapType() || ty.IsObjectType():
		out := map[string]any{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = ctyToGo(e)
		}
		return out
	}
	return nil
}

// renderInput renders a variable's value for the journal.
func renderInput(v cty.Value) string {
	u, _ := v.UnmarkDeep()
	if u.IsNull() {
		return "null"
	}
	if u.Type() == cty.String {
		return u.AsString()
	}
	return renderValue(u, nil)
}

// renderValue renders a value in HCL syntax. Sensitive parts render as
// (sensitive), unknown ones as what unknown returns.
func renderValue(v cty.Value, unknown func() string) string {
	var sb strings.Builder
	writeValue(&sb, v, unknown)
	return sb.String()
}

func writeValue(sb *strings.Builder, v cty.Value, unknown func() string) {
	if v.HasMark(sensitiveMark) {
		sb.WriteString("(sensitive)")
		return
	}
	v, _ = v.Unmark()
	if !v.IsKnown() {
		if unknown != nil {
			sb.WriteString(unknown())
		} else {
			sb.WriteString("(known after apply)")
		}
		return
	}
	if v.IsNull() {
		sb.WriteString("null")
		return
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		sb.WriteString(quote(v.AsString()))
	case ty.IsPrimitiveType():
		sb.WriteString(primitiveString(v))
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		sb.WriteString("[")
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			if i > 0 {
				sb.WriteString(", ")
			}
			_, e := it.Element()
			writeValue(sb, e, unknown)
		}
		sb.WriteString("]")
	case ty.IsMapType() || ty.IsObjectType():
		var keys []string
		m := map[string]cty.Value{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			keys = append(keys, k.AsString())
			m[k.AsString()] = e
		}
		sort.Strings(keys)
		sb.WriteString("{")
		for i, k := range keys {
			if i > 0 {
				sb.WriteString(", ")
			}
			if hclIdent(k) {
				sb.WriteString(k)
			} else {
				sb.WriteString(quote(k))
			}
			sb.WriteString(" = ")
			writeValue(sb, m[k], unknown)
		}
		sb.WriteString("}")
	case ty.IsCapsuleType():
		sb.WriteString(v.GoString())
	default:
		sb.WriteString("?")
	}
}

// quote returns s as an HCL quoted string (JSON escapes, without escaping
// HTML characters).
func quote(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func hclIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && (r == '-' || (r >= '0' && r <= '9'))) {
			continue
		}
		return false
	}
	return true
}

// maxSuggestLen bounds the names suggestName compares, in bytes.
const maxSuggestLen = 256

// suggestName returns a " Did you mean "x"?" hint.
func suggestName(name string, candidates []string) string {
	best, bestD := "", 3
	if len(name) > 6 {
		bestD = 4
	}
	for _, c := range candidates {
		// Names that long are never typos of each other worth the
		// quadratic cost.
		if len(name) > maxSuggestLen || len(c) > maxSuggestLen {
			continue
		}
		if d := levenshtein.Distance(name, c, nil); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}
