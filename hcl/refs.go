package hcl

import (
	"fmt"
	"sort"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
)

// exprRef is one expression found in a node's body, with where self is
// allowed.
type exprRef struct {
	expr   hhcl.Expression
	selfOK bool
}

// nodeExprs returns the expressions of a node's block that may refer to
// other nodes (not depends_on, from, until, which name nodes).
func nodeExprs(blk *hclsyntax.Block) []exprRef {
	var out []exprRef
	var walk func(b *hclsyntax.Body, inRollback, inCheck bool)
	walk = func(b *hclsyntax.Body, inRollback, inCheck bool) {
		for _, a := range sortedSyntaxAttrs(b.Attributes) {
			switch a.Name {
			case "depends_on", "from", "until":
				if !inRollback && !inCheck {
					continue
				}
			}
			selfOK := inRollback || (inCheck && (a.Name == "condition" || a.Name == "success" || a.Name == "failure"))
			out = append(out, exprRef{expr: a.Expr, selfOK: selfOK})
		}
		for _, sb := range b.Blocks {
			walk(sb.Body, inRollback || sb.Type == "rollback", inCheck || sb.Type == "check")
		}
	}
	walk(blk.Body, false, false)
	return out
}

func sortedSyntaxAttrs(m hclsyntax.Attributes) []*hclsyntax.Attribute {
	out := make([]*hclsyntax.Attribute, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SrcRange.Start.Byte < out[j].SrcRange.Start.Byte })
	return out
}

// bodyTraversals returns every traversal in a body, recursively.
func bodyTraversals(b *hclsyntax.Body) []hhcl.Traversal {
	var out []hhcl.Traversal
	for _, a := range sortedSyntaxAttrs(b.Attributes) {
		out = append(out, a.Expr.Variables()...)
	}
	for _, sb := range b.Blocks {
		out = append(out, bodyTraversals(sb.Body)...)
	}
	return out
}

var gateValues = map[string][]string{
	"approval": {"outcome", "approved", "by"},
}

func (c *compiler) resolveReferences() {
	rb := c.rb
	dyn := map[*nodeDecl]bool{}
	for _, n := range rb.nodes {
		if n.step != nil && !dyn[n.d] {
			dyn[n.d] = true
			dynamicOutputs(n.d)
		}
	}
	// Nodes are resolved in parallel (each writes only its own fields and
	// reads declarations settled before); diagnostics are merged in node
	// order, as planCheck does.
	nodes := rb.nodes
	diags := make([]hhcl.Diagnostics, len(nodes))
	forEachNode(len(nodes), func(i int) {
		sub := &compiler{rb: rb, ctx: c.ctx}
		sub.resolveNode(nodes[i])
		diags[i] = sub.diags
	})
	for _, d := range diags {
		c.diags = append(c.diags, d...)
	}
}

// resolveNode checks the references of one node and records what it uses
// and depends on.
func (c *compiler) resolveNode(n *node) {
	if n.step == nil && n.gate == nil {
		return
	}
	uses := map[string]bool{}
	for _, er := range nodeExprs(n.d.block) {
		for _, tr := range variables(er.expr) {
			for _, t := range c.checkRef(n, tr, er.selfOK) {
				uses[t.name] = true
			}
		}
	}
	n.uses = sortedSet(uses)
	var deps []string
	if a, ok := n.d.block.Body.Attributes["depends_on"]; ok {
		deps = c.nodeList(n, a.Expr, "depends_on")
	}
	n.deps = deps
	if n.step != nil {
		n.step.Uses, n.step.DependsOn = n.uses, deps
	} else if n.gate != nil {
		n.gate.Uses, n.gate.DependsOn = n.uses, deps
		if n.gate.Kind == "guard" {
			if a, ok := n.d.block.Body.Attributes["from"]; ok {
				if l := c.nodeList(n, a.Expr, "from"); len(l) == 1 {
					n.gate.From = l[0]
				}
			}
			if a, ok := n.d.block.Body.Attributes["until"]; ok {
				if l := c.nodeList(n, a.Expr, "until"); len(l) == 1 {
					n.gate.Until = l[0]
				}
			}
		}
	}

}

// dynamicOutputs merges the outputs an action declares from its arguments
// (provider.ActionType.DynamicOutputs: an http_request's extracted fields)
// into the step declaration's outputs, so that references to them are
// checked, typed and marked sensitive like declared ones. Only arguments
// written as literals are known here; the others are unknown.
func dynamicOutputs(d *nodeDecl) {
	if d.at.DynamicOutputs == nil || d.block == nil {
		return
	}
	attrs := map[string]cty.Value{}
	for name, a := range d.at.Args {
		ty := a.Type
		if ty == cty.NilType {
			ty = cty.DynamicPseudoType
		}
		sa, ok := d.block.Body.Attributes[name]
		if !ok {
			attrs[name] = cty.NullVal(ty)
			continue
		}
		v, diags := sa.Expr.Value(nil)
		if diags.HasErrors() {
			v = cty.UnknownVal(ty)
		}
		attrs[name] = v
	}
	extra := safeDynamicOutputs(d.at.DynamicOutputs, cty.ObjectVal(attrs))
	if len(extra) == 0 {
		return
	}
	merged := make(map[string]provider.Output, len(d.at.Outputs)+len(extra))
	for k, o := range extra {
		merged[k] = o
	}
	for k, o := range d.at.Outputs {
		merged[k] = o
	}
	d.at.Outputs = merged
}

func safeDynamicOutputs(f func(cty.Value) map[string]provider.Output, args cty.Value) (out map[string]provider.Output) {
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	return f(args)
}

func sortedSet(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// nodeList resolves depends_on = [step.a, gate.b] (or from/until =
// step.a) to node names.
func (c *compiler) nodeList(n *node, expr hhcl.Expression, what string) []string {
	var exprs []hhcl.Expression
	if what == "depends_on" {
		list, d := hhcl.ExprList(expr)
		if d.HasErrors() {
			c.errf(expr.Range(), "Invalid depends_on", "depends_on is a list of references such as [step.backup, gate.health].")
			return nil
		}
		exprs = list
	} else {
		exprs = []hhcl.Expression{expr}
	}
	var out []string
	for _, e := range exprs {
		tr, d := hhcl.AbsTraversalForExpr(e)
		if d.HasErrors() || (tr.RootName() != "step" && tr.RootName() != "gate") || len(tr) < 2 {
			c.errf(e.Range(), "Invalid "+what, fmt.Sprintf("%s takes references to nodes such as step.backup or gate.health.", what))
			continue
		}
		name := attrName(tr[1])
		d2, ok := c.rb.decls[name]
		if !ok || d2.kind != tr.RootName() {
			c.errf(tr.SourceRange(), "Reference to undeclared "+tr.RootName(), fmt.Sprintf("No %s named %q is declared.%s", tr.RootName(), name, c.declSuggest(name, tr.RootName())))
			continue
		}
		targets := c.targetsOf(n, d2, tr[2:], tr.SourceRange(), what != "depends_on")
		for _, t := range targets {
			if what == "depends_on" && t.index >= n.index {
				c.errf(tr.SourceRange(), "Reference to a later node", fmt.Sprintf("%s depends on %s, which comes later in the runbook: a dependency may only point backwards.", n.name, t.name))
				continue
			}
			if what != "depends_on" && t.d.kind == "gate" && t.gate != nil && t.gate.Kind == "guard" {
				c.errf(tr.SourceRange(), "Invalid guard span", "A guard's span is bounded by steps or gates, not by another guard.")
				continue
			}
			out = append(out, t.name)
		}
	}
	if what != "depends_on" && len(out) > 1 {
		c.errf(expr.Range(), "Invalid "+what, fmt.Sprintf("%s names one node; this reference names %d instances: pick one, such as %s.", what, len(out), out[0]))
		return nil
	}
	return out
}

// targetsOf returns the nodes a reference to decl d means inside node n,
// with rest the traversal after step.<name>.
func (c *compiler) targetsOf(n *node, d *nodeDecl, rest hhcl.Traversal, rng hhcl.Range, one bool) []*node {
	if n.inst != nil && d.phase != nil && d.phase == n.d.phase {
		for _, m := range d.nodes {
			if m.inst == n.inst {
				return []*node{m}
			}
		}
	}
	if d.phase == nil || !d.phase.forEach {
		return d.nodes
	}
	if len(rest) > 0 {
		if ix, ok := rest[0].(hhcl.TraverseIndex); ok {
			key := primitiveString(ix.Key)
			for _, m := range d.nodes {
				if m.inst.key == key {
					return []*node{m}
				}
			}
			var keys []string
			for _, m := range d.nodes {
				keys = append(keys, m.inst.key)
			}
			c.errf(rng, "No such instance", fmt.Sprintf("%s has no instance [%s]; its instances are [%s].", d.name, key, strings.Join(keys, "], [")))
			return nil
		}
	}
	return d.nodes
}

type target struct{ name string }

// checkRef validates one traversal inside node n and records the nodes it
// reads.
func (c *compiler) checkRef(n *node, tr hhcl.Traversal, selfOK bool) []target {
	rb := c.rb
	root := tr.RootName()
	rng := tr.SourceRange()
	second := attrName(traverserAt(tr, 1))
	switch root {
	case "var":
		if !c.varDeclared(second) {
			var names []string
			for _, v := range rb.vars {
				names = append(names, v.name)
			}
			c.errf(rng, "Reference to undeclared input variable", fmt.Sprintf("No variable named %q is declared.%s", second, suggestName(second, names)))
		}
		return nil
	case "local":
		if _, ok := rb.locals[second]; !ok {
			c.errf(rng, "Reference to undeclared local value", fmt.Sprintf("No local value named %q is defined.%s", second, suggestName(second, sortedKeys(rb.locals))))
		}
		return nil
	case "each":
		if n.inst == nil {
			c.errf(rng, "Reference to each outside for_each", "each.key and each.value exist only inside a phase with for_each.")
		} else if second != "key" && second != "value" {
			c.errf(rng, "Invalid each reference", fmt.Sprintf("each has key and value, not %q.", second))
		}
		return nil
	case "self":
		if !selfOK {
			c.errf(rng, "Invalid reference to self", "self is available only inside rollback blocks (the step's arguments and outputs) and check conditions (the sample: self.value).")
		}
		return nil
	case "run":
		if second != "id" && second != "started_at" {
			c.errf(rng, "Invalid run reference", fmt.Sprintf("run has id and started_at, not %q.%s", second, suggestName(second, []string{"id", "started_at"})))
		}
		return nil
	case "step", "gate":
		if second == "" {
			c.errf(rng, "Invalid reference", fmt.Sprintf("A reference to a %s looks like %s.<name>.<output>.", root, root))
			return nil
		}
		d, ok := rb.decls[second]
		if !ok || d.kind != root {
			c.errf(rng, "Reference to undeclared "+root, fmt.Sprintf("No %s named %q is declared.%s", root, second, c.declSuggest(second, root)))
			return nil
		}
		rest := tr[2:]
		targets := c.targetsOf(n, d, rest, rng, false)
		if len(targets) == 0 {
			return nil
		}
		indexed := false
		if d.phase != nil && d.phase.forEach && !(n.inst != nil && d.phase == n.d.phase) {
			if len(rest) > 0 {
				if _, ok := rest[0].(hhcl.TraverseIndex); ok {
					indexed = true
					rest = rest[1:]
				}
			}
		}
		var out []target
		for _, t := range targets {
			if t == n {
				c.errf(rng, "Self reference", fmt.Sprintf("%s %q cannot read its own outputs; inside a rollback block use self.<output>.", root, n.name))
				return nil
			}
			if t.index > n.index {
				c.errf(rng, "Reference to a later node", fmt.Sprintf("%s reads %s.%s, which comes later in the runbook (%s): a reference may only point backwards.", n.name, root, second, t.name))
				return nil
			}
			out = append(out, target{name: t.name})
		}
		// Output names.
		grouped := d.phase != nil && d.phase.forEach && !(n.inst != nil && d.phase == n.d.phase) && !indexed
		if len(rest) > 0 && !grouped {
			if out := attrName(rest[0]); out != "" {
				c.checkOutputName(d, targets[0], out, rng)
			}
		}
		if len(rest) > 0 && grouped {
			if out := attrName(rest[0]); out != "" && len(targets) > 0 {
				isKey := false
				for _, t := range targets {
					isKey = isKey || t.inst.key == out
				}
				if !isKey {
					c.errf(rng, "Missing instance key", fmt.Sprintf("%s.%s has one instance per element of its phase's for_each: pick one, such as %s.%s[%s].%s.", root, second, root, second, targets[0].inst.key, out))
					return nil
				}
			}
		}
		// Record the target for the evaluation context.
		m := n.refs[root]
		if m == nil {
			m = map[string]*refTarget{}
			n.refs[root] = m
		}
		rt := m[second]
		if rt == nil {
			rt = &refTarget{}
			m[second] = rt
		}
		if d.phase != nil && d.phase.forEach && !(n.inst != nil && d.phase == n.d.phase) {
			if rt.many == nil {
				rt.many = map[string]*node{}
			}
			for _, t := range targets {
				rt.many[t.inst.key] = t
			}
		} else {
			rt.one = targets[0]
		}
		return out
	}
	if _, ok := rb.byType[root]; ok {
		if _, ok := rb.instances[root+"."+second]; !ok {
			var names []string
			for _, d := range rb.byType[root] {
				names = append(names, d.name)
			}
			c.errf(rng, "Reference to undeclared provider", fmt.Sprintf("No provider %q %q is declared.%s", root, second, suggestName(second, names)))
		}
		return nil
	}
	if _, ok := rb.reg.Provider(root); ok {
		c.errf(rng, "Reference to undeclared provider", fmt.Sprintf("No provider %q %q is declared: add provider %q %q { ... }.", root, second, root, second))
		return nil
	}
	roots := []string{"var", "local", "step", "gate", "each", "self", "run"}
	roots = append(roots, sortedKeys(rb.byType)...)
	c.errf(rng, "Unknown reference", fmt.Sprintf("%q is not something a runbook can refer to.%s References start with var., local., step., gate., each., self., run. or a provider type.", root, suggestName(root, roots)))
	return nil
}

func (c *compiler) declSuggest(name, kind string) string {
	var names []string
	for n, d := range c.rb.decls {
		if d.kind == kind {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if d, ok := c.rb.decls[name]; ok && d.kind != kind {
		return fmt.Sprintf(" %q is a %s: use %s.%s.", name, d.kind, d.kind, name)
	}
	return suggestName(name, names)
}

func (c *compiler) checkOutputName(d *nodeDecl, t *node, out string, rng hhcl.Range) {
	if d.kind == "step" {
		if d.pv == nil {
			return
		}
		if _, ok := d.at.Outputs[out]; !ok {
			names := sortedKeys(d.at.Outputs)
			detail := fmt.Sprintf("Action %q of step %q has no output named %q.", d.typ, d.name, out)
			if len(names) == 0 {
				detail += " It declares no outputs."
			} else {
				detail += suggestName(out, names) + " Its outputs: " + strings.Join(names, ", ") + "."
			}
			c.errf(rng, "Unsupported output", detail)
		}
		return
	}
	names := gateValueNames(t)
	for _, n := range names {
		if n == out {
			return
		}
	}
	c.errf(rng, "Unsupported gate value", fmt.Sprintf("Gate %q has no value named %q.%s Its values: %s.", d.name, out, suggestName(out, names), strings.Join(names, ", ")))
}

func gateValueNames(n *node) []string {
	if n.gate == nil {
		return nil
	}
	if n.gate.Kind == "approval" {
		return gateValues["approval"]
	}
	names := []string{"outcome", "value"}
	for _, ch := range n.gate.Checks {
		if ch.Name != "outcome" && ch.Name != "value" {
			names = append(names, ch.Name)
		}
	}
	return names
}

// nodeType returns the object type of a node's outputs.
func (n *node) valueAttrs() map[string]cty.Type {
	out := map[string]cty.Type{}
	if n.step != nil {
		for k, o := range n.d.at.Outputs {
			ty := o.Type
			if ty == cty.NilType {
				ty = cty.DynamicPseudoType
			}
			out[k] = ty
		}
		return out
	}
	if n.gate != nil && n.gate.Kind == "approval" {
		return map[string]cty.Type{"outcome": cty.String, "approved": cty.Bool, "by": cty.String}
	}
	out["outcome"] = cty.String
	for _, name := range gateValueNames(n) {
		if name != "outcome" {
			out[name] = cty.DynamicPseudoType
		}
	}
	return out
}
