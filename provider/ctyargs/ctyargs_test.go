package ctyargs_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider/ctyargs"
)

func TestReaders(t *testing.T) {
	v := cty.ObjectVal(map[string]cty.Value{
		"s":       cty.StringVal("x"),
		"b":       cty.True,
		"n":       cty.NumberIntVal(42),
		"frac":    cty.NumberFloatVal(1.5),
		"d":       cty.StringVal("2m"),
		"list":    cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
		"map":     cty.MapVal(map[string]cty.Value{"k": cty.StringVal("v")}),
		"ints":    cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1)}),
		"badints": cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("one")}),
		"null":    cty.NullVal(cty.String),
		"unknown": cty.UnknownVal(cty.String),
		"obj":     cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(1), "tags": cty.TupleVal([]cty.Value{cty.StringVal("x")})}),
	})
	tests := []struct {
		name    string
		read    func(a *ctyargs.Attrs) any
		want    any
		wantErr string
	}{
		{"string", func(a *ctyargs.Attrs) any { return a.Str("s") }, "x", ""},
		{"absent string", func(a *ctyargs.Attrs) any { return a.Str("nope") }, "", ""},
		{"null string", func(a *ctyargs.Attrs) any { return a.Str("null") }, "", ""},
		{"wrong type", func(a *ctyargs.Attrs) any { return a.Str("b") }, "", "x: b: want a string, got bool"},
		{"unknown", func(a *ctyargs.Attrs) any { return a.Str("unknown") }, "", "x: unknown: value is not known yet"},
		{"bool", func(a *ctyargs.Attrs) any { return a.Bool("b") }, true, ""},
		{"bool wrong", func(a *ctyargs.Attrs) any { return a.Bool("s") }, false, "x: s: want a bool, got string"},
		{"int", func(a *ctyargs.Attrs) any { return a.Int("n") }, 42, ""},
		{"int fraction", func(a *ctyargs.Attrs) any { a.Int("frac"); return nil }, nil, "x: frac: want a whole number, got 1.5"},
		{"float", func(a *ctyargs.Attrs) any { return a.Float("frac") }, 1.5, ""},
		{"duration", func(a *ctyargs.Attrs) any { return a.Duration("d") }, 2 * time.Minute, ""},
		{"list", func(a *ctyargs.Attrs) any { return a.Strs("list") }, []string{"a", "b"}, ""},
		{"map", func(a *ctyargs.Attrs) any { return a.StrMap("map") }, map[string]string{"k": "v"}, ""},
		{"int map", func(a *ctyargs.Attrs) any { return a.IntMap("ints") }, map[string]int{"a": 1}, ""},
		{"bad int map", func(a *ctyargs.Attrs) any { return a.IntMap("badints") }, map[string]int(nil), `x: badints: want a map of whole numbers, "a" is a string`},
		{"value", func(a *ctyargs.Attrs) any { return a.Value("list") }, []any{"a", "b"}, ""},
		{"value object", func(a *ctyargs.Attrs) any { return a.Value("obj") }, map[string]any{"n": json.Number("1"), "tags": []any{"x"}}, ""},
		{"value absent", func(a *ctyargs.Attrs) any { return a.Value("nope") }, nil, ""},
		{"value unknown", func(a *ctyargs.Attrs) any { return a.Value("unknown") }, nil, "x: unknown: value is not known yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &ctyargs.Attrs{V: v, Where: "x"}
			got := tc.read(a)
			if tc.wantErr != "" {
				require.EqualError(t, a.Err(), tc.wantErr)
			} else {
				require.NoError(t, a.Err())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestAbsentArguments(t *testing.T) {
	for _, v := range []cty.Value{cty.NilVal, cty.NullVal(cty.DynamicPseudoType), cty.DynamicVal, cty.StringVal("not an object"), cty.EmptyObjectVal} {
		a := &ctyargs.Attrs{V: v, Where: "x"}
		assert.False(t, a.IsSet("x"))
		assert.Empty(t, a.Str("x"))
		assert.Nil(t, a.Value("x"))
		assert.NoError(t, a.Err())
	}
}

func TestMapArguments(t *testing.T) {
	a := &ctyargs.Attrs{V: cty.MapVal(map[string]cty.Value{"url": cty.StringVal("http://x")})}
	assert.True(t, a.IsSet("url"))
	assert.Equal(t, "http://x", a.Str("url"))
	assert.False(t, a.IsSet("other"))
}

func TestGoValueRemovesMarks(t *testing.T) {
	g, err := ctyargs.GoValue(cty.ObjectVal(map[string]cty.Value{"pw": cty.StringVal("s").Mark("sensitive")}))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"pw": "s"}, g)
}

func ExampleAttrs() {
	a := &ctyargs.Attrs{V: cty.ObjectVal(map[string]cty.Value{
		"url":     cty.StringVal("http://app:8080/health"),
		"timeout": cty.StringVal("10s"),
		"retries": cty.StringVal("three"),
	}), Where: "http_check"}
	url, timeout := a.Str("url"), a.Duration("timeout")
	a.Int("retries")
	fmt.Println(url, timeout)
	fmt.Println(a.Err())
	// Output:
	// http://app:8080/health 10s
	// http_check: retries: want a number, got string
}

var errBad = errors.New("bad config")

func TestAttrsRecordsTheFirstError(t *testing.T) {
	a := ctyargs.Attrs{V: cty.ObjectVal(map[string]cty.Value{
		"host":    cty.StringVal("db1").Mark("sensitive"),
		"port":    cty.StringVal("22"),
		"timeout": cty.StringVal("soon"),
		"cmd":     cty.TupleVal([]cty.Value{cty.StringVal("ls"), cty.StringVal("-l")}),
		"codes":   cty.TupleVal([]cty.Value{cty.NumberIntVal(0), cty.NumberIntVal(3)}),
		"later":   cty.UnknownVal(cty.String),
		"zero":    cty.StringVal("0"),
	}), Where: "ssh.db", Invalid: errBad}
	assert.Equal(t, "db1", a.Str("host"))
	assert.Equal(t, []string{"ls", "-l"}, a.Strs("cmd"))
	assert.Equal(t, []int{0, 3}, a.Ints("codes"))
	assert.Equal(t, time.Duration(0), a.Duration("zero"))
	assert.False(t, a.IsSet("absent"))
	require.NoError(t, a.Err())

	assert.Equal(t, 0, a.Int("port"))
	a.Duration("timeout")
	a.Str("later")
	require.ErrorIs(t, a.Err(), errBad)
	assert.EqualError(t, a.Err(), "bad config: ssh.db: port: want a number, got string")

	var zero ctyargs.Attrs
	assert.Empty(t, zero.Str("x"))
	assert.NoError(t, zero.Err())

	b := ctyargs.Attrs{V: cty.EmptyObjectVal, Where: "x"}
	b.Fail("y", "broken")
	assert.EqualError(t, b.Err(), "x: y: broken")
}

func TestAttrsErrorsNameTheElement(t *testing.T) {
	v := cty.ObjectVal(map[string]cty.Value{
		"cmd":   cty.TupleVal([]cty.Value{cty.StringVal("ls"), cty.NumberIntVal(1)}),
		"codes": cty.TupleVal([]cty.Value{cty.NumberIntVal(0), cty.NumberFloatVal(1.5)}),
		"env":   cty.ObjectVal(map[string]cty.Value{"A": cty.NullVal(cty.String)}),
		"when":  cty.StringVal("-1s"),
	})
	tests := []struct {
		name, want string
		read       func(a *ctyargs.Attrs)
	}{
		{"string list", "x: cmd: want a list of strings, element 1 is a number", func(a *ctyargs.Attrs) { a.Strs("cmd") }},
		{"number list", "x: codes: want a list of whole numbers, element 1 is 1.5", func(a *ctyargs.Attrs) { a.Ints("codes") }},
		{"string map", `x: env: want a map of strings, "A" is null`, func(a *ctyargs.Attrs) { a.StrMap("env") }},
		{"negative duration", `x: when: "-1s" is not a duration such as "30s" or "5m"`, func(a *ctyargs.Attrs) { assert.Zero(t, a.Duration("when")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &ctyargs.Attrs{V: v, Where: "x"}
			tc.read(a)
			assert.EqualError(t, a.Err(), tc.want)
		})
	}
}
