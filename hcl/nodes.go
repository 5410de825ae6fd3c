package hcl

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
)

type phaseDecl struct {
	name     string
	block    *hclsyntax.Block
	parallel bool
	forEach  bool
	keys     []*instKey
	decls    []*nodeDecl
}

// instKey is one instance of a phase with for_each.
type instKey struct {
	key   string
	keyV  cty.Value
	value cty.Value
}

type nodeDecl struct {
	name  string
	kind  string // "step" or "gate"
	typ   string // action name, or gate kind
	block *hclsyntax.Block
	phase *phaseDecl
	nodes []*node

	// steps
	at      provider.ActionType
	pv      provider.Provider
	spec    decoder
	content *hhcl.BodyContent // the meta-arguments, until every instance is decoded
	args    argBody
	shared  []string // meta-arguments also passed to the action
}

// argBody is where an action's arguments are written: a block's body and
// the schema of its meta-arguments. The body of the arguments alone (what
// PartialContent(meta) leaves) is built when it is needed (a run, the
// general decode) instead of being kept for every block: it is two maps
// and a body, a fifth of a large runbook's compiled size.
type argBody struct {
	body hhcl.Body // *hclsyntax.Body for every block parsed from source
	meta *hhcl.BodySchema
}

// syntax returns the block's syntax body, or nil.
func (a argBody) syntax() *hclsyntax.Body {
	sb, _ := a.body.(*hclsyntax.Body)
	return sb
}

// remain returns the body of the arguments, the meta-arguments hidden;
// nil when no block was decoded.
func (a argBody) remain() hhcl.Body {
	if a.body == nil {
		return nil
	}
	_, remain, _ := a.body.PartialContent(a.meta)
	return remain
}

type node struct {
	d     *nodeDecl
	name  string
	index int
	inst  *instKey
	ctx   *hhcl.EvalContext // base + each

	// steps
	pinst     *providerDecl
	step      *runbook.Step
	rollbacks []*rollbackDecl
	when      hhcl.Expression
	// gates
	gate   *runbook.Gate
	checks []*checkDecl

	// references, by declared name
	refs map[string]map[string]*refTarget // root ("step"/"gate") -> decl name -> target
	uses []string
	deps []string

	nRollbacks int

	// plan-time results
	facts    *actionFacts
	unknown  cty.Value
	planArgs planArgs
}

// refTarget is what step.<name> (or gate.<name>) means inside a node: one
// node, or the instances of a for_each phase keyed by instance key.
type refTarget struct {
	one  *node
	many map[string]*node
}

type rollbackDecl struct {
	action   string
	block    *hclsyntax.Block
	at       provider.ActionType
	pinst    *providerDecl
	spec     decoder
	args     argBody
	planArgs planArgs
}

type checkDecl struct {
	name     string
	block    *hclsyntax.Block
	probe    string
	at       provider.ActionType
	pinst    *providerDecl
	spec     decoder
	args     argBody
	success  hhcl.Expression
	failure  hhcl.Expression
	planArgs planArgs
}

var phaseSchema = &hhcl.BodySchema{
	Attributes: []hhcl.AttributeSchema{{Name: "parallel"}, {Name: "for_each"}, {Name: "description"}},
	Blocks:     []hhcl.BlockHeaderSchema{{Type: "step", LabelNames: []string{"action", "name"}}, {Type: "gate", LabelNames: []string{"kind", "name"}}},
}

var stepMetaSchema = &hhcl.BodySchema{
	Attributes: []hhcl.AttributeSchema{{Name: "depends_on"}, {Name: "timeout"}, {Name: "budget"}, {Name: "when"},
		{Name: "idempotent"}, {Name: "irreversible"}, {Name: "point_of_no_return"}, {Name: "rollback_on_failure"},
		{Name: "provider"}, {Name: "on_fail"}, {Name: "description"}, {Name: "rollback_timeout"}, {Name: "rollback_idempotent"}, {Name: "lasting"}},
	Blocks: []hhcl.BlockHeaderSchema{{Type: "retry"}, {Type: "rollback", LabelNames: []string{"action"}}},
}

var retrySchema = &hhcl.BodySchema{
	Attributes: []hhcl.AttributeSchema{{Name: "attempts"}, {Name: "delay"}, {Name: "backoff"}, {Name: "max_delay"}, {Name: "jitter"}},
}

var rollbackMetaSchema = &hhcl.BodySchema{Attributes: []hhcl.AttributeSchema{{Name: "provider"}}}

var checkMetaSchema = &hhcl.BodySchema{
	Attributes: []hhcl.AttributeSchema{{Name: "probe"}, {Name: "provider"}, {Name: "condition"}, {Name: "success"}, {Name: "failure"},
		{Name: "error_message"}, {Name: "threshold"}, {Name: "every"}, {Name: "initial_delay"}, {Name: "count"},
		{Name: "failure_limit"}, {Name: "tolerate"}, {Name: "inconclusive_limit"}, {Name: "error_limit"}, {Name: "no_data"}, {Name: "dry_run"}},
}

func gateSchema(kind string) *hhcl.BodySchema {
	attrs := []string{"on_fail", "description"}
	switch kind {
	case "check":
		attrs = append(attrs, "every", "initial_delay", "timeout", "on_inconclusive", "budget", "depends_on")
	case "soak":
		attrs = append(attrs, "every", "initial_delay", "duration", "count", "timeout", "tolerate", "on_inconclusive", "budget", "depends_on")
	case "guard":
		attrs = append(attrs, "every", "initial_delay", "from", "until", "tolerate", "on_inconclusive")
	case "approval":
		attrs = append(attrs, "message", "approvers", "quorum", "separate_from", "timeout", "on_timeout", "budget", "depends_on")
	}
	s := &hhcl.BodySchema{}
	for _, a := range attrs {
		s.Attributes = append(s.Attributes, hhcl.AttributeSchema{Name: a})
	}
	if kind != "approval" {
		s.Blocks = []hhcl.BlockHeaderSchema{{Type: "check", LabelNames: []string{"name"}}}
	}
	return s
}

// declareNodes walks phases and nodes in source order, expands for_each
// and names every node.
func (c *compiler) declareNodes(body *hclsyntax.Body) {
	rb := c.rb
	phaseNames := map[string]*phaseDecl{}
	for _, b := range body.Blocks {
		if !validLabels(b) {
			continue
		}
		switch b.Type {
		case "phase":
			name := b.Labels[0]
			if prev, dup := phaseNames[name]; dup {
				c.errf(b.LabelRanges[0], "Duplicate phase", fmt.Sprintf("A phase named %q was already declared at %s.", name, prev.block.DefRange()))
				continue
			}
			p := &phaseDecl{name: name, block: b}
			phaseNames[name] = p
			content, d := b.Body.Content(phaseSchema)
			c.diags = append(c.diags, d...)
			if a, ok := content.Attributes["parallel"]; ok {
				p.parallel, _ = c.staticBool(a, rb.base)
			}
			if a, ok := content.Attributes["for_each"]; ok {
				p.forEach = true
				p.keys = c.forEachKeys(a)
			}
			// content.Blocks are the phase's syntax blocks that Content
			// kept, in the same order: walk both together.
			j := 0
			for _, nb := range content.Blocks {
				for j < len(b.Body.Blocks) && b.Body.Blocks[j].TypeRange != nb.TypeRange {
					j++
				}
				if j == len(b.Body.Blocks) {
					break
				}
				if d := c.declareNode(b.Body.Blocks[j], p); d != nil {
					p.decls = append(p.decls, d)
				}
			}
			rb.phases = append(rb.phases, p)
			c.top = append(c.top, p)
		case "step", "gate":
			if d := c.declareNode(b, nil); d != nil {
				c.top = append(c.top, d)
			}
		}
	}
	// Expand into nodes, in order.
	for _, it := range c.top {
		switch x := it.(type) {
		case *phaseDecl:
			if !x.forEach {
				for _, d := range x.decls {
					c.addNode(d, nil)
				}
				continue
			}
			for _, k := range x.keys {
				for _, d := range x.decls {
					c.addNode(d, k)
				}
			}
		case *nodeDecl:
			c.addNode(x, nil)
		}
	}
}

// Limits that keep a runbook's plan within reason.
const (
	maxInstances = 10000
	maxNodes     = 200000
)

func (c *compiler) addNode(d *nodeDecl, k *instKey) {
	rb := c.rb
	if len(rb.nodes) >= maxNodes {
		if !c.tooMany {
			c.tooMany = true
			c.errf(d.block.DefRange(), "Too many nodes", fmt.Sprintf("A runbook may have at most %d steps and gates, for_each instances included.", maxNodes))
		}
		return
	}
	n := &node{d: d, name: d.name, index: len(rb.nodes), inst: k, refs: map[string]map[string]*refTarget{}}
	n.ctx = rb.base
	if k != nil {
		n.name = fmt.Sprintf("%s[%s]", d.name, k.key)
		n.ctx = rb.base.NewChild()
		n.ctx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k.keyV, "value": k.value})}
	}
	d.nodes = append(d.nodes, n)
	rb.nodes = append(rb.nodes, n)
	rb.byName[n.name] = n
}

// declareNode registers a step or gate block, top-level (p is nil) or in
// phase p.
func (c *compiler) declareNode(blk *hclsyntax.Block, p *phaseDecl) *nodeDecl {
	kind, typ, name := blk.Type, blk.Labels[0], blk.Labels[1]
	if !hclsyntax.ValidIdentifier(name) {
		c.errf(blk.LabelRanges[1], "Invalid "+kind+" name", fmt.Sprintf("A %s name must start with a letter or underscore and contain only letters, digits, underscores and dashes, so that %s.<name> can refer to it.", kind, kind))
		return nil
	}
	if prev, dup := c.rb.decls[name]; dup {
		c.errf(blk.LabelRanges[1], "Duplicate node name", fmt.Sprintf("A %s named %q was already declared at %s; step and gate names must be unique.", prev.kind, name, prev.block.DefRange()))
		return nil
	}
	d := &nodeDecl{name: name, kind: kind, typ: typ, block: blk, phase: p}
	c.rb.decls[name] = d
	return d
}

func findSyntaxBlock(body *hclsyntax.Body, b *hhcl.Block) *hclsyntax.Block {
	for _, sb := range body.Blocks {
		if sb.TypeRange == b.TypeRange {
			return sb
		}
	}
	return nil
}

func (c *compiler) forEachKeys(a *hhcl.Attribute) []*instKey {
	v, ok := c.staticValue(a, c.rb.base, cty.DynamicPseudoType, "for_each")
	if !ok {
		return nil
	}
	ty := v.Type()
	var out []*instKey
	seen := map[string]bool{}
	switch {
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, e := it.Element()
			key := fmt.Sprint(i)
			if e.IsKnown() && !e.IsNull() && e.Type().IsPrimitiveType() {
				key = primitiveString(e)
			}
			if seen[key] {
				c.errf(a.Expr.Range(), "Duplicate for_each value", fmt.Sprintf("The for_each list holds %q twice; each instance needs a distinct key.", key))
				return nil
			}
			seen[key] = true
			out = append(out, &instKey{key: key, keyV: cty.StringVal(key), value: e})
		}
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out = append(out, &instKey{key: k.AsString(), keyV: k, value: e})
		}
	default:
		c.errf(a.Expr.Range(), "Invalid for_each", fmt.Sprintf("for_each must be a list (instances run in order) or a map, not a %s.", ty.FriendlyName()))
	}
	if len(out) > maxInstances {
		c.errf(a.Expr.Range(), "Too many instances", fmt.Sprintf("for_each makes %d instances; a phase may have at most %d.", len(out), maxInstances))
		return nil
	}
	for _, k := range out {
		if strings.ContainsAny(k.key, "[]\"\n") || k.key == "" {
			c.errf(a.Expr.Range(), "Invalid for_each key", fmt.Sprintf("The for_each key %q cannot name an instance: use keys without brackets, quotes or newlines.", k.key))
			return nil
		}
	}
	return out
}

// decodeNodes decodes every node's static parts: action, provider, meta
// arguments, rollbacks, checks.
func (c *compiler) decodeNodes() {
	for _, n := range c.rb.nodes {
		if n.d.kind == "step" {
			c.decodeStep(n)
		} else {
			c.decodeGate(n)
		}
		if n == n.d.nodes[len(n.d.nodes)-1] {
			// Every instance has its meta-arguments: the copies
			// PartialContent made of them are not needed any more.
			n.d.content = nil
		}
	}
}

type actionEntry struct {
	at provider.ActionType
	pv provider.Provider
	ok bool
	// derived once per action
	spec       decoder
	stepMeta   *hhcl.BodySchema
	stepShared []string
	checkMeta  *hhcl.BodySchema
}

// entry returns the cached look-up of an action (after c.action).
func (c *compiler) entry(name string) *actionEntry {
	e := c.lookup(name)
	if !e.ok {
		return &actionEntry{spec: newArgDecoder(nil)}
	}
	if e.spec == nil {
		e.spec = newArgDecoder(e.at.Args)
		e.stepMeta, e.stepShared = metaFor(stepMetaSchema, e.at.Args)
		e.checkMeta, _ = metaFor(checkMetaSchema, e.at.Args)
	}
	return e
}

// lookup returns the cached registry look-up of an action.
func (c *compiler) lookup(name string) *actionEntry {
	if c.actions == nil {
		c.actions = map[string]*actionEntry{}
	}
	e, ok := c.actions[name]
	if !ok {
		e = &actionEntry{}
		e.at, e.pv, e.ok = c.rb.reg.Action(name)
		c.actions[name] = e
	}
	return e
}

func (c *compiler) action(name string, rng hhcl.Range, probe bool) (provider.ActionType, provider.Provider, bool) {
	e := c.lookup(name)
	at, pv, ok := e.at, e.pv, e.ok
	if !ok {
		c.errf(rng, "Unknown action", fmt.Sprintf("No provider offers an action named %q.%s", name, suggestAction(name, c.rb.reg)))
		return at, nil, false
	}
	if probe && at.NewProbe == nil {
		c.errf(rng, "Not a probe", fmt.Sprintf("%q cannot be sampled by a check; use it as a step.", name))
		return at, nil, false
	}
	if !probe && at.New == nil {
		c.errf(rng, "Not a step action", fmt.Sprintf("%q is a probe: use it inside a gate's check block.", name))
		return at, nil, false
	}
	return at, pv, true
}

func (c *compiler) decodeStep(n *node) {
	d := n.d
	blk := d.block
	if d.content == nil {
		if !c.entry(d.typ).ok {
			if c.entry(d.name).ok {
				c.errf(blk.LabelRanges[0], "Labels in the wrong order", fmt.Sprintf("A step is step \"<action>\" \"<name>\": write step %q %q.", d.name, d.typ))
				d.content = &hhcl.BodyContent{}
				return
			}
		}
		at, pv, ok := c.action(d.typ, blk.LabelRanges[0], false)
		if !ok {
			d.content = &hhcl.BodyContent{}
			d.pv = nil
			return
		}
		d.at, d.pv = at, pv
		ent := c.entry(d.typ)
		schema, shared := ent.stepMeta, ent.stepShared
		content, _, diags := blk.Body.PartialContent(schema)
		c.diags = append(c.diags, diags...)
		// A meta-argument the action also declares (exec's timeout) goes to
		// the action, and to the step too when it is known at load time.
		for _, name := range shared {
			if a, ok := blk.Body.Attributes[name]; ok {
				if content.Attributes == nil {
					content.Attributes = hhcl.Attributes{}
				}
				content.Attributes[name] = a.AsHCLAttribute()
				d.shared = append(d.shared, name)
			}
		}
		d.content, d.args = content, argBody{body: blk.Body, meta: schema}
		d.spec = ent.spec
	}
	if d.pv == nil {
		return
	}
	content := d.content
	if len(d.shared) > 0 {
		content = c.quietShared(content, d.shared, n.ctx)
	}
	s := &runbook.Step{Name: n.name, OnFail: c.rb.onFailure}
	n.step = s
	var provExpr hhcl.Expression
	if a, ok := content.Attributes["provider"]; ok {
		provExpr = a.Expr
	}
	n.pinst = c.instanceFor(d.pv.Type(), provExpr, n.ctx, blk.DefRange(), d.typ)
	if a, ok := content.Attributes["timeout"]; ok {
		s.Timeout, _ = c.staticDuration(a, n.ctx)
	}
	if a, ok := content.Attributes["budget"]; ok {
		s.Budget, _ = c.staticDuration(a, n.ctx)
	}
	if a, ok := content.Attributes["rollback_timeout"]; ok {
		s.RollbackTimeout, _ = c.staticDuration(a, n.ctx)
	}
	for _, f := range [...]struct {
		name string
		ptr  *bool
	}{{"idempotent", &s.Idempotent}, {"irreversible", &s.Irreversible},
		{"point_of_no_return", &s.PointOfNoReturn}, {"rollback_on_failure", &s.RollbackOnFailure},
		{"rollback_idempotent", &s.RollbackIdempotent}} {
		if a, ok := content.Attributes[f.name]; ok {
			*f.ptr, _ = c.staticBool(a, n.ctx)
		}
	}
	if a, ok := content.Attributes["on_fail"]; ok {
		s.OnFail, _ = c.staticPolicy(a, n.ctx)
	}
	if a, ok := content.Attributes["lasting"]; ok {
		s.Lasting, _ = c.staticStringList(a, n.ctx)
	}
	if a, ok := content.Attributes["description"]; ok {
		s.Description, _ = c.staticString(a, n.ctx)
	}
	if a, ok := content.Attributes["when"]; ok {
		n.when = a.Expr
	}
	seenRetry := false
	nRollbacks := 0
	for _, b := range content.Blocks {
		switch b.Type {
		case "retry":
			if seenRetry {
				c.errf(b.DefRange, "Duplicate retry block", "A step takes at most one retry block.")
				continue
			}
			seenRetry = true
			s.Retry = c.decodeRetry(b, n.ctx)
		case "rollback":
			nRollbacks++
			if rd := c.decodeRollback(n, b); rd != nil {
				n.rollbacks = append(n.rollbacks, rd)
			}
		}
	}
	n.nRollbacks = nRollbacks
	if s.RollbackOnFailure && len(n.rollbacks) == 0 && !d.at.NaturalRollback {
		if a, ok := content.Attributes["rollback_on_failure"]; ok && s.Irreversible {
			c.errf(a.Expr.Range(), "Nothing to roll back", "rollback_on_failure needs a rollback, but the step is irreversible and has none.")
		}
	}
}

func (c *compiler) decodeRetry(b *hhcl.Block, ctx *hhcl.EvalContext) runbook.Retry {
	var r runbook.Retry
	content, d := b.Body.Content(retrySchema)
	c.diags = append(c.diags, d...)
	if a, ok := content.Attributes["attempts"]; ok {
		r.Attempts, _ = c.staticInt(a, ctx)
	}
	if a, ok := content.Attributes["delay"]; ok {
		r.Delay, _ = c.staticDuration(a, ctx)
	}
	if a, ok := content.Attributes["max_delay"]; ok {
		r.MaxDelay, _ = c.staticDuration(a, ctx)
	}
	if a, ok := content.Attributes["backoff"]; ok {
		r.Backoff, _ = c.staticFloat(a, ctx)
		if r.Backoff < 1 && r.Backoff != 0 {
			c.errf(a.Expr.Range(), "Invalid backoff", "backoff multiplies the delay after each attempt: it must be 1 or more.")
		}
	}
	if a, ok := content.Attributes["jitter"]; ok {
		r.Jitter, _ = c.staticFloat(a, ctx)
		if r.Jitter < 0 || r.Jitter > 1 {
			c.errf(a.Expr.Range(), "Invalid jitter", "jitter is a fraction of the delay from 0 to 1.")
		}
	}
	return r
}

func (c *compiler) decodeRollback(n *node, b *hhcl.Block) *rollbackDecl {
	name := b.Labels[0]
	at, pv, ok := c.action(name, b.LabelRanges[0], false)
	if !ok {
		return nil
	}
	rd := &rollbackDecl{action: name, at: at, spec: c.entry(name).spec}
	rd.block = findSyntaxBlock(n.d.block.Body, b)
	content, _, d := b.Body.PartialContent(rollbackMetaSchema)
	c.diags = append(c.diags, d...)
	rd.args = argBody{body: b.Body, meta: rollbackMetaSchema}
	if a, ok := content.Attributes["provider"]; ok {
		rd.pinst = c.instanceFor(pv.Type(), a.Expr, n.ctx, b.DefRange, name)
	} else if n.pinst != nil && n.pinst.typ == pv.Type() {
		rd.pinst = n.pinst
	} else {
		rd.pinst = c.instanceFor(pv.Type(), nil, n.ctx, b.DefRange, name)
	}
	if rd.pinst == nil {
		return nil
	}
	return rd
}

func (c *compiler) decodeGate(n *node) {
	d := n.d
	blk := d.block
	kind := runbook.GateKind(d.typ)
	switch kind {
	case runbook.GateCheck, runbook.GateSoak, runbook.GateApproval, runbook.GateGuard:
	default:
		switch runbook.GateKind(d.name) {
		case runbook.GateCheck, runbook.GateSoak, runbook.GateApproval, runbook.GateGuard:
			c.errf(blk.LabelRanges[0], "Labels in the wrong order", fmt.Sprintf("A gate is gate \"<kind>\" \"<name>\": write gate %q %q.", d.name, d.typ))
			return
		}
		c.errf(blk.LabelRanges[0], "Unknown gate kind", fmt.Sprintf("A gate is \"check\", \"soak\", \"approval\" or \"guard\", not %q.%s", d.typ, suggestName(d.typ, []string{"check", "soak", "approval", "guard"})))
		return
	}
	if d.content == nil {
		content, diags := blk.Body.Content(gateSchema(d.typ))
		c.diags = append(c.diags, diags...)
		d.content = content
	}
	content := d.content
	g := &runbook.Gate{Name: n.name, Kind: kind, OnFail: c.rb.onFailure}
	n.gate = g
	durs := map[string]*time.Duration{"every": &g.Every, "initial_delay": &g.InitialDelay, "duration": &g.Duration, "timeout": &g.Timeout, "budget": &g.Budget}
	for name, ptr := range durs {
		if a, ok := content.Attributes[name]; ok {
			*ptr, _ = c.staticDuration(a, n.ctx)
		}
	}
	if a, ok := content.Attributes["count"]; ok {
		g.Count, _ = c.staticInt(a, n.ctx)
	}
	if a, ok := content.Attributes["on_fail"]; ok {
		g.OnFail, _ = c.staticPolicy(a, n.ctx)
	}
	if a, ok := content.Attributes["on_inconclusive"]; ok {
		g.OnInconclusive, _ = c.staticPolicy(a, n.ctx)
	}
	if a, ok := content.Attributes["description"]; ok {
		g.Description, _ = c.staticString(a, n.ctx)
	}
	tolerate := -1
	if a, ok := content.Attributes["tolerate"]; ok {
		tolerate, _ = c.staticInt(a, n.ctx)
	}
	if kind == runbook.GateApproval {
		ap := &runbook.Approval{}
		g.Approval = ap
		if a, ok := content.Attributes["message"]; ok {
			ap.Message, _ = c.staticString(a, n.ctx)
		} else {
			c.errf(blk.DefRange(), "Missing approval message", "An approval gate needs a message telling the approver what to decide.")
		}
		if a, ok := content.Attributes["approvers"]; ok {
			if v, ok := c.staticValue(a, n.ctx, cty.List(cty.String), "list of approvers"); ok {
				for it := v.ElementIterator(); it.Next(); {
					_, e := it.Element()
					if e.IsNull() {
						c.errf(a.Expr.Range(), "Invalid approvers", "approvers must not contain null.")
						continue
					}
					ap.Approvers = append(ap.Approvers, e.AsString())
				}
			}
		}
		if a, ok := content.Attributes["quorum"]; ok {
			if q, ok := c.staticInt(a, n.ctx); ok {
				people, groups := 0, false
				for _, ap := range ap.Approvers {
					if strings.HasPrefix(ap, "group:") {
						groups = true
					}
					people++
				}
				switch {
				case q < 1:
					c.errf(a.Expr.Range(), "Invalid quorum", fmt.Sprintf("quorum is how many different approvers must approve: at least 1, not %d.", q))
				case len(ap.Approvers) > 0 && !groups && q > people:
					c.errf(a.Expr.Range(), "Quorum cannot be reached", fmt.Sprintf("quorum = %d needs %d different approvers, but approvers lists only %d. Add approvers (or a \"group:NAME\") or lower the quorum.", q, q, people))
				default:
					ap.Quorum = q
				}
			}
		}
		if a, ok := content.Attributes["separate_from"]; ok {
			if s, ok := c.staticString(a, n.ctx); ok {
				if s != runbook.SeparateFromStarter {
					c.errf(a.Expr.Range(), "Invalid separate_from", fmt.Sprintf("separate_from is \"starter\" (the person who started the run may not approve it), not %q.", s))
				} else {
					ap.SeparateFrom = s
				}
			}
		}
		ap.Timeout = g.Timeout
		g.Timeout = 0
		if a, ok := content.Attributes["on_timeout"]; ok {
			if s, ok := c.staticString(a, n.ctx); ok {
				switch s {
				case "approve":
					ap.OnTimeout = true
				case "deny":
				default:
					c.errf(a.Expr.Range(), "Invalid on_timeout", fmt.Sprintf("on_timeout is \"approve\" or \"deny\", not %q.", s))
				}
			}
		}
		return
	}
	seen := map[string]bool{}
	for _, b := range content.Blocks {
		if seen[b.Labels[0]] {
			c.errf(b.LabelRanges[0], "Duplicate check", fmt.Sprintf("Gate %q already has a check named %q.", n.name, b.Labels[0]))
			continue
		}
		seen[b.Labels[0]] = true
		if cd, chk := c.decodeCheck(n, b, tolerate); cd != nil {
			n.checks = append(n.checks, cd)
			g.Checks = append(g.Checks, chk)
		}
	}
	if len(content.Blocks) == 0 {
		c.errf(blk.DefRange(), "Gate has no checks", fmt.Sprintf("A %s gate needs at least one check \"<name>\" { ... } block.", d.typ))
	}
	if kind == runbook.GateSoak && g.Duration <= 0 && g.Count <= 0 {
		all := len(g.Checks) > 0
		for _, ch := range g.Checks {
			if ch.Count <= 0 {
				all = false
			}
		}
		if !all {
			c.errf(blk.DefRange(), "Soak gate needs a duration", `A soak gate samples for a duration ("15m") or a count of samples: set duration or count.`)
		}
	}
}

// metaFor returns the meta-argument schema without the names the action
// declares as arguments, and those shared names.
func metaFor(base *hhcl.BodySchema, args provider.Schema) (*hhcl.BodySchema, []string) {
	out := &hhcl.BodySchema{Blocks: base.Blocks}
	var shared []string
	for _, a := range base.Attributes {
		if _, ok := args[a.Name]; ok && a.Name != "provider" && a.Name != "probe" {
			shared = append(shared, a.Name)
			continue
		}
		out.Attributes = append(out.Attributes, a)
	}
	return out, shared
}

// quietShared keeps only the shared meta-arguments that are known at load
// time; the others are for the action alone.
func (c *compiler) quietShared(content *hhcl.BodyContent, shared []string, ctx *hhcl.EvalContext) *hhcl.BodyContent {
	out := &hhcl.BodyContent{Attributes: make(hhcl.Attributes, len(content.Attributes)), Blocks: content.Blocks, MissingItemRange: content.MissingItemRange}
	for name, a := range content.Attributes {
		if !slices.Contains(shared, name) {
			out.Attributes[name] = a
			continue
		}
		v, d := evalExpr(a.Expr, ctx)
		if d.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || hasSensitive(v) {
			continue
		}
		if v.Type() == cty.String {
			if _, err := time.ParseDuration(v.AsString()); err != nil && (name == "timeout" || name == "budget" || name == "rollback_timeout") {
				continue
			}
		}
		out.Attributes[name] = a
	}
	return out
}

func (c *compiler) decodeCheck(n *node, b *hhcl.Block, tolerate int) (*checkDecl, runbook.Check) {
	cd := &checkDecl{name: b.Labels[0], block: findSyntaxBlock(n.d.block.Body, b)}
	ch := runbook.Check{Name: cd.name}
	ctx := n.ctx
	// The probe first, to know which names are its arguments.
	pick, _, _ := b.Body.PartialContent(&hhcl.BodySchema{Attributes: []hhcl.AttributeSchema{{Name: "probe"}, {Name: "provider"}}})
	var at provider.ActionType
	var pv provider.Provider
	if a, ok := pick.Attributes["probe"]; ok {
		name, ok := c.staticString(a, ctx)
		if !ok {
			return nil, ch
		}
		if at, pv, ok = c.action(name, a.Expr.Range(), true); !ok {
			return nil, ch
		}
		cd.probe = name
	}
	schema := checkMetaSchema
	if cd.probe != "" {
		schema = c.entry(cd.probe).checkMeta
	}
	content, _, diags := b.Body.PartialContent(schema)
	c.diags = append(c.diags, diags...)
	cd.args = argBody{body: b.Body, meta: schema}
	// The probe: named, the only probe of the named provider, or the only
	// probe among configured providers.
	var provExpr hhcl.Expression
	if a, ok := content.Attributes["provider"]; ok {
		provExpr = a.Expr
	}
	if cd.probe != "" {
		cd.at = at
		cd.pinst = c.instanceFor(pv.Type(), provExpr, ctx, b.DefRange, cd.probe)
	} else {
		var body *hclsyntax.Body
		if cd.block != nil {
			body = cd.block.Body
		}
		cd.probe, cd.at, cd.pinst = c.implicitProbe(provExpr, ctx, b.DefRange, body)
	}
	if cd.pinst == nil {
		return nil, ch
	}
	cd.spec = c.entry(cd.probe).spec
	cond, hasCond := content.Attributes["condition"]
	succ, hasSucc := content.Attributes["success"]
	if hasCond && hasSucc {
		c.errf(succ.NameRange, "Conflicting conditions", "condition and success mean the same: give one of them.")
	}
	if hasCond {
		cd.success = cond.Expr
	} else if hasSucc {
		cd.success = succ.Expr
	}
	if a, ok := content.Attributes["failure"]; ok {
		cd.failure = a.Expr
	}
	if cd.success == nil && cd.failure == nil {
		c.errf(b.DefRange, "Check has no condition", "A check needs condition (or success), failure, or both: for example condition = self.value < 0.01.")
	}
	if a, ok := content.Attributes["error_message"]; ok {
		ch.Message, _ = c.staticString(a, ctx)
	}
	if a, ok := content.Attributes["threshold"]; ok {
		ch.Threshold, _ = c.staticString(a, ctx)
	} else if cd.success != nil {
		ch.Threshold = exprText(c.rb, cd.success)
	} else {
		ch.Threshold = "not " + exprText(c.rb, cd.failure)
	}
	for name, ptr := range map[string]*time.Duration{"every": &ch.Every, "initial_delay": &ch.InitialDelay} {
		if a, ok := content.Attributes[name]; ok {
			*ptr, _ = c.staticDuration(a, ctx)
		}
	}
	for name, ptr := range map[string]*int{"count": &ch.Count, "failure_limit": &ch.FailureLimit, "tolerate": &ch.Tolerate,
		"inconclusive_limit": &ch.InconclusiveLimit, "error_limit": &ch.ErrorLimit} {
		if a, ok := content.Attributes[name]; ok {
			*ptr, _ = c.staticInt(a, ctx)
		} else if name == "tolerate" && tolerate > 0 {
			ch.Tolerate = tolerate
		}
	}
	if a, ok := content.Attributes["no_data"]; ok {
		if s, ok := c.staticString(a, ctx); ok {
			switch p := runbook.NoDataPolicy(s); p {
			case runbook.NoDataInconclusive, runbook.NoDataFail, runbook.NoDataPass, runbook.NoDataWait:
				ch.NoData = p
			default:
				c.errf(a.Expr.Range(), "Invalid no_data policy", fmt.Sprintf("no_data is \"inconclusive\", \"fail\", \"pass\" or \"wait\", not %q.%s", s, suggestName(s, []string{"inconclusive", "fail", "pass", "wait"})))
			}
		}
	}
	if a, ok := content.Attributes["dry_run"]; ok {
		ch.DryRun, _ = c.staticBool(a, ctx)
	}
	return cd, ch
}

// argsFit reports whether every argument written in body is in the schema
// and every required one is written.
func argsFit(schema provider.Schema, body *hclsyntax.Body) bool {
	meta := map[string]bool{}
	for _, a := range checkMetaSchema.Attributes {
		meta[a.Name] = true
	}
	for name := range body.Attributes {
		if _, ok := schema[name]; !ok && !meta[name] {
			return false
		}
	}
	for name, a := range schema {
		if _, ok := body.Attributes[name]; a.Required && !ok {
			return false
		}
	}
	return true
}

func (c *compiler) implicitProbe(provExpr hhcl.Expression, ctx *hhcl.EvalContext, rng hhcl.Range, body *hclsyntax.Body) (string, provider.ActionType, *providerDecl) {
	rb := c.rb
	probesOf := func(p provider.Provider) []string {
		var out []string
		for name, at := range p.Actions() {
			if at.NewProbe != nil {
				out = append(out, name)
			}
		}
		sort.Strings(out)
		return out
	}
	if provExpr != nil {
		if !c.checkProviderRef(provExpr) {
			return "", provider.ActionType{}, nil
		}
		v, d := evalExpr(provExpr, ctx)
		c.diags = append(c.diags, d...)
		if d.HasErrors() {
			return "", provider.ActionType{}, nil
		}
		v, _ = v.Unmark()
		inst, err := provider.InstanceFromValue(v)
		if err != nil {
			c.errf(provExpr.Range(), "Invalid provider reference", "provider must name a provider instance such as prometheus.main.")
			return "", provider.ActionType{}, nil
		}
		for _, pd := range rb.providers {
			if pd.inst == inst {
				ps := probesOf(pd.p)
				if len(ps) != 1 {
					c.errf(rng, "Choose a probe", fmt.Sprintf("Provider %s offers %d probes (%s): name one with probe = \"...\".", pd.key(), len(ps), strings.Join(ps, ", ")))
					return "", provider.ActionType{}, nil
				}
				at, _, _ := rb.reg.Action(ps[0])
				return ps[0], at, pd
			}
		}
		c.errf(provExpr.Range(), "Invalid provider reference", "provider must name a provider instance declared in this runbook.")
		return "", provider.ActionType{}, nil
	}
	var cands []string
	var owners []*providerDecl
	for _, pd := range rb.providers {
		if pd.implicit {
			continue
		}
		for _, p := range probesOf(pd.p) {
			cands = append(cands, p+" ("+pd.key()+")")
			owners = append(owners, pd)
		}
	}
	if len(cands) > 1 && body != nil {
		// Keep the probes whose arguments fit the check's (query = ... picks
		// prometheus_query).
		var fitC []string
		var fitO []*providerDecl
		for i, cand := range cands {
			at, _, _ := rb.reg.Action(strings.SplitN(cand, " ", 2)[0])
			if argsFit(at.Args, body) {
				fitC, fitO = append(fitC, cand), append(fitO, owners[i])
			}
		}
		if len(fitC) > 0 {
			cands, owners = fitC, fitO
		}
	}
	if len(cands) != 1 {
		c.errf(rng, "Choose a probe", fmt.Sprintf("The check does not say what to sample and %d probes are available%s: set probe = \"<action>\" (and provider = <type>.<name> if needed).", len(cands), listSuffix(cands)))
		return "", provider.ActionType{}, nil
	}
	name := strings.SplitN(cands[0], " ", 2)[0]
	at, _, _ := rb.reg.Action(name)
	return name, at, owners[0]
}

func listSuffix(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return " (" + strings.Join(list, ", ") + ")"
}

// exprText returns an expression's source text, trimmed.
func exprText(rb *Runbook, e hhcl.Expression) string {
	if e == nil {
		return ""
	}
	r := e.Range()
	f := rb.files[r.Filename]
	if f == nil || r.End.Byte > len(f.Bytes) || r.Start.Byte > r.End.Byte {
		return ""
	}
	return strings.Join(strings.Fields(string(f.Bytes[r.Start.Byte:r.End.Byte])), " ")
}
