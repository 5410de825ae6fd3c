package hcl

import (
	"testing"

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
