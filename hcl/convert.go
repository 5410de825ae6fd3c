package hcl

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// convertLinear is convert.Convert in time linear in the size of the
// value. go-cty converts a tuple to a list or set, and an object to a map,
// by first unifying the types of all its elements, which sorts them with a
// quadratic algorithm: a 100,000-element list variable took minutes. When
// the target's element type is exact (no "any" in it) no unification is
// needed, so this converts element by element, recursively, and builds the
// collection once. Anything else goes to convert.Convert. Marks are kept.
func convertLinear(val cty.Value, ty cty.Type) (cty.Value, error) {
	if ty == cty.DynamicPseudoType || ty.HasDynamicTypes() || !val.IsWhollyKnown() || val.IsNull() {
		return convert.Convert(val, ty)
	}
	vt := val.Type()
	if vt.Equals(ty) && !val.ContainsMarked() {
		return val, nil
	}
	switch {
	case (ty.IsListType() || ty.IsSetType()) && (vt.IsTupleType() || vt.IsListType() || vt.IsSetType()):
		inner, marks := val.Unmark()
		ety := ty.ElementType()
		elems := make([]cty.Value, 0, inner.LengthInt())
		for it := inner.ElementIterator(); it.Next(); {
			k, e := it.Element()
			ce, err := convertLinear(e, ety)
			if err != nil {
				if vt.IsSetType() {
					return cty.NilVal, err
				}
				return cty.NilVal, prefixed(k, err)
			}
			elems = append(elems, ce)
		}
		var out cty.Value
		switch {
		case len(elems) == 0 && ty.IsListType():
			out = cty.ListValEmpty(ety)
		case len(elems) == 0:
			out = cty.SetValEmpty(ety)
		case ty.IsListType():
			out = cty.ListVal(elems)
		default:
			out = cty.SetVal(elems)
		}
		return out.WithMarks(marks), nil
	case ty.IsMapType() && (vt.IsObjectType() || vt.IsMapType()):
		inner, marks := val.Unmark()
		ety := ty.ElementType()
		elems := make(map[string]cty.Value, inner.LengthInt())
		for it := inner.ElementIterator(); it.Next(); {
			k, e := it.Element()
			ce, err := convertLinear(e, ety)
			if err != nil {
				return cty.NilVal, prefixed(k, err)
			}
			elems[k.AsString()] = ce
		}
		if len(elems) == 0 {
			return cty.MapValEmpty(ety).WithMarks(marks), nil
		}
		return cty.MapVal(elems).WithMarks(marks), nil
	case ty.IsObjectType() && vt.IsObjectType() && len(ty.OptionalAttributes()) == 0:
		for name := range vt.AttributeTypes() {
			if !ty.HasAttribute(name) {
				return convert.Convert(val, ty)
			}
		}
		inner, marks := val.Unmark()
		attrs := make(map[string]cty.Value, len(ty.AttributeTypes()))
		for name, aty := range ty.AttributeTypes() {
			if !vt.HasAttribute(name) {
				return convert.Convert(val, ty) // its message names the missing attribute
			}
			ce, err := convertLinear(inner.GetAttr(name), aty)
			if err != nil {
				return cty.NilVal, fmt.Errorf("attribute %q: %w", name, err)
			}
			attrs[name] = ce
		}
		if len(attrs) == 0 {
			return cty.EmptyObjectVal.WithMarks(marks), nil
		}
		return cty.ObjectVal(attrs).WithMarks(marks), nil
	}
	return convert.Convert(val, ty)
}

// prefixed says which element an error is about, as go-cty does
// ("element 3: ...", "element \"k\": ...").
func prefixed(key cty.Value, err error) error {
	if key.Type() == cty.String {
		return fmt.Errorf("element %q: %w", key.AsString(), err)
	}
	i, _ := key.AsBigFloat().Int64()
	return fmt.Errorf("element %d: %w", i, err)
}
