package hcl

import (
	"testing"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

func TestConvertArgSameAsConvert(t *testing.T) {
	unk := cty.UnknownVal(cty.String).RefineNotNull()
	for i, v := range []cty.Value{
		cty.TupleVal([]cty.Value{cty.StringVal("a"), unk}),
		cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NullVal(cty.String)}),
		cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.UnknownVal(cty.String)}),
		cty.TupleVal([]cty.Value{cty.NumberIntVal(1), cty.StringVal("x")}),
		cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NumberIntVal(14), unk, cty.NumberIntVal(-3), cty.True, cty.False}),
		cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NumberFloatVal(1.5)}),
		cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NumberFloatVal(1e30)}),
		cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.MustParseNumberVal("-0")}),
		cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.MustParseNumberVal("123456789012345678901234567890")}),
		cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NumberIntVal(7).Mark("sensitive")}),
		cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NullVal(cty.Number)}),
		cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.UnknownVal(cty.Number)}),
		cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.UnknownVal(cty.Bool).RefineNotNull()}),
		cty.TupleVal([]cty.Value{cty.NumberIntVal(9223372036854775807), cty.MustParseNumberVal("-9223372036854775808")}),
		cty.EmptyTupleVal,
	} {
		for _, ty := range []cty.Type{cty.List(cty.String), cty.List(cty.Number), cty.List(cty.DynamicPseudoType)} {
			a, errA := convertArg(v, ty)
			b, errB := convert.Convert(v, ty)
			if (errA == nil) != (errB == nil) || (errA == nil && !a.RawEquals(b)) {
				t.Errorf("%d %s: %#v %v vs %#v %v", i, ty.FriendlyName(), a, errA, b, errB)
			}
		}
	}
}

func TestArgValueAsSameAsHCL(t *testing.T) {
	ctx := &hhcl.EvalContext{Variables: map[string]cty.Value{
		"x": cty.ObjectVal(map[string]cty.Value{"y": cty.UnknownVal(cty.String).RefineNotNull(), "n": cty.NumberIntVal(3)}),
	}}
	for _, src := range []string{`["a", "b"]`, `["a", 1]`, `[]`, `"x"`, `""`, `"${"a"}"`, `"a${x.y}"`, `[x.y, "z"]`, `[x.n, "z"]`, `["a", ["b"]]`, `[null, "a"]`, `[nope, "a"]`} {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "t.hcl", hhcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		for _, ty := range []cty.Type{cty.List(cty.String), cty.List(cty.Number), cty.String, cty.DynamicPseudoType, cty.List(cty.DynamicPseudoType)} {
			want, wantDiags := expr.Value(ctx)
			want, wantErr := convert.Convert(want, ty)
			got, gotDiags := argValueAs(expr, ty, ctx)
			got, gotErr := convertArg(got, ty)
			if len(gotDiags) != len(wantDiags) || (gotErr == nil) != (wantErr == nil) || (gotErr == nil && !got.RawEquals(want)) {
				t.Errorf("%s as %s: got %#v %v %v, want %#v %v %v", src, ty.FriendlyName(), got, gotErr, gotDiags, want, wantErr, wantDiags)
			}
		}
	}
}
