package hcl

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// TestConvertLinearSameAsConvert: convertLinear gives go-cty's own answer
// (value, marks, and whether it fails) on every shape it handles.
func TestConvertLinearSameAsConvert(t *testing.T) {
	s, n := cty.StringVal, cty.NumberIntVal
	mark := "sensitive"
	values := []cty.Value{
		cty.TupleVal([]cty.Value{s("a"), s("b")}),
		cty.TupleVal([]cty.Value{s("a"), n(2)}),
		cty.TupleVal([]cty.Value{s("a"), s("a")}),
		cty.TupleVal([]cty.Value{s("a"), cty.NullVal(cty.String)}),
		cty.TupleVal([]cty.Value{s("a"), cty.EmptyObjectVal}),
		cty.TupleVal([]cty.Value{s("x").Mark(mark), s("y")}),
		cty.TupleVal([]cty.Value{s("x"), s("y")}).Mark(mark),
		cty.TupleVal([]cty.Value{cty.TupleVal([]cty.Value{n(1), s("2")}), cty.EmptyTupleVal}),
		cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"a": n(1), "b": s("x")})}),
		cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"a": n(1)})}),
		cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"a": n(1), "b": s("x"), "c": cty.True})}),
		cty.EmptyTupleVal,
		cty.ListVal([]cty.Value{s("1"), s("2")}),
		cty.SetVal([]cty.Value{s("1"), s("2")}),
		cty.ObjectVal(map[string]cty.Value{"k": s("v"), "n": n(3)}),
		cty.ObjectVal(map[string]cty.Value{"k": cty.TupleVal([]cty.Value{s("v")})}),
		cty.ObjectVal(map[string]cty.Value{"a": n(1), "b": s("x")}),
		cty.MapVal(map[string]cty.Value{"k": s("v")}),
		cty.EmptyObjectVal,
		cty.UnknownVal(cty.Tuple([]cty.Type{cty.String})),
		cty.TupleVal([]cty.Value{cty.UnknownVal(cty.String)}),
		cty.NullVal(cty.Tuple([]cty.Type{cty.String})),
		s("not a list"),
	}
	types := []cty.Type{
		cty.List(cty.String), cty.Set(cty.String), cty.List(cty.Number), cty.List(cty.List(cty.String)),
		cty.Map(cty.String), cty.Map(cty.List(cty.String)), cty.List(cty.DynamicPseudoType),
		cty.Object(map[string]cty.Type{"a": cty.Number, "b": cty.String}),
		cty.List(cty.Object(map[string]cty.Type{"a": cty.Number, "b": cty.String})),
		cty.ObjectWithOptionalAttrs(map[string]cty.Type{"a": cty.Number, "b": cty.String}, []string{"b"}),
		cty.String,
	}
	for _, v := range values {
		for _, ty := range types {
			got, errGot := convertLinear(v, ty)
			want, errWant := convert.Convert(v, ty)
			if (errGot == nil) != (errWant == nil) {
				t.Errorf("%#v to %s: error %v, go-cty says %v", v, ty.FriendlyName(), errGot, errWant)
				continue
			}
			if errGot != nil {
				if errGot.Error() != errWant.Error() {
					t.Logf("%#v to %s: message %q, go-cty's %q", v, ty.FriendlyName(), errGot, errWant)
				}
				continue
			}
			if !got.RawEquals(want) {
				t.Errorf("%#v to %s: got %#v, go-cty gives %#v", v, ty.FriendlyName(), got, want)
			}
		}
	}
}

// BenchmarkConvertLinear100k: a 100,000-element tuple to list(string).
func BenchmarkConvertLinear100k(b *testing.B) {
	elems := make([]cty.Value, 100000)
	for i := range elems {
		elems[i] = cty.StringVal("host")
	}
	v := cty.TupleVal(elems)
	for b.Loop() {
		if _, err := convertLinear(v, cty.List(cty.String)); err != nil {
			b.Fatal(err)
		}
	}
}
