package docker

import (
	"fmt"
	"math/big"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// args reads a decoded argument object. Missing attributes and nulls read
// as zero values; wrong types are errors naming the argument.
type args struct {
	v    cty.Value
	what string
}

func (a args) get(name string) cty.Value {
	if a.v.IsNull() || !a.v.IsKnown() || !a.v.Type().IsObjectType() || !a.v.Type().HasAttribute(name) {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	return a.v.GetAttr(name)
}

func (a args) bad(name, format string, x ...any) error {
	return fmt.Errorf("%s: %s: %s: %w", a.what, name, fmt.Sprintf(format, x...), errBadArgs)
}

func (a args) str(name string) (string, error) {
	v := a.get(name)
	if v.IsNull() {
		return "", nil
	}
	if !v.IsKnown() || v.Type() != cty.String {
		return "", a.bad(name, "want a string, got %s", v.Type().FriendlyName())
	}
	return v.AsString(), nil
}

func (a args) boolean(name string, def bool) (bool, error) {
	v := a.get(name)
	if v.IsNull() {
		return def, nil
	}
	if !v.IsKnown() || v.Type() != cty.Bool {
		return false, a.bad(name, "want true or false, got %s", v.Type().FriendlyName())
	}
	return v.True(), nil
}

func (a args) integer(name string, def int) (int, error) {
	v := a.get(name)
	if v.IsNull() {
		return def, nil
	}
	if !v.IsKnown() || v.Type() != cty.Number {
		return 0, a.bad(name, "want a number, got %s", v.Type().FriendlyName())
	}
	f := v.AsBigFloat()
	if !f.IsInt() {
		return 0, a.bad(name, "want a whole number, got %s", f.Text('g', -1))
	}
	i, acc := f.Int64()
	if acc != big.Exact {
		return 0, a.bad(name, "%s is out of range", f.Text('g', -1))
	}
	return int(i), nil
}

func (a args) strings(name string) ([]string, error) {
	v := a.get(name)
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsKnown() || !(v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType()) {
		return nil, a.bad(name, "want a list of strings, got %s", v.Type().FriendlyName())
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.String {
			return nil, a.bad(name, "want a list of strings, found a %s element", e.Type().FriendlyName())
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

func (a args) ints(name string) ([]int, error) {
	v := a.get(name)
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsKnown() || !(v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType()) {
		return nil, a.bad(name, "want a list of numbers, got %s", v.Type().FriendlyName())
	}
	var out []int
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.Number {
			return nil, a.bad(name, "want a list of numbers, found a %s element", e.Type().FriendlyName())
		}
		i, acc := e.AsBigFloat().Int64()
		if acc != big.Exact {
			return nil, a.bad(name, "want whole numbers, got %s", e.AsBigFloat().Text('g', -1))
		}
		out = append(out, int(i))
	}
	return out, nil
}

func (a args) stringMap(name string) (map[string]string, error) {
	v := a.get(name)
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsKnown() || !(v.Type().IsMapType() || v.Type().IsObjectType()) {
		return nil, a.bad(name, "want a map of strings, got %s", v.Type().FriendlyName())
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.String {
			return nil, a.bad(name, "want a map of strings, %q is a %s", k.AsString(), e.Type().FriendlyName())
		}
		out[k.AsString()] = e.AsString()
	}
	return out, nil
}

func (a args) duration(name string, def time.Duration) (time.Duration, error) {
	s, err := a.str(name)
	if err != nil || s == "" {
		return def, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, a.bad(name, "want a duration such as \"90s\" or \"2m\", got %q", s)
	}
	return d, nil
}
