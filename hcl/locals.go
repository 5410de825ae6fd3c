package hcl

import (
	"fmt"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

func convertTo(v cty.Value, ty cty.Type) (cty.Value, error) { return convert.Convert(v, ty) }

// evalLocals evaluates locals in topological order, reporting cycles.
func (c *compiler) evalLocals(blocks []*hclsyntax.Block) {
	rb := c.rb
	attrs := map[string]*hhcl.Attribute{}
	var order []string
	for _, b := range blocks {
		as, d := b.Body.JustAttributes()
		c.diags = append(c.diags, d...)
		for _, a := range sortedAttrs(as) {
			if prev, dup := attrs[a.Name]; dup {
				c.errf(a.NameRange, "Duplicate local value", fmt.Sprintf("local.%s was already defined at %s.", a.Name, prev.NameRange))
				continue
			}
			attrs[a.Name] = a
			order = append(order, a.Name)
		}
	}
	deps := map[string][]string{}
	var varNames []string
	for _, v := range rb.vars {
		varNames = append(varNames, v.name)
	}
	bad := map[string]bool{}
	for _, name := range order {
		a := attrs[name]
		for _, tr := range a.Expr.Variables() {
			switch tr.RootName() {
			case "local":
				ref := attrName(traverserAt(tr, 1))
				if ref == "" {
					c.errf(tr.SourceRange(), "Invalid reference", "A reference to a local value looks like local.<name>.")
					bad[name] = true
					continue
				}
				if _, ok := attrs[ref]; !ok {
					c.errf(tr.SourceRange(), "Reference to undeclared local value", fmt.Sprintf("No local value named %q is defined.%s", ref, suggestName(ref, order)))
					bad[name] = true
					continue
				}
				deps[name] = append(deps[name], ref)
			case "var":
				ref := attrName(traverserAt(tr, 1))
				if _, ok := rb.varVals[ref]; !ok && !c.varDeclared(ref) {
					c.errf(tr.SourceRange(), "Reference to undeclared input variable", fmt.Sprintf("No variable named %q is declared.%s", ref, suggestName(ref, varNames)))
					bad[name] = true
				}
			default:
				c.errf(tr.SourceRange(), "Invalid reference in locals", fmt.Sprintf("Local values are computed before the run and may refer only to var.* and local.*, not to %q.", tr.RootName()))
				bad[name] = true
			}
		}
	}
	// Topological order with cycle detection (DFS, source order).
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var sorted []string
	var stack []string
	reported := map[string]bool{}
	var visit func(n string)
	visit = func(n string) {
		switch state[n] {
		case 2:
			return
		case 1:
			i := indexOf(stack, n)
			cyc := append(append([]string(nil), stack[i:]...), n)
			key := strings.Join(cyc, ",")
			if !reported[key] {
				reported[key] = true
				parts := make([]string, len(cyc))
				for k, s := range cyc {
					parts[k] = "local." + s
				}
				c.errf(attrs[n].NameRange, "Cycle in local values", "Local values refer to each other in a cycle: "+strings.Join(parts, " -> ")+".")
			}
			for _, s := range stack[i:] {
				bad[s] = true
			}
			return
		}
		state[n] = 1
		stack = append(stack, n)
		for _, d := range deps[n] {
			visit(d)
		}
		stack = stack[:len(stack)-1]
		state[n] = 2
		sorted = append(sorted, n)
	}
	for _, n := range order {
		visit(n)
	}
	if c.diags.HasErrors() {
		return
	}
	// The variables' object is built once, and each local sees only the
	// locals it refers to: building the object of every local for every
	// local made 20,000 locals take minutes.
	varObj := objectOrEmpty(rb.varVals)
	for _, n := range sorted {
		skip := bad[n]
		for _, d := range deps[n] {
			if _, ok := rb.locals[d]; !ok {
				skip = true
			}
		}
		if skip {
			continue
		}
		used := make(map[string]cty.Value, len(deps[n]))
		for _, d := range deps[n] {
			used[d] = rb.locals[d]
		}
		ctx := &hhcl.EvalContext{Variables: map[string]cty.Value{"var": varObj, "local": objectOrEmpty(used)}, Functions: rb.funcs}
		v, d := evalExpr(attrs[n].Expr, ctx)
		c.diags = append(c.diags, d...)
		if d.HasErrors() {
			continue
		}
		rb.locals[n] = v
		for _, s := range sensitiveStrings(v) {
			rb.red.Add(s)
		}
	}
}

func (c *compiler) varDeclared(name string) bool {
	for _, v := range c.rb.vars {
		if v.name == name {
			return true
		}
	}
	return false
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func traverserAt(t hhcl.Traversal, i int) hhcl.Traverser {
	if i < len(t) {
		return t[i]
	}
	return nil
}
