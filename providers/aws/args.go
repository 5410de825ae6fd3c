package aws

import (
	"fmt"
	"math/big"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// args reads decoded arguments (a cty object or map, or null) by name.
// Absent and null attributes read as zero values; a value of the wrong type
// is an error naming the argument.
type args struct{ v cty.Value }

func (a args) get(name string) cty.Value {
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

func (a args) known(name string) (cty.Value, error) {
	v := a.get(name)
	if !v.IsKnown() {
		return v, fmt.Errorf("%s: the value is not known yet", name)
	}
	return v, nil
}

func (a args) str(name string) (string, error) {
	v, err := a.known(name)
	if err != nil || v.IsNull() {
		return "", err
	}
	if !v.Type().Equals(cty.String) {
		return "", fmt.Errorf("%s: want a string, got %s", name, v.Type().FriendlyName())
	}
	return v.AsString(), nil
}

func (a args) boolean(name string) (bool, error) {
	v, err := a.known(name)
	if err != nil || v.IsNull() {
		return false, err
	}
	if !v.Type().Equals(cty.Bool) {
		return false, fmt.Errorf("%s: want a bool, got %s", name, v.Type().FriendlyName())
	}
	return v.True(), nil
}

// integer reads a whole number; ok is false when the argument is absent.
func (a args) integer(name string) (n int64, ok bool, err error) {
	v, err := a.known(name)
	if err != nil || v.IsNull() {
		return 0, false, err
	}
	if !v.Type().Equals(cty.Number) {
		return 0, false, fmt.Errorf("%s: want a number, got %s", name, v.Type().FriendlyName())
	}
	i, acc := v.AsBigFloat().Int64()
	if acc != big.Exact {
		return 0, false, fmt.Errorf("%s: %s is not a whole number", name, v.AsBigFloat().Text('g', -1))
	}
	return i, true, nil
}

func (a args) duration(name string) (time.Duration, error) {
	s, err := a.str(name)
	if err != nil || s == "" {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration such as \"10s\" or \"2m\"", name, s)
	}
	return d, nil
}

func (a args) strList(name string) ([]string, error) {
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

// intMap reads a map (or object) of whole numbers.
func (a args) intMap(name string) (map[string]int64, error) {
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
		i, acc := e.AsBigFloat().Int64()
		if acc != big.Exact {
			return nil, fmt.Errorf("%s[%q]: %s is not a whole number", name, k.AsString(), e.AsBigFloat().Text('g', -1))
		}
		out[k.AsString()] = i
	}
	return out, nil
}

func (a args) strMap(name string) (map[string]string, error) {
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
