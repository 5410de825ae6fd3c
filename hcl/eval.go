package hcl

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
)

// valueFn returns the value of a node as seen by another.
type valueFn func(m *node) cty.Value

var unknownRun = cty.ObjectVal(map[string]cty.Value{"id": cty.UnknownVal(cty.String), "started_at": cty.UnknownVal(cty.String)})

func runVal(info runbook.RunInfo) cty.Value {
	started := cty.StringVal("")
	if !info.StartedAt.IsZero() {
		started = cty.StringVal(info.StartedAt.UTC().Format(time.RFC3339))
	}
	return cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal(info.ID), "started_at": started})
}

// evalCtx returns the evaluation context of node n: var, local, providers,
// each, and the nodes it refers to, plus self when given.
func (n *node) evalCtx(val valueFn, self cty.Value, run cty.Value) *hhcl.EvalContext {
	ctx := n.ctx.NewChild()
	vars := make(map[string]cty.Value, len(n.refs)+2)
	vars["run"] = run
	for root, m := range n.refs {
		attrs := make(map[string]cty.Value, len(m))
		for name, rt := range m {
			if rt.one != nil {
				attrs[name] = val(rt.one)
				continue
			}
			inst := make(map[string]cty.Value, len(rt.many))
			for k, t := range rt.many {
				inst[k] = val(t)
			}
			attrs[name] = objectOrEmpty(inst)
		}
		vars[root] = objectOrEmpty(attrs)
	}
	if self != cty.NilVal {
		vars["self"] = self
	}
	ctx.Variables = vars
	return ctx
}

// sensitiveOutput reports whether a node's output is declared sensitive.
func (n *node) sensitiveOutput(name string) bool {
	if n.step == nil {
		return false
	}
	return n.d.at.Outputs[name].Sensitive
}

// unknownVal is the plan-time value of a node: typed unknowns. It is
// computed once, before the plan is built, and read concurrently after.
func (n *node) unknownVal() cty.Value {
	if n.unknown != cty.NilVal {
		return n.unknown
	}
	n.unknown = n.makeUnknown()
	return n.unknown
}

func (n *node) makeUnknown() cty.Value {
	attrs := map[string]cty.Value{}
	for k, ty := range n.valueAttrs() {
		v := cty.UnknownVal(ty)
		if n.sensitiveOutput(k) {
			v = markSensitive(v)
		}
		attrs[k] = v
	}
	return objectOrEmpty(attrs)
}

// nullVal is the value of a node that did not run.
func (n *node) nullVal() cty.Value {
	attrs := map[string]cty.Value{}
	for k, ty := range n.valueAttrs() {
		attrs[k] = cty.NullVal(ty)
	}
	return objectOrEmpty(attrs)
}

// outputVal converts a finished node's outputs.
func (n *node) outputVal(outs runbook.Outputs) (cty.Value, error) {
	attrs := map[string]cty.Value{}
	for k, ty := range n.valueAttrs() {
		v, err := convertOutput(outs[k], ty, n.sensitiveOutput(k))
		if err != nil {
			return cty.NilVal, fmt.Errorf("output %q of %s: %w", k, n.name, err)
		}
		attrs[k] = v
	}
	return objectOrEmpty(attrs), nil
}

// runtimeVals returns a valueFn reading finished nodes from env; conversion
// errors are collected in errs.
func runtimeVals(env *runbook.Env, errs *[]error) valueFn {
	return func(m *node) cty.Value {
		outs, ok := env.Output(m.name)
		if !ok {
			// References point backwards: a node without outputs now was
			// skipped (when = false) or failed and was let go; it never will
			// have any, so its outputs are null (coalesce and try work).
			return m.nullVal()
		}
		v, err := m.outputVal(outs)
		if err != nil {
			*errs = append(*errs, err)
			return m.unknownVal()
		}
		return v
	}
}

func planVal(m *node) cty.Value { return m.unknownVal() }

// selfVal merges a step's arguments and outputs for its rollbacks.
func selfVal(args, outs cty.Value) cty.Value {
	useArgs := args != cty.NilVal && !args.IsNull() && args.IsKnown() && args.Type().IsObjectType()
	useOuts := outs != cty.NilVal && outs.IsKnown() && !outs.IsNull() && outs.Type().IsObjectType()
	size := 0
	if useArgs {
		size += len(args.Type().AttributeTypes())
	}
	if useOuts {
		size += len(outs.Type().AttributeTypes())
	}
	if size == 0 {
		return cty.EmptyObjectVal
	}
	attrs := make(map[string]cty.Value, size)
	if useArgs {
		a, marks := args.Unmark()
		for k := range a.Type().AttributeTypes() {
			attrs[k] = a.GetAttr(k).WithMarks(marks)
		}
	}
	if useOuts {
		for k := range outs.Type().AttributeTypes() {
			attrs[k] = outs.GetAttr(k)
		}
	}
	return cty.ObjectVal(attrs)
}

// probeSelf is self inside a condition at plan time.
func probeSelf(at provider.ActionType) cty.Value {
	attrs := map[string]cty.Value{"value": cty.DynamicVal}
	for k, o := range at.Outputs {
		if k == "value" {
			continue
		}
		ty := o.Type
		if ty == cty.NilType {
			ty = cty.DynamicPseudoType
		}
		v := cty.UnknownVal(ty)
		if o.Sensitive {
			v = markSensitive(v)
		}
		attrs[k] = v
	}
	return cty.ObjectVal(attrs)
}

// waitsOf maps each attribute of a body to what its value waits for: nodes
// (step.x), or the run (run.started_at).
func waitsOf(n *node, sb *hclsyntax.Body, self bool) map[string][]string {
	if sb == nil {
		return nil
	}
	out := map[string][]string{}
	for name, a := range sb.Attributes {
		seen := map[string]bool{}
		for _, tr := range a.Expr.Variables() {
			root := tr.RootName()
			if root == "self" && self {
				seen["step."+n.name] = true
				continue
			}
			if root == "run" {
				seen["run."+attrName(traverserAt(tr, 1))] = true
				continue
			}
			if root != "step" && root != "gate" {
				continue
			}
			rt := n.refs[root][attrName(traverserAt(tr, 1))]
			if rt == nil {
				continue
			}
			if rt.one != nil {
				seen[root+"."+rt.one.name] = true
			}
			for _, t := range rt.many {
				seen[root+"."+t.name] = true
			}
		}
		if len(seen) > 0 {
			out[name] = sortedSet(seen)
		}
	}
	return out
}

// planCheck evaluates every body with typed unknowns, so that type errors
// surface before anything runs.
func (c *compiler) planCheck() {
	nodes := c.rb.nodes
	// Steps of an action without dynamic outputs share one unknown value.
	shared := map[string]cty.Value{}
	for _, n := range nodes {
		if n.step == nil || n.d.at.DynamicOutputs != nil || n.unknown != cty.NilVal {
			n.unknownVal()
			continue
		}
		v, ok := shared[n.d.typ]
		if !ok {
			v = n.makeUnknown()
			shared[n.d.typ] = v
		}
		n.unknown = v
	}
	// Bodies are evaluated in parallel (cty and HCL evaluation are safe for
	// concurrent use; each node writes only its own fields); diagnostics are
	// merged in node order.
	diags := make([]hhcl.Diagnostics, len(nodes))
	forEachNode(len(nodes), func(i int) {
		sub := &compiler{rb: c.rb, ctx: c.ctx}
		sub.checkNode(nodes[i])
		diags[i] = sub.diags
	})
	for i, n := range nodes {
		c.diags = append(c.diags, diags[i]...)
		if n.step != nil && n.d.pv != nil && !diags[i].HasErrors() {
			c.learnFacts(n) // providers' New need not be safe for concurrent use
		}
	}
	for _, o := range c.rb.outputs {
		v, d := evalExpr(o.expr, o.n.evalCtx(planVal, cty.NilVal, unknownRun))
		c.diags = append(c.diags, d...)
		if !d.HasErrors() && hasSensitive(v) && !o.sensitive {
			c.errf(o.expr.Range(), "Output refers to sensitive values", fmt.Sprintf("Output %q would show a sensitive value: set sensitive = true in the output block.", o.name))
		}
	}
}

// forEachNode calls f(0) ... f(n-1), on every processor for runbooks of
// 512 nodes or more (below that, goroutines cost more than they save).
func forEachNode(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 512 || workers < 2 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// actionFacts is what the provider's own action says about itself, learnt
// at load time by building it once from arguments known before the run:
// the plan then shows what a Go-built plan would show.
type actionFacts struct {
	readOnly    bool
	natural     bool
	naturalDesc runbook.Description
}

// learnFacts builds the action from known arguments (New must not do I/O)
// and checks that a step changing the world can be compensated.
func (c *compiler) learnFacts(n *node) {
	d := n.d
	if n.planArgs.whollyKnown() {
		plain, secrets := unmarkForProvider(n.planArgs.value())
		for _, s := range secrets {
			c.rb.red.Add(s)
		}
		act, err := safeNew(d.at, n.pinst.inst, plain)
		if err != nil {
			c.errf(d.block.DefRange(), "Invalid arguments for "+d.typ, c.rb.red.Redact(err.Error()))
			return
		}
		if act != nil {
			f := &actionFacts{}
			if ro, ok := act.(runbook.ReadOnly); ok {
				f.readOnly = ro.ReadOnly()
			}
			if nr, ok := act.(runbook.NaturalRollback); ok {
				if rb := safeNatural(nr); rb != nil {
					f.natural = true
					f.naturalDesc = runbook.Describe(rb)
				}
			}
			n.facts = f
		}
	}
	readOnly, natural := d.at.ReadOnly, d.at.NaturalRollback
	if n.facts != nil {
		readOnly, natural = n.facts.readOnly, n.facts.natural
	}
	if !readOnly && !natural && n.nRollbacks == 0 && !n.step.Irreversible {
		c.errf(d.block.DefRange(), "Step has no rollback", fmt.Sprintf("Step %q changes the world (%s has no natural rollback here) but has no rollback: add a rollback \"<action>\" { ... } block, or set irreversible = true.", n.name, d.typ))
	}
}

func safeNew(at provider.ActionType, inst provider.Instance, args cty.Value) (act runbook.Action, err error) {
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("the provider panicked while building the action: %v", x)
		}
	}()
	return at.New(inst, args)
}

func safeNatural(nr runbook.NaturalRollback) (rb runbook.Rollback) {
	defer func() {
		if recover() != nil {
			rb = nil
		}
	}()
	return nr.NaturalRollback()
}

// checkNode evaluates one node's bodies with typed unknowns.
func (c *compiler) checkNode(n *node) {
	defer func() {
		if x := recover(); x != nil {
			c.errf(n.d.block.DefRange(), "Cannot check node", "The node could not be checked because of an internal error.")
		}
	}()
	ctx := n.evalCtx(planVal, cty.NilVal, unknownRun)
	if n.step != nil && n.d.pv != nil {
		var d hhcl.Diagnostics
		n.planArgs, d = decodeArgs(n.d.args, n.d.spec, ctx, n.d.block.DefRange(), n.d.at.Args)
		c.diags = append(c.diags, d...)
		if n.when != nil {
			c.checkBool(n.when, ctx, "when")
		}
		for _, rd := range n.rollbacks {
			rctx := ctx
			if body := syntaxBody(rd.block); body == nil || refersToSelf(body) {
				rctx = ctx.NewChild()
				rctx.Variables = map[string]cty.Value{"self": selfVal(n.planArgs.value(), n.unknownVal())}
			}
			rd.planArgs, d = decodeArgs(rd.args, rd.spec, rctx, rd.block.DefRange(), rd.at.Args)
			c.diags = append(c.diags, d...)
		}
	}
	for _, cd := range n.checks {
		var d hhcl.Diagnostics
		cd.planArgs, d = decodeArgs(cd.args, cd.spec, ctx, cd.block.DefRange(), cd.at.Args)
		c.diags = append(c.diags, d...)
		sctx := ctx.NewChild()
		sctx.Variables = map[string]cty.Value{"self": probeSelf(cd.at)}
		for _, e := range []hhcl.Expression{cd.success, cd.failure} {
			if e != nil {
				c.checkBool(e, sctx, "condition")
			}
		}
	}
}

// refersToSelf reports whether a body may refer to self: an argument
// whose expression does, or any nested block (not looked into). A body
// that cannot is evaluated without self, with the same result.
func refersToSelf(body *hclsyntax.Body) bool {
	if len(body.Blocks) > 0 {
		return true
	}
	for _, a := range body.Attributes {
		for _, tr := range variables(a.Expr) {
			if tr.RootName() == "self" {
				return true
			}
		}
	}
	return false
}

// syntaxBody is the body of a syntax block, or nil.
func syntaxBody(b *hclsyntax.Block) *hclsyntax.Body {
	if b == nil {
		return nil
	}
	return b.Body
}

func (c *compiler) checkBool(e hhcl.Expression, ctx *hhcl.EvalContext, what string) {
	v, d := evalExpr(e, ctx)
	c.diags = append(c.diags, d...)
	if d.HasErrors() {
		return
	}
	v, _ = v.Unmark()
	if v.Type() == cty.DynamicPseudoType {
		return
	}
	if _, err := convertTo(v, cty.Bool); err != nil {
		c.errf(e.Range(), "Invalid "+what, fmt.Sprintf("The %s must be true or false, not a %s.", what, v.Type().FriendlyName()))
	}
}

// build turns the decoded nodes into a runbook.Plan with the Builder.
func (c *compiler) build() {
	rb := c.rb
	b := runbook.NewBuilder(rb.name).Describe(rb.description).Window(rb.window)
	for _, it := range c.top {
		switch x := it.(type) {
		case *phaseDecl:
			add := func(b *runbook.Builder, nodes []*node) {
				for _, n := range nodes {
					c.addToBuilder(b, n)
				}
			}
			if !x.forEach {
				var nodes []*node
				for _, d := range x.decls {
					nodes = append(nodes, d.nodes...)
				}
				if x.parallel {
					b.ParallelPhase(x.name, func(b *runbook.Builder) { add(b, nodes) })
				} else {
					b.Phase(x.name, func(b *runbook.Builder) { add(b, nodes) })
				}
				continue
			}
			b.Phase(x.name, func(b *runbook.Builder) {
				for _, k := range x.keys {
					var nodes []*node
					for _, d := range x.decls {
						for _, n := range d.nodes {
							if n.inst == k {
								nodes = append(nodes, n)
							}
						}
					}
					if x.parallel {
						b.Parallel(func(b *runbook.Builder) { add(b, nodes) })
					} else {
						add(b, nodes)
					}
				}
			})
		case *nodeDecl:
			for _, n := range x.nodes {
				c.addToBuilder(b, n)
			}
		}
	}
	p, err := b.Build()
	if err != nil {
		c.planErrors(err)
		return
	}
	rb.plan = p
}

func (c *compiler) addToBuilder(b *runbook.Builder, n *node) {
	rb := c.rb
	if n.step != nil {
		s := *n.step
		s.Action = &lazyAction{rb: rb, n: n}
		for _, rd := range n.rollbacks {
			s.Rollbacks = append(s.Rollbacks, &lazyRollback{rb: rb, n: n, rd: rd})
		}
		if n.when != nil {
			when := n.when
			s.When = func(ctx context.Context, env *runbook.Env) (bool, error) {
				return n.evalCond(env, when, cty.NilVal, "when")
			}
		}
		b.Step(s)
		return
	}
	g := *n.gate
	g.Checks = append([]runbook.Check(nil), n.gate.Checks...)
	for i, cd := range n.checks {
		g.Checks[i].Probe = &lazyProbe{rb: rb, n: n, cd: cd}
		if cd.success != nil {
			g.Checks[i].Success = &lazyCondition{rb: rb, n: n, expr: cd.success}
		}
		if cd.failure != nil {
			g.Checks[i].Failure = &lazyCondition{rb: rb, n: n, expr: cd.failure}
		}
	}
	b.Gate(g)
}

// planErrors converts the Builder's validation errors to diagnostics.
func (c *compiler) planErrors(err error) {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var pe *runbook.PlanError
		rng := hhcl.Range{Filename: c.rb.path, Start: hhcl.InitialPos, End: hhcl.InitialPos}
		if errors.As(e, &pe) {
			if n, ok := c.rb.byName[pe.Node]; ok {
				rng = n.d.block.DefRange()
			}
		}
		c.errf(rng, "Invalid plan", e.Error())
	}
}

// args decodes node n's arguments at run time.
func (n *node) runArgs(env *runbook.Env, body hhcl.Body, spec decoder, schema provider.Schema, rng hhcl.Range, self cty.Value) (cty.Value, error) {
	var errs []error
	ctx := n.evalCtx(runtimeVals(env, &errs), self, runVal(env.Run()))
	v, diags := decodeBody(body, spec, ctx, rng)
	if len(errs) > 0 {
		return cty.NilVal, runbook.Permanent(hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Invalid output of an earlier node",
			Detail: errs[0].Error(), Subject: rng.Ptr()}})
	}
	if diags.HasErrors() {
		return cty.NilVal, runbook.Permanent(sanitize(env, diags))
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, runbook.Permanent(hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Arguments not known",
			Detail: fmt.Sprintf("Some arguments of %s depend on nodes that did not run (skipped by when?).", n.name), Subject: rng.Ptr()}})
	}
	return markSchema(v, schema), nil
}

// forProvider unmarks args at the provider boundary, registering every
// sensitive string with the run's redactor.
func forProvider(env *runbook.Env, v cty.Value) cty.Value {
	plain, secrets := unmarkForProvider(v)
	for _, s := range secrets {
		env.AddSecret(s)
	}
	return plain
}

func (n *node) evalCond(env *runbook.Env, expr hhcl.Expression, self cty.Value, what string) (bool, error) {
	var errs []error
	ctx := n.evalCtx(runtimeVals(env, &errs), self, runVal(env.Run()))
	v, diags := evalExpr(expr, ctx)
	if len(errs) > 0 {
		return false, hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Invalid output of an earlier node", Detail: errs[0].Error(), Subject: expr.Range().Ptr()}}
	}
	if diags.HasErrors() {
		return false, sanitize(env, diags)
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return false, hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Invalid " + what, Detail: fmt.Sprintf("The %s of %s has no known value.", what, n.name), Subject: expr.Range().Ptr()}}
	}
	b, err := convertTo(v, cty.Bool)
	if err != nil {
		return false, hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Invalid " + what, Detail: fmt.Sprintf("The %s of %s must be true or false, not a %s.", what, n.name, v.Type().FriendlyName()), Subject: expr.Range().Ptr()}}
	}
	return b.True(), nil
}

// sanitize prepares run-time diagnostics for events and logs: values met
// at run time may be secrets the front end never saw marked (registered by
// a provider), so the evaluation context is dropped (no "with x as ..."
// lines) and texts are redacted.
func sanitize(env *runbook.Env, diags hhcl.Diagnostics) hhcl.Diagnostics {
	out := make(hhcl.Diagnostics, len(diags))
	for i, d := range diags {
		c := *d
		c.Expression, c.EvalContext = nil, nil
		c.Summary, c.Detail = env.Redact(c.Summary), env.Redact(c.Detail)
		out[i] = &c
	}
	return out
}

// newError reports that a provider refused the arguments of an action as
// diagnostics (arguments do not get better by retrying).
func newError(env *runbook.Env, rng hhcl.Range, action string, err error) error {
	return runbook.Permanent(hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Invalid arguments for " + action,
		Detail: env.Redact(err.Error()), Subject: rng.Ptr()}})
}

// lazyAction evaluates a step's arguments and builds the provider's action
// when the executor runs the step.
type lazyAction struct {
	rb *Runbook
	n  *node
}

func (a *lazyAction) build(env *runbook.Env) (runbook.Action, error) {
	n := a.n
	args, err := n.runArgs(env, n.d.args.remain(), n.d.spec, n.d.at.Args, n.d.block.DefRange(), cty.NilVal)
	if err != nil {
		return nil, err
	}
	act, err := n.d.at.New(n.pinst.inst, forProvider(env, args))
	if err != nil {
		return nil, newError(env, n.d.block.DefRange(), n.d.typ, err)
	}
	if act == nil {
		return nil, runbook.Permanent(fmt.Errorf("%s: %s built no action", n.name, n.d.typ))
	}
	return act, nil
}

// Do evaluates the arguments and runs the action.
func (a *lazyAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	act, err := a.build(env)
	if err != nil {
		return nil, err
	}
	return act.Do(ctx, env)
}

// Describe names the provider instance and action.
func (a *lazyAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.n.pinst.inst.Name(), Action: a.n.d.typ}
}

// ReadOnly reports what the action said at load time, or the action
// type's flag when its arguments were not known then.
func (a *lazyAction) ReadOnly() bool {
	if a.n.facts != nil {
		return a.n.facts.readOnly
	}
	return a.n.d.at.ReadOnly
}

// NaturalRollback returns the lazy natural rollback when the action has
// one and no explicit rollback is given.
func (a *lazyAction) NaturalRollback() runbook.Rollback {
	if len(a.n.rollbacks) > 0 {
		return nil
	}
	if f := a.n.facts; f != nil {
		if !f.natural {
			return nil
		}
	} else if !a.n.d.at.NaturalRollback || (a.n.step != nil && a.n.step.Irreversible) {
		// Arguments unknown at plan time: assume the action type's natural
		// rollback, unless the author said the step is irreversible.
		return nil
	}
	return &lazyNatural{a: a}
}

// lazyNatural rebuilds the action from its arguments at rollback time and
// runs its natural rollback.
type lazyNatural struct{ a *lazyAction }

// Compensate rebuilds the action and runs its natural rollback.
func (r *lazyNatural) Compensate(ctx context.Context, env *runbook.Env) error {
	act, err := r.a.build(env)
	if err != nil {
		return err
	}
	nr, ok := act.(runbook.NaturalRollback)
	if !ok {
		return nil
	}
	rb := nr.NaturalRollback()
	if rb == nil {
		return nil
	}
	return rb.Compensate(ctx, env)
}

// Describe is what the provider's natural rollback says, learnt at load time.
func (r *lazyNatural) Describe() runbook.Description {
	if f := r.a.n.facts; f != nil && f.naturalDesc != (runbook.Description{}) {
		return f.naturalDesc
	}
	return r.a.Describe()
}

// lazyRollback is an explicit rollback block, evaluated at rollback time
// with self = the step's arguments and outputs.
type lazyRollback struct {
	rb *Runbook
	n  *node
	rd *rollbackDecl
}

// Compensate evaluates the rollback block with self and runs its action.
func (r *lazyRollback) Compensate(ctx context.Context, env *runbook.Env) error {
	n := r.n
	outs, err := n.outputVal(env.Self())
	if err != nil {
		return runbook.Permanent(err)
	}
	args, aerr := n.runArgs(env, n.d.args.remain(), n.d.spec, n.d.at.Args, n.d.block.DefRange(), cty.NilVal)
	if aerr != nil {
		args = cty.NilVal
	}
	rargs, err := n.runArgs(env, r.rd.args.remain(), r.rd.spec, r.rd.at.Args, r.rd.block.DefRange(), selfVal(args, outs))
	if err != nil {
		return err
	}
	act, err := r.rd.at.New(r.rd.pinst.inst, forProvider(env, rargs))
	if err != nil {
		return newError(env, r.rd.block.DefRange(), r.rd.action, err)
	}
	if act == nil {
		return runbook.Permanent(fmt.Errorf("%s: rollback %s built no action", n.name, r.rd.action))
	}
	_, err = act.Do(ctx, env)
	return err
}

// Describe names the rollback's provider instance and action.
func (r *lazyRollback) Describe() runbook.Description {
	return runbook.Description{Provider: r.rd.pinst.inst.Name(), Action: r.rd.action}
}

// lazyProbe builds the provider's probe when sampled.
type lazyProbe struct {
	rb *Runbook
	n  *node
	cd *checkDecl
}

// Sample evaluates the probe's arguments, builds the probe and samples it.
func (p *lazyProbe) Sample(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
	cd := p.cd
	args, err := p.n.runArgs(env, cd.args.remain(), cd.spec, cd.at.Args, cd.block.DefRange(), cty.NilVal)
	if err != nil {
		return runbook.Sample{}, err
	}
	pr, err := cd.at.NewProbe(cd.pinst.inst, forProvider(env, args))
	if err != nil {
		return runbook.Sample{}, newError(env, cd.block.DefRange(), cd.probe, err)
	}
	if pr == nil {
		return runbook.Sample{}, fmt.Errorf("%s: check %s: %s built no probe", p.n.name, cd.name, cd.probe)
	}
	return pr.Sample(ctx, env)
}

// Describe names the probe's provider instance and action.
func (p *lazyProbe) Describe() runbook.Description {
	return runbook.Description{Provider: p.cd.pinst.inst.Name(), Action: p.cd.probe}
}

// lazyCondition evaluates a check's condition for one sample, with self
// = the sample (self.value and the probe's other outputs).
type lazyCondition struct {
	rb   *Runbook
	n    *node
	expr hhcl.Expression
}

// Holds evaluates the condition with self = the sample.
func (c *lazyCondition) Holds(env *runbook.Env, value any) (bool, error) {
	self := map[string]any{}
	for k, v := range env.Self() {
		self[k] = v
	}
	self["value"] = value
	sv, err := goToCty(self)
	if err != nil {
		return false, err
	}
	return c.n.evalCond(env, c.expr, sv, "condition")
}
