// Package ctyargs reads the decoded arguments of a provider block or an
// action (a cty object or map, or null) by name, for providers that take
// their arguments one by one rather than decoding them into a struct.
//
// Absent and null arguments read as zero values, so that optional arguments
// need no special case; a value of the wrong type, or one that is not known
// yet, is an error naming the argument. Nothing here panics on bad input.
//
//	a := ctyargs.Of(args)
//	url, err := a.Str("url")
//	if err != nil {
//		return nil, err // "url: want a string, got number"
//	}
package ctyargs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Args reads arguments by name. The zero value holds no arguments: every
// name reads as absent.
type Args struct{ v cty.Value }

// Of returns an Args reading v: a cty object or map, or null. Any other
// value holds no arguments.
func Of(v cty.Value) Args { return Args{v: v} }

// Get returns the raw value of the argument name, or a null of dynamic type
// when it is absent (or when the arguments themselves are null, unknown or
// not an object or map). The value may be unknown.
func (a Args) Get(name string) cty.Value {
	v := a.v
	if v.IsNull() || !v.IsKnown() {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	t := v.Type()
	switch {
	case t.IsObjectType():
		if !t.HasAttribute(name) {
			return cty.NullVal(cty.DynamicPseudoType)
		}
		return v.GetAttr(name)
	case t.IsMapType():
		if !v.HasIndex(cty.StringVal(name)).True() {
			return cty.NullVal(cty.DynamicPseudoType)
		}
		return v.Index(cty.StringVal(name))
	}
	return cty.NullVal(cty.DynamicPseudoType)
}

// Has reports whether the argument name is present and not null.
func (a Args) Has(name string) bool { return !a.Get(name).IsNull() }

// known returns the argument, or an error when its value is not known yet.
func (a Args) known(name string) (cty.Value, error) {
	v := a.Get(name)
	if !v.IsKnown() {
		return v, fmt.Errorf("%s: the value is not known yet", name)
	}
	return v, nil
}

// Str reads a string argument ("" when absent).
func (a Args) Str(name string) (string, error) {
	v, err := a.known(name)
	if err != nil || v.IsNull() {
		return "", err
	}
	if !v.Type().Equals(cty.String) {
		return "", fmt.Errorf("%s: want a string, got %s", name, v.Type().FriendlyName())
	}
	return v.AsString(), nil
}

// Bool reads a bool argument (false when absent).
func (a Args) Bool(name string) (bool, error) {
	v, err := a.known(name)
	if err != nil || v.IsNull() {
		return false, err
	}
	if !v.Type().Equals(cty.Bool) {
		return false, fmt.Errorf("%s: want a bool, got %s", name, v.Type().FriendlyName())
	}
	return v.True(), nil
}

// Int reads a whole number; ok is false when the argument is absent. A
// fraction or a number out of the int64 range is an error.
func (a Args) Int(name string) (n int64, ok bool, err error) {
	v, err := a.known(name)
	if err != nil || v.IsNull() {
		return 0, false, err
	}
	if !v.Type().Equals(cty.Number) {
		return 0, false, fmt.Errorf("%s: want a number, got %s", name, v.Type().FriendlyName())
	}
	i, err := wholeNumber(v)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", name, err)
	}
	return i, true, nil
}

// Duration reads a string argument such as "10s" or "2m" as a duration (0
// when absent). A negative duration is an error.
func (a Args) Duration(name string) (time.Duration, error) {
	s, err := a.Str(name)
	if err != nil || s == "" {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration such as \"10s\" or \"2m\"", name, s)
	}
	return d, nil
}

// StrList reads a list, set or tuple of strings (nil when absent). A null
// or unknown element is an error.
func (a Args) StrList(name string) ([]string, error) {
	v, err := a.known(name)
	if err != nil || v.IsNull() {
		return nil, err
	}
	if !(v.Type().IsListType() || v.Type().IsSetType() || v.Type().IsTupleType()) {
		return nil, fmt.Errorf("%s: want a list of strings, got %s", name, v.Type().FriendlyName())
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || !e.IsKnown() || !e.Type().Equals(cty.String) {
			return nil, fmt.Errorf("%s: want a list of strings, found a %s", name, e.Type().FriendlyName())
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

// StrMap reads a map or object of strings (nil when absent). A null or
// unknown element is an error.
func (a Args) StrMap(name string) (map[string]string, error) {
	v, err := a.known(name)
	if err != nil || v.IsNull() {
		return nil, err
	}
	if !(v.Type().IsMapType() || v.Type().IsObjectType()) {
		return nil, fmt.Errorf("%s: want a map of strings, got %s", name, v.Type().FriendlyName())
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() || !e.IsKnown() || !e.Type().Equals(cty.String) {
			return nil, fmt.Errorf("%s[%q]: want a string, got %s", name, k.AsString(), e.Type().FriendlyName())
		}
		out[k.AsString()] = e.AsString()
	}
	return out, nil
}

// IntMap reads a map or object of whole numbers (nil when absent).
func (a Args) IntMap(name string) (map[string]int64, error) {
	v, err := a.known(name)
	if err != nil || v.IsNull() {
		return nil, err
	}
	if !(v.Type().IsMapType() || v.Type().IsObjectType()) {
		return nil, fmt.Errorf("%s: want a map of numbers, got %s", name, v.Type().FriendlyName())
	}
	out := map[string]int64{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() || !e.IsKnown() || !e.Type().Equals(cty.Number) {
			return nil, fmt.Errorf("%s[%q]: want a number, got %s", name, k.AsString(), e.Type().FriendlyName())
		}
		i, err := wholeNumber(e)
		if err != nil {
			return nil, fmt.Errorf("%s[%q]: %w", name, k.AsString(), err)
		}
		out[k.AsString()] = i
	}
	return out, nil
}

// Value reads an argument of any type as a JSON-compatible Go value (nil
// when absent); see GoValue.
func (a Args) Value(name string) (any, error) {
	v := a.Get(name)
	if v.IsNull() {
		return nil, nil
	}
	out, err := GoValue(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// GoValue converts a wholly known cty value to plain JSON-compatible Go
// values: string, bool, json.Number, []any, map[string]any or nil. An
// unknown value is an error.
func GoValue(v cty.Value) (any, error) {
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

func wholeNumber(v cty.Value) (int64, error) {
	f := v.AsBigFloat()
	i, acc := f.Int64()
	if acc != big.Exact {
		return 0, fmt.Errorf("%s is not a whole number", f.Text('g', -1))
	}
	return i, nil
}
