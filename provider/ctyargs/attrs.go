package ctyargs

import (
	"fmt"
	"math/big"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Attrs reads optional attributes of an object or map value one by one and
// records the first error instead of returning one from every call, so that
// a decoder can read all its fields and check Err once:
//
//	a := ctyargs.Attrs{V: config, Where: "ssh." + name, Invalid: ErrInvalidConfig}
//	cfg.User = a.Str("user")
//	cfg.Port = a.Int("port")
//	return cfg, a.Err()
//
// Absent and null attributes read as zero values; marks (such as
// sensitivity) are removed from what it reads. The zero value reads nothing
// and records no error. An Attrs is not safe for concurrent use.
type Attrs struct {
	// V is the object or map to read.
	V cty.Value
	// Where names what is being read in errors ("ssh.lb", "ssh_exec").
	Where string
	// Invalid, if set, is wrapped by every error, so that callers can
	// match it with errors.Is.
	Invalid error

	err error
}

// Err returns the first error recorded, or nil.
func (a *Attrs) Err() error { return a.err }

// Fail records an error about the attribute name unless one is recorded
// already. Its text is "<Invalid>: <Where>: <name>: <msg>".
func (a *Attrs) Fail(name, msg string) {
	if a.err != nil {
		return
	}
	if a.Invalid != nil {
		a.err = fmt.Errorf("%w: %s: %s: %s", a.Invalid, a.Where, name, msg)
	} else {
		a.err = fmt.Errorf("%s: %s: %s", a.Where, name, msg)
	}
}

// Get returns the unmarked value of the attribute name; ok is false when it
// is absent or null. An unknown value is recorded as an error (ok false).
func (a *Attrs) Get(name string) (v cty.Value, ok bool) {
	if a.V.IsNull() || !a.V.IsKnown() || !(a.V.Type().IsObjectType() || a.V.Type().IsMapType()) {
		return cty.NilVal, false
	}
	if a.V.Type().IsObjectType() && !a.V.Type().HasAttribute(name) {
		return cty.NilVal, false
	}
	var x cty.Value
	if a.V.Type().IsObjectType() {
		x = a.V.GetAttr(name)
	} else {
		k := cty.StringVal(name)
		if a.V.HasIndex(k).False() {
			return cty.NilVal, false
		}
		x = a.V.Index(k)
	}
	x, _ = x.Unmark()
	if x.IsNull() {
		return cty.NilVal, false
	}
	if !x.IsKnown() {
		a.Fail(name, "value is not known yet")
		return cty.NilVal, false
	}
	return x, true
}

// IsSet reports whether the attribute name is present, known and not null.
func (a *Attrs) IsSet(name string) bool { _, ok := a.Get(name); return ok }

// Str reads a string attribute ("" when absent).
func (a *Attrs) Str(name string) string {
	x, ok := a.Get(name)
	if !ok {
		return ""
	}
	if x.Type() != cty.String {
		a.Fail(name, "want a string, got "+x.Type().FriendlyName())
		return ""
	}
	return x.AsString()
}

// Bool reads a bool attribute (false when absent).
func (a *Attrs) Bool(name string) bool {
	x, ok := a.Get(name)
	if !ok {
		return false
	}
	if x.Type() != cty.Bool {
		a.Fail(name, "want a bool, got "+x.Type().FriendlyName())
		return false
	}
	return x.True()
}

// bigf reads a number attribute; ok is false when it is absent or wrong.
func (a *Attrs) bigf(name string) (*big.Float, bool) {
	x, ok := a.Get(name)
	if !ok {
		return nil, false
	}
	if x.Type() != cty.Number {
		a.Fail(name, "want a number, got "+x.Type().FriendlyName())
		return nil, false
	}
	return x.AsBigFloat(), true
}

// Int reads a whole number (0 when absent); a fraction is recorded as an
// error.
func (a *Attrs) Int(name string) int {
	f, ok := a.bigf(name)
	if !ok {
		return 0
	}
	i, acc := f.Int64()
	if acc != big.Exact {
		a.Fail(name, "want a whole number, got "+f.String())
	}
	return int(i)
}

// Float reads a number (0 when absent).
func (a *Attrs) Float(name string) float64 {
	f, ok := a.bigf(name)
	if !ok {
		return 0
	}
	x, _ := f.Float64()
	return x
}

// Duration reads a string such as "30s" or "5m" (0 when absent or "0");
// a negative or malformed duration is recorded as an error.
func (a *Attrs) Duration(name string) time.Duration {
	s := a.Str(name)
	if s == "" {
		return 0
	}
	if s == "0" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		a.Fail(name, fmt.Sprintf("%q is not a duration such as \"30s\" or \"5m\"", s))
		return 0
	}
	return d
}

// List reads a list, set or tuple as its unmarked elements (nil when
// absent). The elements may be null or unknown.
func (a *Attrs) List(name string) []cty.Value {
	x, ok := a.Get(name)
	if !ok {
		return nil
	}
	if !x.CanIterateElements() || x.Type().IsMapType() || x.Type().IsObjectType() {
		a.Fail(name, "want a list, got "+x.Type().FriendlyName())
		return nil
	}
	var out []cty.Value
	for it := x.ElementIterator(); it.Next(); {
		_, e := it.Element()
		e, _ = e.Unmark()
		out = append(out, e)
	}
	return out
}

// Strs reads a list of known strings (nil when absent).
func (a *Attrs) Strs(name string) []string {
	var out []string
	for i, e := range a.List(name) {
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.String {
			a.Fail(name, fmt.Sprintf("want a list of strings, element %d is %s", i, what(e)))
			return nil
		}
		out = append(out, e.AsString())
	}
	return out
}

// Ints reads a list of known whole numbers (nil when absent).
func (a *Attrs) Ints(name string) []int {
	var out []int
	for i, e := range a.List(name) {
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.Number {
			a.Fail(name, fmt.Sprintf("want a list of whole numbers, element %d is %s", i, what(e)))
			return nil
		}
		n, acc := e.AsBigFloat().Int64()
		if acc != big.Exact {
			a.Fail(name, fmt.Sprintf("want a list of whole numbers, element %d is %s", i, e.AsBigFloat().Text('g', -1)))
		}
		out = append(out, int(n))
	}
	return out
}

// IntMap reads a map or object of known whole numbers (nil when absent).
func (a *Attrs) IntMap(name string) map[string]int {
	x, ok := a.Get(name)
	if !ok {
		return nil
	}
	if !(x.Type().IsMapType() || x.Type().IsObjectType()) {
		a.Fail(name, "want a map of numbers, got "+x.Type().FriendlyName())
		return nil
	}
	out := map[string]int{}
	for it := x.ElementIterator(); it.Next(); {
		k, e := it.Element()
		e, _ = e.Unmark()
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.Number {
			a.Fail(name, fmt.Sprintf("want a map of whole numbers, %q is %s", k.AsString(), what(e)))
			return nil
		}
		n, acc := e.AsBigFloat().Int64()
		if acc != big.Exact {
			a.Fail(name, fmt.Sprintf("want a map of whole numbers, %q is %s", k.AsString(), e.AsBigFloat().Text('g', -1)))
			return nil
		}
		out[k.AsString()] = int(n)
	}
	return out
}

// Value reads an attribute of any type as plain JSON-compatible Go values
// (nil when absent); see [GoValue].
func (a *Attrs) Value(name string) any {
	x, ok := a.Get(name)
	if !ok {
		return nil
	}
	out, err := GoValue(x)
	if err != nil {
		a.Fail(name, err.Error())
		return nil
	}
	return out
}

// StrMap reads a map or object of known strings (nil when absent).
func (a *Attrs) StrMap(name string) map[string]string {
	x, ok := a.Get(name)
	if !ok {
		return nil
	}
	if !(x.Type().IsMapType() || x.Type().IsObjectType()) {
		a.Fail(name, "want a map of strings, got "+x.Type().FriendlyName())
		return nil
	}
	out := map[string]string{}
	for it := x.ElementIterator(); it.Next(); {
		k, e := it.Element()
		e, _ = e.Unmark()
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.String {
			a.Fail(name, fmt.Sprintf("want a map of strings, %q is %s", k.AsString(), what(e)))
			return nil
		}
		out[k.AsString()] = e.AsString()
	}
	return out
}

// what describes an element that is not what was wanted: "null", "not
// known yet" or "a number".
func what(e cty.Value) string {
	switch {
	case e.IsNull():
		return "null"
	case !e.IsKnown():
		return "not known yet"
	}
	return "a " + e.Type().FriendlyName()
}
