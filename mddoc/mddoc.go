// Package mddoc renders a Handrail runbook (HCL) as a Markdown document
// people can read in an incident: the phases and their steps with the
// commands or actions they run, gates with their thresholds, approvals,
// budgets on a timeline table, the point of no return and the rollback
// procedure in reverse order.
//
// The document is written in the shape package mdimport reads, so that
// importing it gives back the same plan for runbooks made only of the
// constructs the importer knows: explicit names in "(`name`)", one code
// block per command step, the timeline's rows keyed by step name.
package mddoc

import (
	"fmt"
	"sort"
	"strings"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// ReadVars reads a variable-values file (*.auto.hclvars): literal values
// only, by name.
func ReadVars(filename string, src []byte) (map[string]cty.Value, error) {
	f, diags := hclsyntax.ParseConfig(src, filename, hhcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s: %w", filename, diags)
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s: %w", filename, diags)
	}
	out := map[string]cty.Value{}
	for name, a := range attrs {
		v, d := a.Expr.Value(nil)
		if d.HasErrors() {
			return nil, fmt.Errorf("%s: %w", filename, d)
		}
		out[name] = v
	}
	return out, nil
}

// Render writes the runbook in src (the file filename) as Markdown. vars
// are variable values (from .auto.hclvars files); variables without a
// value show as [NAME] and sensitive ones always do.
func Render(filename string, src []byte, vars map[string]cty.Value) ([]byte, error) {
	f, diags := hclsyntax.ParseConfig(src, filename, hhcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%w", diags)
	}
	r := &renderer{providers: map[string]*hclsyntax.Block{}, vars: map[string]cty.Value{}, src: src}
	body := f.Body.(*hclsyntax.Body)
	// Variables and locals first: everything else is evaluated with them.
	for _, b := range body.Blocks {
		if b.Type != "variable" || len(b.Labels) != 1 {
			continue
		}
		name := b.Labels[0]
		sensitive := false
		if a, ok := b.Body.Attributes["sensitive"]; ok {
			if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type() == cty.Bool && v.IsKnown() && !v.IsNull() {
				sensitive = v.True()
			}
		}
		val := cty.StringVal("[" + strings.ToUpper(name) + "]")
		if !sensitive {
			if a, ok := b.Body.Attributes["default"]; ok {
				if v, d := a.Expr.Value(nil); !d.HasErrors() {
					val = v
				}
			}
			if v, ok := vars[name]; ok {
				val = v
			}
		}
		r.vars[name] = val
	}
	r.ctx = &hhcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(r.vars)}}
	locals := map[string]cty.Value{}
	for _, b := range body.Blocks {
		if b.Type == "locals" {
			for name, a := range b.Body.Attributes {
				if v, d := a.Expr.Value(r.ctx); !d.HasErrors() {
					locals[name] = v
				}
			}
		}
	}
	r.ctx.Variables["local"] = cty.ObjectVal(locals)
	for _, b := range body.Blocks {
		switch b.Type {
		case "runbook":
			if len(b.Labels) > 0 {
				r.name = b.Labels[0]
			}
			r.description = r.text(b.Body, "description")
			if w := r.text(b.Body, "window"); w != "" {
				r.window = w
			}
		case "provider":
			if len(b.Labels) == 2 {
				r.providers[b.Labels[0]+"."+b.Labels[1]] = b
			}
		case "phase":
			ph := &phase{block: b}
			if len(b.Labels) > 0 {
				ph.name = b.Labels[0]
			}
			for _, c := range b.Body.Blocks {
				if c.Type == "step" || c.Type == "gate" {
					ph.nodes = append(ph.nodes, c)
				}
			}
			r.items = append(r.items, ph)
		case "step", "gate":
			r.items = append(r.items, b)
		}
	}
	return []byte(r.render()), nil
}

type phase struct {
	name  string
	block *hclsyntax.Block
	nodes []*hclsyntax.Block
}

type renderer struct {
	src         []byte
	name        string
	description string
	window      string
	providers   map[string]*hclsyntax.Block
	vars        map[string]cty.Value
	ctx         *hhcl.EvalContext
	items       []any // *phase or *hclsyntax.Block
	b           strings.Builder
}

// value evaluates an expression; ok is false when it cannot be known here
// (a step output, a function of the run).
func (r *renderer) value(e hclsyntax.Expression) (cty.Value, bool) {
	v, d := e.Value(r.ctx)
	if d.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	v, _ = v.Unmark()
	return v, true
}

// text returns an attribute as a string: its value when it can be
// computed, its source otherwise.
func (r *renderer) text(body *hclsyntax.Body, name string) string {
	a, ok := body.Attributes[name]
	if !ok {
		return ""
	}
	return r.exprText(a.Expr)
}

func (r *renderer) exprText(e hclsyntax.Expression) string {
	if v, ok := r.value(e); ok {
		if s, err := convert.Convert(v, cty.String); err == nil && !s.IsNull() {
			return s.AsString()
		}
	}
	return strings.TrimSpace(string(e.Range().SliceBytes(r.src)))
}

// source is an attribute's expression as written.
func (r *renderer) source(body *hclsyntax.Body, name string) string {
	a, ok := body.Attributes[name]
	if !ok {
		return ""
	}
	return strings.TrimSpace(string(a.Expr.Range().SliceBytes(r.src)))
}

func (r *renderer) strings(body *hclsyntax.Body, name string) ([]string, bool) {
	a, ok := body.Attributes[name]
	if !ok {
		return nil, false
	}
	v, ok := r.value(a.Expr)
	if !ok || v.IsNull() || !(v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType()) {
		return nil, false
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		s, err := convert.Convert(e, cty.String)
		if err != nil || s.IsNull() {
			return nil, false
		}
		out = append(out, s.AsString())
	}
	return out, true
}

func (r *renderer) boolAttr(body *hclsyntax.Body, name string) bool {
	a, ok := body.Attributes[name]
	if !ok {
		return false
	}
	v, ok := r.value(a.Expr)
	return ok && v.Type() == cty.Bool && !v.IsNull() && v.True()
}

func (r *renderer) duration(body *hclsyntax.Body, name string) time.Duration {
	d, err := time.ParseDuration(r.text(body, name))
	if err != nil {
		return 0
	}
	return d
}

// instance returns the provider block a step's `provider = type.name`
// names, or the only one of its type.
func (r *renderer) instance(body *hclsyntax.Body, typ string) *hclsyntax.Block {
	if a, ok := body.Attributes["provider"]; ok {
		if t, ok := a.Expr.(*hclsyntax.ScopeTraversalExpr); ok && len(t.Traversal) == 2 {
			if at, ok := t.Traversal[1].(hhcl.TraverseAttr); ok {
				return r.providers[t.Traversal.RootName()+"."+at.Name]
			}
		}
		return nil
	}
	var only *hclsyntax.Block
	for k, p := range r.providers {
		if strings.HasPrefix(k, typ+".") {
			if only != nil {
				return nil
			}
			only = p
		}
	}
	return only
}

// via returns the ssh provider block a docker or postgres instance goes
// through.
func (r *renderer) via(p *hclsyntax.Block) *hclsyntax.Block {
	if p == nil {
		return nil
	}
	a, ok := p.Body.Attributes["via"]
	if !ok {
		return nil
	}
	if t, ok := a.Expr.(*hclsyntax.ScopeTraversalExpr); ok && len(t.Traversal) == 2 {
		if at, ok := t.Traversal[1].(hhcl.TraverseAttr); ok {
			return r.providers[t.Traversal.RootName()+"."+at.Name]
		}
	}
	return nil
}

func (r *renderer) sshLogin(p *hclsyntax.Block) string {
	if p == nil {
		return ""
	}
	host := r.text(p.Body, "host")
	if u := r.text(p.Body, "user"); u != "" {
		return u + "@" + host
	}
	return host
}

func nodeName(b *hclsyntax.Block) string {
	if len(b.Labels) == 2 {
		return b.Labels[1]
	}
	return "?"
}

func nodeType(b *hclsyntax.Block) string {
	if len(b.Labels) >= 1 {
		return b.Labels[0]
	}
	return "?"
}

// title is how a node or phase is called in prose: its description, or
// its name with underscores as spaces.
func (r *renderer) title(body *hclsyntax.Body, name string) string {
	if d := r.text(body, "description"); d != "" {
		return d
	}
	return strings.ReplaceAll(name, "_", " ")
}

// escape makes text safe as Markdown inline text.
func escape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune("\\`*_[]<>#|!", c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// code quotes s as an inline code span.
func code(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// block writes a fenced code block.
func (r *renderer) fence(lang string, lines ...string) {
	body := strings.Join(lines, "\n")
	f := "```"
	for strings.Contains(body, f) {
		f += "`"
	}
	fmt.Fprintf(&r.b, "%s%s\n%s\n%s\n\n", f, lang, strings.TrimRight(body, "\n"), f)
}

func sortedKeys(m map[string]cty.Value) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
