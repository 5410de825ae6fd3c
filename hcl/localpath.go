package hcl

import (
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
)

// resolveLocal resolves a local path argument (provider.Attribute.LocalPath)
// written in file: a relative string, or each relative string of a list, is
// joined to the absolute directory of file, as Ansible takes paths from the
// playbook's directory. Absolute paths, paths from the home directory
// ("~/.ssh/key": the provider expands them), empty strings, null and unknown
// values are unchanged, and so is everything when file is unnamed. Marks
// (sensitive) are kept.
func resolveLocal(v cty.Value, file string) cty.Value {
	if file == "" || v == cty.NilVal || !v.IsKnown() || v.IsNull() {
		return v
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return v
	}
	return resolveIn(v, dir)
}

func resolveIn(v cty.Value, dir string) cty.Value {
	if !v.IsKnown() || v.IsNull() {
		return v
	}
	v, marks := v.Unmark()
	ty := v.Type()
	switch {
	case ty == cty.String:
		s := v.AsString()
		if s != "" && !filepath.IsAbs(s) && !homeRelative(s) {
			v = cty.StringVal(filepath.Join(dir, s))
		}
	case ty.IsListType() && ty.ElementType() == cty.String && v.LengthInt() > 0:
		elems := v.AsValueSlice()
		for i, e := range elems {
			elems[i] = resolveIn(e, dir)
		}
		v = cty.ListVal(elems)
	}
	return v.WithMarks(marks)
}

// homeRelative reports whether p starts at the user's home directory
// ("~" or "~/..."), which the provider expands: it is not relative to the
// runbook.
func homeRelative(p string) bool {
	return p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, "~"+string(filepath.Separator))
}

// resolveSchema resolves the local path attributes of an object decoded
// from a block written in file (a provider's configuration). A local path
// attribute marked DefaultsToRunbookDir that is left out (null) becomes
// the file's directory first: what resolving "." gives.
func resolveSchema(v cty.Value, s provider.Schema, file string) cty.Value {
	v = defaultRunbookDirs(v, s, file)
	return mapSchema(v, s, func(a provider.Attribute) bool { return a.LocalPath },
		func(x cty.Value) cty.Value { return resolveLocal(x, file) })
}

// defaultRunbookDirs gives the null string attributes of v that s marks
// LocalPath and DefaultsToRunbookDir the value ".", which resolveLocal
// then turns into the directory of file. Nothing changes when file is
// unnamed.
func defaultRunbookDirs(v cty.Value, s provider.Schema, file string) cty.Value {
	if file == "" || v == cty.NilVal || !v.IsKnown() || v.IsNull() || !v.Type().IsObjectType() {
		return v
	}
	plain, marks := v.Unmark()
	var attrs map[string]cty.Value
	for name, a := range s {
		if !a.LocalPath || !a.DefaultsToRunbookDir || !plain.Type().HasAttribute(name) {
			continue
		}
		if x := plain.GetAttr(name); x.IsKnown() && x.IsNull() && x.Type().Equals(cty.String) {
			if attrs == nil {
				attrs = plain.AsValueMap()
			}
			attrs[name] = cty.StringVal(".")
		}
	}
	if attrs == nil {
		return v
	}
	return cty.ObjectVal(attrs).WithMarks(marks)
}
