package hcl

import (
	"context"
	"fmt"
	"sort"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
)

// providerDecl is one provider block (or an implicit default instance).
type providerDecl struct {
	typ, name string
	block     *hclsyntax.Block
	p         provider.Provider
	inst      provider.Instance
	implicit  bool
}

func (p *providerDecl) key() string { return p.typ + "." + p.name }

// schemaSpec converts a provider schema to an hcldec spec.
func schemaSpec(s provider.Schema) hcldec.ObjectSpec {
	spec := hcldec.ObjectSpec{}
	for name, a := range s {
		ty := a.Type
		if ty == cty.NilType {
			ty = cty.DynamicPseudoType
		}
		spec[name] = &hcldec.AttrSpec{Name: name, Type: ty, Required: a.Required}
	}
	return spec
}

// markSchema marks the sensitive attributes of a decoded object.
func markSchema(v cty.Value, s provider.Schema) cty.Value {
	return mapSchema(v, s, func(a provider.Attribute) bool { return a.Sensitive }, markSensitive)
}

// mapSchema replaces each attribute of a decoded object that the schema
// picks with f of it, keeping the object's own marks. An object none of
// whose attributes could be picked is returned as it is, unread.
func mapSchema(v cty.Value, s provider.Schema, pick func(provider.Attribute) bool, f func(cty.Value) cty.Value) cty.Value {
	if v == cty.NilVal || !v.Type().IsObjectType() || v.IsNull() || !v.IsKnown() {
		return v
	}
	picked := false
	for _, a := range s {
		picked = picked || pick(a)
	}
	if !picked {
		return v
	}
	v, marks := v.Unmark()
	attrs := v.AsValueMap()
	for name, a := range s {
		if x, ok := attrs[name]; ok && pick(a) {
			attrs[name] = f(x)
		}
	}
	return cty.ObjectVal(attrs).WithMarks(marks)
}

func (c *compiler) configureProviders(blocks []*hclsyntax.Block) {
	rb := c.rb
	for _, b := range blocks {
		typ, name := b.Labels[0], b.Labels[1]
		p, ok := rb.reg.Provider(typ)
		if !ok {
			c.errf(b.LabelRanges[0], "Unknown provider type", fmt.Sprintf("No provider of type %q is available.%s Available: %s.", typ, suggestName(typ, rb.reg.Types()), strings.Join(rb.reg.Types(), ", ")))
			continue
		}
		if !hclsyntax.ValidIdentifier(name) {
			c.errf(b.LabelRanges[1], "Invalid provider name", "A provider name must start with a letter or underscore and contain only letters, digits, underscores and dashes.")
			continue
		}
		if reservedRoot(typ) {
			c.errf(b.LabelRanges[0], "Reserved provider type", fmt.Sprintf("The provider type %q clashes with a reference root of the language.", typ))
			continue
		}
		d := &providerDecl{typ: typ, name: name, block: b, p: p}
		if prev, dup := rb.instances[d.key()]; dup {
			c.errf(b.DefRange(), "Duplicate provider", fmt.Sprintf("provider %q %q was already declared at %s.", typ, name, prev.block.DefRange()))
			continue
		}
		rb.instances[d.key()] = d
		rb.providers = append(rb.providers, d)
		rb.byType[typ] = append(rb.byType[typ], d)
	}
	if c.diags.HasErrors() {
		return
	}
	// Order by references between instances (docker's via = ssh.app).
	deps := map[*providerDecl][]*providerDecl{}
	for _, d := range rb.providers {
		for _, tr := range bodyTraversals(d.block.Body) {
			if _, isType := rb.byType[tr.RootName()]; !isType {
				continue
			}
			other, ok := rb.instances[tr.RootName()+"."+attrName(traverserAt(tr, 1))]
			if !ok {
				c.errf(tr.SourceRange(), "Reference to undeclared provider", fmt.Sprintf("No provider %q %q is declared.", tr.RootName(), attrName(traverserAt(tr, 1))))
				continue
			}
			deps[d] = append(deps[d], other)
		}
	}
	state := map[*providerDecl]int{}
	var order []*providerDecl
	var visit func(d *providerDecl, path []*providerDecl)
	visit = func(d *providerDecl, path []*providerDecl) {
		if state[d] == 2 {
			return
		}
		if state[d] == 1 {
			var names []string
			for _, p := range path {
				names = append(names, p.key())
			}
			c.errf(d.block.DefRange(), "Cycle between providers", "Provider configurations refer to each other in a cycle: "+strings.Join(append(names, d.key()), " -> ")+".")
			return
		}
		state[d] = 1
		for _, o := range deps[d] {
			visit(o, append(path, d))
		}
		state[d] = 2
		order = append(order, d)
	}
	for _, d := range rb.providers {
		visit(d, nil)
	}
	if c.diags.HasErrors() {
		return
	}
	for _, d := range order {
		spec := schemaSpec(d.p.ConfigSchema())
		ctx := rb.base.NewChild()
		ctx.Variables = c.providerRoots()
		val, diags := decodeBody(d.block.Body, specDecoder{spec}, ctx, d.block.DefRange())
		c.diags = append(c.diags, diags...)
		if diags.HasErrors() {
			continue
		}
		val = resolveSchema(val, d.p.ConfigSchema(), d.block.Range().Filename)
		c.configure(d, markSchema(val, d.p.ConfigSchema()), d.block.DefRange())
	}
	rb.base.Variables = mergeVars(rb.base.Variables, c.providerRoots())
}

func (c *compiler) configure(d *providerDecl, val cty.Value, rng hhcl.Range) bool {
	if !val.IsWhollyKnown() {
		c.errf(rng, "Provider configuration not known", "A provider's configuration must be known when the runbook is loaded.")
		return false
	}
	plain, secrets := unmarkForProvider(val)
	for _, s := range secrets {
		c.rb.red.Add(s)
	}
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	inst, err := safeConfigure(ctx, d, plain)
	if err != nil {
		c.errf(rng, "Invalid provider configuration", fmt.Sprintf("provider %q %q: %s", d.typ, d.name, c.rb.red.Redact(err.Error())))
		return false
	}
	if inst == nil {
		c.errf(rng, "Invalid provider configuration", fmt.Sprintf("provider %q %q returned no instance.", d.typ, d.name))
		return false
	}
	d.inst = inst
	return true
}

func safeConfigure(ctx context.Context, d *providerDecl, v cty.Value) (inst provider.Instance, err error) {
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("the provider panicked while configuring: %v", x)
		}
	}()
	return d.p.Configure(ctx, d.name, v)
}

// providerRoots returns the reference roots of configured instances:
// ssh = { lb = <instance> }.
func (c *compiler) providerRoots() map[string]cty.Value {
	out := map[string]cty.Value{}
	for typ, ds := range c.rb.byType {
		m := map[string]cty.Value{}
		for _, d := range ds {
			if d.inst != nil {
				m[d.name] = provider.InstanceVal(d.inst)
			}
		}
		if len(m) > 0 {
			out[typ] = cty.ObjectVal(m)
		}
	}
	return out
}

func mergeVars(a, b map[string]cty.Value) map[string]cty.Value {
	out := make(map[string]cty.Value, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// instanceFor returns the provider instance for an action of type typ:
// the one named by expr (provider = ssh.lb), else the only one of that type,
// else an implicit default instance when the type's configuration has no
// required argument.
func (c *compiler) instanceFor(typ string, expr hhcl.Expression, ctx *hhcl.EvalContext, rng hhcl.Range, action string) *providerDecl {
	rb := c.rb
	if expr != nil {
		if !c.checkProviderRef(expr) {
			return nil
		}
		v, d := evalExpr(expr, ctx)
		if d.HasErrors() {
			c.diags = append(c.diags, d...)
			return nil
		}
		v, _ = v.Unmark()
		inst, err := provider.InstanceFromValue(v)
		if err != nil {
			c.errf(expr.Range(), "Invalid provider reference", fmt.Sprintf("provider must name a provider instance such as %s.main.", typ))
			return nil
		}
		for _, d := range rb.byType[typ] {
			if d.inst == inst {
				return d
			}
		}
		c.errf(expr.Range(), "Wrong provider type", fmt.Sprintf("%q is a %s action, but %s is not a %q provider.", action, typ, inst.Name(), typ))
		return nil
	}
	switch ds := rb.byType[typ]; len(ds) {
	case 1:
		return ds[0]
	case 0:
		p, _ := rb.reg.Provider(typ)
		for name, a := range p.ConfigSchema() {
			if a.Required {
				c.errf(rng, "Missing provider", fmt.Sprintf("%q needs a %q provider; declare one: provider %q \"main\" { %s = ... }.", action, typ, typ, name))
				return nil
			}
		}
		d := &providerDecl{typ: typ, name: "default", p: p, implicit: true}
		val, diags := decodeBody(hhcl.EmptyBody(), specDecoder{schemaSpec(p.ConfigSchema())}, nil, rng)
		c.diags = append(c.diags, diags...)
		// The implicit instance has no block: its local paths (exec's
		// default dir) are the step's file's.
		if diags.HasErrors() || !c.configure(d, resolveSchema(val, p.ConfigSchema(), rng.Filename), rng) {
			return nil
		}
		rb.instances[d.key()] = d
		rb.providers = append(rb.providers, d)
		rb.byType[typ] = append(rb.byType[typ], d)
		rb.base.Variables = mergeVars(rb.base.Variables, c.providerRoots())
		return d
	default:
		var names []string
		for _, d := range ds {
			names = append(names, d.key())
		}
		sort.Strings(names)
		c.errf(rng, "Ambiguous provider", fmt.Sprintf("There are several %q providers (%s): choose one with provider = %s.", typ, strings.Join(names, ", "), names[0]))
		return nil
	}
}

// checkProviderRef reports a provider = <type>.<name> naming no declared
// instance, with a suggestion.
func (c *compiler) checkProviderRef(expr hhcl.Expression) bool {
	for _, tr := range expr.Variables() {
		root, name := tr.RootName(), attrName(traverserAt(tr, 1))
		if _, isType := c.rb.reg.Provider(root); !isType {
			continue
		}
		if _, ok := c.rb.instances[root+"."+name]; !ok {
			var names []string
			for _, d := range c.rb.byType[root] {
				names = append(names, d.name)
			}
			c.errf(tr.SourceRange(), "Reference to undeclared provider", fmt.Sprintf("No provider %q %q is declared.%s", root, name, suggestName(name, names)))
			return false
		}
	}
	return true
}

func reservedRoot(s string) bool {
	switch s {
	case "var", "local", "step", "gate", "each", "self", "run", "count", "path", "module", "terraform", "data":
		return true
	}
	return false
}
