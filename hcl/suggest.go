package hcl

import (
	"fmt"
	"sort"
	"strings"
)

// suggestAction returns a hint for an unknown action name: a close spelling
// ("Did you mean"), the actions whose name contains it as a part
// ("exec" → local_exec), or the actions of the provider type it names; and
// where to see them all.
func suggestAction(name string, reg Registry) string {
	if s := suggestName(name, reg.ActionNames()); s != "" {
		return s
	}
	var parts []string
	for _, a := range reg.ActionNames() {
		for _, p := range strings.Split(a, "_") {
			if p == name {
				parts = append(parts, a)
				break
			}
		}
	}
	if p, ok := reg.Provider(name); ok {
		for a := range p.Actions() {
			parts = append(parts, a)
		}
	}
	sort.Strings(parts)
	parts = uniqueSorted(parts)
	switch {
	case len(parts) == 1:
		return fmt.Sprintf(" Did you mean %q? ('handrail providers' lists every action.)", parts[0])
	case len(parts) > 1:
		return fmt.Sprintf(" Did you mean one of %s? ('handrail providers' lists every action.)", strings.Join(parts, ", "))
	}
	return " 'handrail providers' lists every action."
}

func uniqueSorted(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
