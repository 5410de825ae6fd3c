package email

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// args reads decoded arguments (a cty object, or null) by name. Absent and
// null attributes read as zero values; a value of the wrong type is an
// error naming the argument.
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

func (a args) has(name string) bool { return !a.get(name).IsNull() }

func (a args) str(name string) (string, error) {
	v := a.get(name)
	if v.IsNull() {
		return "", nil
	}
	if !v.Type().Equals(cty.String) {
		return "", fmt.Errorf("%s: want a string, got %s", name, v.Type().FriendlyName())
	}
	return v.AsString(), nil
}

func (a args) boolean(name string) (bool, error) {
	v := a.get(name)
	if v.IsNull() {
		return false, nil
	}
	if !v.Type().Equals(cty.Bool) {
		return false, fmt.Errorf("%s: want a bool, got %s", name, v.Type().FriendlyName())
	}
	return v.True(), nil
}

func (a args) strList(name string) ([]string, error) {
	v := a.get(name)
	if v.IsNull() {
		return nil, nil
	}
	if !(v.Type().IsListType() || v.Type().IsSetType() || v.Type().IsTupleType()) {
		return nil, fmt.Errorf("%s: want a list of strings, got %s", name, v.Type().FriendlyName())
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || !e.Type().Equals(cty.String) {
			return nil, fmt.Errorf("%s: want a list of strings, found a %s", name, e.Type().FriendlyName())
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

func (a args) strMap(name string) (map[string]string, error) {
	v := a.get(name)
	if v.IsNull() {
		return nil, nil
	}
	if !(v.Type().IsMapType() || v.Type().IsObjectType()) {
		return nil, fmt.Errorf("%s: want a map of strings, got %s", name, v.Type().FriendlyName())
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() || !e.Type().Equals(cty.String) {
			return nil, fmt.Errorf("%s[%q]: want a string, got %s", name, k.AsString(), e.Type().FriendlyName())
		}
		out[k.AsString()] = e.AsString()
	}
	return out, nil
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

// value returns an argument as a JSON-compatible Go value (nil when null).
func (a args) value(name string) (any, error) {
	v := a.get(name)
	if v.IsNull() {
		return nil, nil
	}
	out, err := goValue(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// goValue converts a known cty value to plain JSON-compatible Go values
// (numbers as json.Number).
func goValue(v cty.Value) (any, error) {
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
