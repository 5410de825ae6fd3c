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
	obj := ctyargs.Of(cty.ObjectVal(map[string]cty.Value{
		"s":       cty.StringVal("x"),
		"b":       cty.True,
		"n":       cty.NumberIntVal(42),
		"frac":    cty.NumberFloatVal(1.5),
		"d":       cty.StringVal("2m"),
		"neg":     cty.StringVal("-1s"),
		"list":    cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
		"badlist": cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NumberIntVal(1)}),
		"map":     cty.MapVal(map[string]cty.Value{"k": cty.StringVal("v")}),
		"ints":    cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1)}),
		"null":    cty.NullVal(cty.String),
		"unknown": cty.UnknownVal(cty.String),
	}))
	tests := []struct {
		name    string
		read    func() (any, error)
		want    any
		wantErr string
	}{
		{"string", func() (any, error) { return obj.Str("s") }, "x", ""},
		{"absent string", func() (any, error) { return obj.Str("nope") }, "", ""},
		{"null string", func() (any, error) { return obj.Str("null") }, "", ""},
		{"wrong type", func() (any, error) { return obj.Str("b") }, "", "b: want a string, got bool"},
		{"unknown", func() (any, error) { return obj.Str("unknown") }, "", "unknown: the value is not known yet"},
		{"bool", func() (any, error) { return obj.Bool("b") }, true, ""},
		{"bool wrong", func() (any, error) { return obj.Bool("s") }, false, "s: want a bool, got string"},
		{"int", func() (any, error) { n, _, err := obj.Int("n"); return n, err }, int64(42), ""},
		{"int fraction", func() (any, error) { n, _, err := obj.Int("frac"); return n, err }, int64(0), "frac: 1.5 is not a whole number"},
		{"duration", func() (any, error) { return obj.Duration("d") }, 2 * time.Minute, ""},
		{"negative duration", func() (any, error) { return obj.Duration("neg") }, time.Duration(0), `neg: "-1s" is not a duration such as "10s" or "2m"`},
		{"list", func() (any, error) { return obj.StrList("list") }, []string{"a", "b"}, ""},
		{"bad list", func() (any, error) { return obj.StrList("badlist") }, []string(nil), "badlist: want a list of strings, found a number"},
		{"map", func() (any, error) { return obj.StrMap("map") }, map[string]string{"k": "v"}, ""},
		{"int map", func() (any, error) { return obj.IntMap("ints") }, map[string]int64{"a": 1}, ""},
		{"value", func() (any, error) { return obj.Value("list") }, []any{"a", "b"}, ""},
		{"value number", func() (any, error) { return obj.Value("n") }, json.Number("42"), ""},
		{"value unknown", func() (any, error) { return obj.Value("unknown") }, nil, "unknown: the value is not known yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.read()
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestAbsentArguments(t *testing.T) {
	for _, v := range []cty.Value{cty.NilVal, cty.NullVal(cty.DynamicPseudoType), cty.DynamicVal, cty.StringVal("not an object"), cty.EmptyObjectVal} {
		a := ctyargs.Of(v)
		assert.False(t, a.Has("x"))
		s, err := a.Str("x")
		assert.NoError(t, err)
		assert.Empty(t, s)
	}
	var zero ctyargs.Args
	assert.False(t, zero.Has("x"))
}

func TestMapArguments(t *testing.T) {
	a := ctyargs.Of(cty.MapVal(map[string]cty.Value{"url": cty.StringVal("http://x")}))
	assert.True(t, a.Has("url"))
	assert.False(t, a.Has("other"))
}

func ExampleArgs() {
	a := ctyargs.Of(cty.ObjectVal(map[string]cty.Value{
		"url":     cty.StringVal("http://app:8080/health"),
		"timeout": cty.StringVal("10s"),
		"retries": cty.StringVal("three"),
	}))
	url, _ := a.Str("url")
	timeout, _ := a.Duration("timeout")
	_, _, err := a.Int("retries")
	fmt.Println(url, timeout)
	fmt.Println(err)
	// Output:
	// http://app:8080/health 10s
	// retries: want a number, got string
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
