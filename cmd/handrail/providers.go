package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/handrail-dev/handrail/internal/lazyre"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
)

// providersDoc is `handrail providers -json`.
type providersDoc struct {
	FormatVersion string         `json:"format_version"`
	Providers     []providerJSON `json:"providers"`
}

type providerJSON struct {
	Type    string       `json:"type"`
	Config  []argJSON    `json:"config"`
	Actions []actionJSON `json:"actions"`
}

type actionJSON struct {
	Name            string       `json:"name"`
	Description     string       `json:"description,omitempty"`
	Step            bool         `json:"step"`
	Probe           bool         `json:"probe"`
	ReadOnly        bool         `json:"read_only"`
	NaturalRollback bool         `json:"natural_rollback"`
	DynamicOutputs  bool         `json:"dynamic_outputs"`
	Args            []argJSON    `json:"args"`
	Outputs         []outputJSON `json:"outputs"`
}

type argJSON struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Required    bool   `json:"required"`
	Default     string `json:"default,omitempty"`
	Sensitive   bool   `json:"sensitive,omitempty"`
	Description string `json:"description,omitempty"`
}

type outputJSON struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Sensitive   bool   `json:"sensitive,omitempty"`
	Description string `json:"description,omitempty"`
}

// cmdProviders prints every provider, its configuration and its actions
// and probes with their arguments, outputs, read-only mark and natural
// rollback — like `terraform providers schema`. NAME narrows it to one
// provider type or one action.
func (a *app) cmdProviders(_ context.Context, args []string) int {
	fs := newFlagSet("providers", a.stderr, "providers [NAME] [-json]")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 1 {
		a.errorf("providers takes at most one provider type or action name")
		return exitInvalid
	}
	reg, err := realRegistry()
	if err != nil {
		a.errorf("%v", err)
		return exitInternal
	}
	doc := providersDoc{FormatVersion: formatVersion, Providers: []providerJSON{}}
	for _, typ := range reg.Types() {
		p, _ := reg.Provider(typ)
		doc.Providers = append(doc.Providers, describeProvider(p))
	}
	if len(pos) == 1 {
		name := pos[0]
		var keep []providerJSON
		for _, p := range doc.Providers {
			if p.Type == name {
				keep = append(keep, p)
				continue
			}
			for _, act := range p.Actions {
				if act.Name == name {
					keep = append(keep, providerJSON{Type: p.Type, Config: p.Config, Actions: []actionJSON{act}})
				}
			}
		}
		if len(keep) == 0 {
			var names []string
			names = append(names, reg.Types()...)
			names = append(names, reg.ActionNames()...)
			a.errorf("no provider or action named %q.%s", name, suggestAmong(name, names))
			return exitInvalid
		}
		doc.Providers = keep
	}
	if *asJSON {
		return a.writeJSON(doc)
	}
	for i, p := range doc.Providers {
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		fmt.Fprintf(a.stdout, "provider %q\n", p.Type)
		if len(p.Config) > 0 {
			fmt.Fprintln(a.stdout, "  configuration:")
			writeSchemaArgs(a, p.Config, "    ")
		}
		for _, act := range p.Actions {
			var kinds []string
			if act.Step {
				kinds = append(kinds, "step")
			}
			if act.Probe {
				kinds = append(kinds, "probe")
			}
			if act.ReadOnly {
				kinds = append(kinds, "read-only")
			}
			if act.NaturalRollback {
				kinds = append(kinds, "natural rollback")
			} else if act.Step && !act.ReadOnly {
				kinds = append(kinds, "no natural rollback: give a rollback block or irreversible = true")
			}
			fmt.Fprintf(a.stdout, "\n  %s (%s)\n", act.Name, strings.Join(kinds, ", "))
			if act.Description != "" {
				fmt.Fprintf(a.stdout, "    %s\n", act.Description)
			}
			if len(act.Args) > 0 {
				fmt.Fprintln(a.stdout, "    arguments:")
				writeSchemaArgs(a, act.Args, "      ")
			}
			if len(act.Outputs) > 0 || act.DynamicOutputs {
				fmt.Fprintln(a.stdout, "    outputs:")
				for _, o := range act.Outputs {
					sens := ""
					if o.Sensitive {
						sens = ", sensitive"
					}
					fmt.Fprintf(a.stdout, "      %-22s %s%s  %s\n", o.Name, o.Type, sens, o.Description)
				}
				if act.DynamicOutputs {
					fmt.Fprintln(a.stdout, "      (more, depending on the arguments)")
				}
			}
		}
	}
	return exitOK
}

func writeSchemaArgs(a *app, args []argJSON, indent string) {
	for _, arg := range args {
		req := "optional"
		if arg.Required {
			req = "required"
		}
		if arg.Default != "" {
			req += ", default " + arg.Default
		}
		if arg.Sensitive {
			req += ", sensitive"
		}
		fmt.Fprintf(a.stdout, "%s%-22s %s (%s)  %s\n", indent, arg.Name, arg.Type, req, arg.Description)
	}
}

func describeProvider(p provider.Provider) providerJSON {
	out := providerJSON{Type: p.Type(), Config: schemaJSON(p.ConfigSchema()), Actions: []actionJSON{}}
	acts := p.Actions()
	names := make([]string, 0, len(acts))
	for n := range acts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		at := acts[n]
		aj := actionJSON{Name: n, Description: at.Description, Step: at.New != nil, Probe: at.NewProbe != nil, ReadOnly: at.ReadOnly,
			NaturalRollback: at.NaturalRollback, DynamicOutputs: at.DynamicOutputs != nil, Args: schemaJSON(at.Args), Outputs: []outputJSON{}}
		onames := make([]string, 0, len(at.Outputs))
		for o := range at.Outputs {
			onames = append(onames, o)
		}
		sort.Strings(onames)
		for _, o := range onames {
			def := at.Outputs[o]
			aj.Outputs = append(aj.Outputs, outputJSON{Name: o, Type: typeName(def.Type), Sensitive: def.Sensitive, Description: def.Description})
		}
		out.Actions = append(out.Actions, aj)
	}
	return out
}

// defaultRE finds the default a description states ("Default 30s.",
// "(default [0])").
var defaultRE = lazyre.New(`(?i)\bdefault:?\s+([^).;]+(\.\d+[^).;]*)?)`)

func schemaJSON(s provider.Schema) []argJSON {
	out := []argJSON{}
	for _, n := range s.Names() {
		at := s[n]
		aj := argJSON{Name: n, Type: typeName(at.Type), Required: at.Required, Sensitive: at.Sensitive, Description: at.Description}
		if m := defaultRE.FindStringSubmatch(at.Description); m != nil && !at.Required {
			aj.Default = strings.TrimSpace(m[1])
		}
		out = append(out, aj)
	}
	return out
}

// typeName renders a cty type as HCL writes it (string, list(string),
// map(number), any).
func typeName(t cty.Type) string {
	if t == cty.NilType || t == cty.DynamicPseudoType {
		return "any"
	}
	if t.IsCapsuleType() {
		return "provider instance (ssh.NAME, ...)"
	}
	if t.IsCollectionType() && t.ElementType().IsCapsuleType() {
		return t.FriendlyNameForConstraint()
	}
	return typeexpr.TypeString(t)
}

// suggestAmong returns " Did you mean ...?" for the names close to name or
// containing it as a part of a snake_case name.
func suggestAmong(name string, names []string) string {
	var close []string
	for _, n := range names {
		if levenshtein.Distance(name, n, nil) <= 2 {
			close = append(close, n)
			continue
		}
		for _, part := range strings.Split(n, "_") {
			if part == name {
				close = append(close, n)
				break
			}
		}
	}
	if len(close) == 0 {
		return " Run 'handrail providers' to list them all."
	}
	sort.Strings(close)
	return " Did you mean " + strings.Join(close, " or ") + "?"
}
