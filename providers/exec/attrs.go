package exec

import (
	"fmt"
	"math/big"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// attrs reads optional attributes of an object value, recording the first
// error.
type attrs struct {
	v     cty.Value
	where string
	err   error
}

func (a *attrs) fail(name, msg string) {
	if a.err == nil {
		a.err = fmt.Errorf("%w: %s: %s: %s", ErrInvalid, a.where, name, msg)
	}
}

func (a *attrs) get(name string) (cty.Value, bool) {
	if a.v.IsNull() || !a.v.IsKnown() || !(a.v.Type().IsObjectType() || a.v.Type().IsMapType()) {
		return cty.NilVal, false
	}
	if a.v.Type().IsObjectType() && !a.v.Type().HasAttribute(name) {
		return cty.NilVal, false
	}
	var x cty.Value
	if a.v.Type().IsObjectType() {
		x = a.v.GetAttr(name)
	} else {
		k := cty.StringVal(name)
		if a.v.HasIndex(k).False() {
			return cty.NilVal, false
		}
		x = a.v.Index(k)
	}
	x, _ = x.Unmark()
	if x.IsNull() {
		return cty.NilVal, false
	}
	if !x.IsKnown() {
		a.fail(name, "value is not known yet")
		return cty.NilVal, false
	}
	return x, true
}

func (a *attrs) isSet(name string) bool { _, ok := a.get(name); return ok }

func (a *attrs) str(name string) string {
	x, ok := a.get(name)
	if !ok {
		return ""
	}
	if x.Type() != cty.String {
		a.fail(name, "want a string, got "+x.Type().FriendlyName())
		return ""
	}
	return x.AsString()
}

func (a *attrs) bool(name string) bool {
	x, ok := a.get(name)
	if !ok {
		return false
	}
	if x.Type() != cty.Bool {
		a.fail(name, "want a bool, got "+x.Type().FriendlyName())
		return false
	}
	return x.True()
}

func (a *attrs) bigf(name string) (*big.Float, bool) {
	x, ok := a.get(name)
	if !ok {
		return nil, false
	}
	if x.Type() != cty.Number {
		a.fail(name, "want a number, got "+x.Type().FriendlyName())
		return nil, false
	}
	return x.AsBigFloat(), true
}

func (a *attrs) int(name string) int {
	f, ok := a.bigf(name)
	if !ok {
		return 0
	}
	i, acc := f.Int64()
	if acc != big.Exact {
		a.fail(name, "want a whole number, got "+f.String())
	}
	return int(i)
}

func (a *attrs) float(name string) float64 {
	f, ok := a.bigf(name)
	if !ok {
		return 0
	}
	x, _ := f.Float64()
	return x
}

func (a *attrs) dur(name string) time.Duration {
	s := a.str(name)
	if s == "" {
		return 0
	}
	if s == "0" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		a.fail(name, fmt.Sprintf("%q is not a duration such as \"30s\" or \"5m\"", s))
	}
	return d
}

func (a *attrs) list(name string) []cty.Value {
	x, ok := a.get(name)
	if !ok {
		return nil
	}
	if !x.CanIterateElements() || x.Type().IsMapType() || x.Type().IsObjectType() {
		a.fail(name, "want a list, got "+x.Type().FriendlyName())
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

func (a *attrs) strs(name string) []string {
	var out []string
	for i, e := range a.list(name) {
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.String {
			a.fail(name, fmt.Sprintf("element %d is not a known string", i))
			return nil
		}
		out = append(out, e.AsString())
	}
	return out
}

func (a *attrs) ints(name string) []int {
	var out []int
	for i, e := range a.list(name) {
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.Number {
			a.fail(name, fmt.Sprintf("element %d is not a known number", i))
			return nil
		}
		n, acc := e.AsBigFloat().Int64()
		if acc != big.Exact {
			a.fail(name, fmt.Sprintf("element %d is not a whole number", i))
		}
		out = append(out, int(n))
	}
	return out
}

func (a *attrs) strMap(name string) map[string]string {
	x, ok := a.get(name)
	if !ok {
		return nil
	}
	if !(x.Type().IsMapType() || x.Type().IsObjectType()) {
		a.fail(name, "want a map of strings, got "+x.Type().FriendlyName())
		return nil
	}
	out := map[string]string{}
	for it := x.ElementIterator(); it.Next(); {
		k, e := it.Element()
		e, _ = e.Unmark()
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.String {
			a.fail(name, fmt.Sprintf("value of %s is not a known string", k.AsString()))
			return nil
		}
		out[k.AsString()] = e.AsString()
	}
	return out
}
