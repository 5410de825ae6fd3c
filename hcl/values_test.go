package hcl

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/runbook"
)

func TestGoToCtyAndBack(t *testing.T) {
	cases := []struct {
		name string
		in   any
		ty   cty.Type
		want any
	}{
		{"string", "x", cty.String, "x"},
		{"bool", true, cty.Bool, true},
		{"int", 42, cty.Number, int64(42)},
		{"int8", int8(-3), cty.Number, int64(-3)},
		{"uint64", uint64(7), cty.Number, int64(7)},
		{"float", 0.25, cty.Number, 0.25},
		{"float32", float32(0.5), cty.Number, 0.5},
		{"json number", json.Number("12"), cty.Number, int64(12)},
		{"strings", []string{"a", "b"}, cty.List(cty.String), []any{"a", "b"}},
		{"empty strings", []string{}, cty.List(cty.String), []any{}},
		{"any list", []any{"a", 1}, cty.DynamicPseudoType, []any{"a", int64(1)}},
		{"map", map[string]any{"k": "v", "n": 2}, cty.DynamicPseudoType, map[string]any{"k": "v", "n": int64(2)}},
		{"string map", map[string]string{"k": "v"}, cty.Map(cty.String), map[string]any{"k": "v"}},
		{"outputs", runbook.Outputs{"k": "v"}, cty.DynamicPseudoType, map[string]any{"k": "v"}},
		{"nil", nil, cty.String, nil},
		{"secret", runbook.NewSecret("pw"), cty.String, runbook.NewSecret("pw")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := convertOutput(tc.in, tc.ty, false)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ctyToGo(v))
		})
	}
	_, err := goToCty(struct{}{})
	assert.Error(t, err)
	_, err = goToCty(json.Number("x"))
	assert.Error(t, err)
	_, err = convertOutput("abc", cty.Number, false)
	assert.Error(t, err)
	v, err := convertOutput(5, cty.Number, true)
	require.NoError(t, err)
	assert.Equal(t, runbook.NewSecret("5"), ctyToGo(v))
	assert.Equal(t, []string{"5"}, sensitiveStrings(v))
}

func TestRenderValue(t *testing.T) {
	v := cty.ObjectVal(map[string]cty.Value{
		"a":        cty.StringVal("x"),
		"b c":      cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberFloatVal(1.5)}),
		"secret":   markSensitive(cty.StringVal("pw")),
		"later":    cty.UnknownVal(cty.String),
		"nothing":  cty.NullVal(cty.String),
		"flag":     cty.True,
		"nested":   cty.MapVal(map[string]cty.Value{"k": cty.StringVal("v")}),
		"emptyset": cty.SetValEmpty(cty.String),
	})
	got := renderValue(v, func() string { return "(later)" })
	assert.Equal(t, `{a = "x", "b c" = [1, 1.5], emptyset = [], flag = true, later = (later), nested = {k = "v"}, nothing = null, secret = (sensitive)}`, got)
	assert.Equal(t, "(known after apply)", renderValue(cty.UnknownVal(cty.String), nil))
}

func TestVersionSatisfies(t *testing.T) {
	for _, tc := range []struct {
		have, want string
		ok         bool
	}{
		{"0.3.0", ">= 0.2", true},
		{"v1.2.3-rc1", "= 1.2.3", true},
		{"1.2.3", "!= 1.2.3", false},
		{"1.2.3", "> 1.2.3", false},
		{"1.2.3", "<= 1.2.3, > 1.0", true},
		{"1.2.3", "~> 1.2", false},
		{"dev", ">= 1.0", true},
	} {
		ok, _ := versionSatisfies(tc.have, tc.want)
		assert.Equal(t, tc.ok, ok, "%s %s", tc.have, tc.want)
	}
}

func TestQuote(t *testing.T) {
	assert.Equal(t, `"a && b <c>"`, quote("a && b <c>"))
	assert.Equal(t, `"line\nnext \"q\""`, quote("line\nnext \"q\""))
}
