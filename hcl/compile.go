package hcl

import (
	"context"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
)

type compiler struct {
	rb    *Runbook
	ctx   context.Context
	diags hhcl.Diagnostics
	// top lists top-level phases and nodes in source order.
	top []any
	// actions caches registry look-ups.
	actions map[string]*actionEntry
	tooMany bool
}

var rootSchema = &hhcl.BodySchema{
	Blocks: []hhcl.BlockHeaderSchema{
		{Type: "runbook", LabelNames: []string{"name"}},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "provider", LabelNames: []string{"type", "name"}},
		{Type: "phase", LabelNames: []string{"name"}},
		{Type: "step", LabelNames: []string{"action", "name"}},
		{Type: "gate", LabelNames: []string{"kind", "name"}},
		{Type: "output", LabelNames: []string{"name"}},
	},
}

var runbookSchema = &hhcl.BodySchema{
	Attributes: []hhcl.AttributeSchema{{Name: "description"}, {Name: "window"}, {Name: "required_version"}, {Name: "on_failure"}},
}

func (c *compiler) errf(rng hhcl.Range, summary, detail string) {
	r := rng
	c.diags = append(c.diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: summary, Detail: detail, Subject: &r})
}

func (c *compiler) compile(body *hclsyntax.Body, auto bool) hhcl.Diagnostics {
	rb := c.rb
	_, d := body.Content(rootSchema)
	c.diags = append(c.diags, d...)
	if len(body.Attributes) > 0 {
		// Content reported them already.
		return c.diags
	}
	var rbBlock *hclsyntax.Block
	var localsBlocks, providerBlocks, outputBlocks []*hclsyntax.Block
	for _, b := range body.Blocks {
		if !validLabels(b) {
			continue
		}
		switch b.Type {
		case "runbook":
			if rbBlock != nil {
				c.errf(b.DefRange(), "Duplicate runbook block", fmt.Sprintf("A runbook file has one runbook block; the first is at %s.", rbBlock.DefRange()))
				continue
			}
			rbBlock = b
		case "variable":
			c.declareVariable(b)
		case "locals":
			localsBlocks = append(localsBlocks, b)
		case "provider":
			providerBlocks = append(providerBlocks, b)
		case "output":
			outputBlocks = append(outputBlocks, b)
		}
	}
	if rbBlock == nil {
		rng := hhcl.Range{Filename: body.SrcRange.Filename, Start: hhcl.InitialPos, End: hhcl.InitialPos}
		c.errf(rng, "Missing runbook block", `A runbook file needs a runbook block naming it: runbook "release-2" { description = "..." }.`)
		return c.diags
	}
	rb.name = rbBlock.Labels[0]
	if strings.TrimSpace(rb.name) == "" {
		c.errf(rbBlock.LabelRanges[0], "Invalid runbook name", "The runbook's name must not be empty.")
	}
	if c.diags.HasErrors() {
		return c.diags
	}
	c.assignVariables(body.SrcRange.Filename, auto)
	c.evalLocals(localsBlocks)
	if c.diags.HasErrors() {
		return c.diags
	}
	rb.base = &hhcl.EvalContext{Variables: map[string]cty.Value{
		"var":   objectOrEmpty(rb.varVals),
		"local": objectOrEmpty(rb.locals),
	}, Functions: rb.funcs}
	c.runbookAttrs(rbBlock)
	c.configureProviders(providerBlocks)
	if c.diags.HasErrors() {
		return c.diags
	}
	c.declareNodes(body)
	if c.diags.HasErrors() {
		return c.diags
	}
	c.decodeNodes()
	if c.diags.HasErrors() {
		return c.diags
	}
	c.resolveReferences()
	c.declareOutputs(outputBlocks)
	if c.diags.HasErrors() {
		return c.diags
	}
	c.planCheck()
	if c.diags.HasErrors() {
		return c.diags
	}
	c.build()
	return c.diags
}

func validLabels(b *hclsyntax.Block) bool {
	// Content already reported wrong label counts; skip such blocks.
	switch b.Type {
	case "locals":
		return len(b.Labels) == 0
	case "runbook", "variable", "phase", "output":
		return len(b.Labels) == 1
	case "provider", "step", "gate":
		return len(b.Labels) == 2
	}
	return false
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

func (c *compiler) runbookAttrs(b *hclsyntax.Block) {
	rb := c.rb
	content, d := b.Body.Content(runbookSchema)
	c.diags = append(c.diags, d...)
	if a, ok := content.Attributes["description"]; ok {
		rb.description, _ = c.staticString(a, rb.base)
	}
	if a, ok := content.Attributes["window"]; ok {
		rb.window, _ = c.staticDuration(a, rb.base)
	}
	if a, ok := content.Attributes["on_failure"]; ok {
		rb.onFailure, _ = c.staticPolicy(a, rb.base)
	}
	if a, ok := content.Attributes["required_version"]; ok {
		if req, ok := c.staticString(a, rb.base); ok && rb.opts.Version != "" {
			if ok, msg := versionSatisfies(rb.opts.Version, req); !ok {
				c.errf(a.Expr.Range(), "Unsupported Handrail version", msg)
			}
		}
	}
}

// evalExpr evaluates an expression; a panic inside HCL or cty becomes a
// diagnostic.
func evalExpr(expr hhcl.Expression, ctx *hhcl.EvalContext) (v cty.Value, diags hhcl.Diagnostics) {
	defer func() {
		if x := recover(); x != nil {
			v = cty.DynamicVal
			diags = hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Cannot evaluate expression",
				Detail: "The expression could not be evaluated because of an internal error.", Subject: expr.Range().Ptr()}}
		}
	}()
	return argValue(expr, ctx)
}

// decodeBody decodes a body with a spec; a panic becomes a diagnostic.
func decodeBody(body hhcl.Body, spec decoder, ctx *hhcl.EvalContext, rng hhcl.Range) (v cty.Value, diags hhcl.Diagnostics) {
	defer func() {
		if x := recover(); x != nil {
			v = cty.DynamicVal
			diags = hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Cannot evaluate block",
				Detail: "The block could not be decoded because of an internal error.", Subject: rng.Ptr()}}
		}
	}()
	return spec.decode(body, ctx)
}

// planArgs are the arguments of an action decoded at load time with typed
// unknowns. The cty object of a body decoded directly from its syntax (see
// argDecoder.decodeSyntax) is built only when something asks for it (the
// plan's rendering, the action's facts, self of a rollback): most loads
// never do, and an object of an action's arguments costs several maps.
type planArgs struct {
	obj    cty.Value   // decoded the general way (or cty.NilVal)
	ad     *argDecoder // else the values, in ad's order
	vals   []cty.Value
	schema provider.Schema
}

// value returns the arguments as an object, the sensitive ones marked.
func (a planArgs) value() cty.Value {
	if a.ad == nil {
		return a.obj
	}
	return markSchema(a.ad.object(a.vals), a.schema)
}

// whollyKnown reports value().IsWhollyKnown() without building the object.
func (a planArgs) whollyKnown() bool {
	if a.ad == nil {
		return a.obj.IsWhollyKnown()
	}
	for _, v := range a.vals {
		if !v.IsWhollyKnown() {
			return false
		}
	}
	return true
}

// decodeArgs decodes the arguments of a block at load time: directly from
// its syntax body when the spec allows it (see argDecoder.decodeSyntax),
// else from the body left by PartialContent(meta). schema marks the
// sensitive ones.
func decodeArgs(args argBody, spec decoder, ctx *hhcl.EvalContext, rng hhcl.Range, schema provider.Schema) (planArgs, hhcl.Diagnostics) {
	if ad, ok := spec.(*argDecoder); ok && args.syntax() != nil && args.meta != nil {
		if a, diags, ok := decodeSyntaxSafe(ad, args.syntax(), args.meta, ctx, rng, schema); ok {
			return a, diags
		}
	}
	v, diags := decodeBody(args.remain(), spec, ctx, rng)
	return planArgs{obj: markSchema(v, schema)}, diags
}

// decodeSyntaxSafe is argDecoder.decodeSyntax; a panic becomes a
// diagnostic, as in decodeBody.
func decodeSyntaxSafe(ad *argDecoder, syn *hclsyntax.Body, meta *hhcl.BodySchema, ctx *hhcl.EvalContext, rng hhcl.Range, schema provider.Schema) (a planArgs, diags hhcl.Diagnostics, ok bool) {
	defer func() {
		if x := recover(); x != nil {
			a, ok = planArgs{obj: cty.DynamicVal}, true
			diags = hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Cannot evaluate block",
				Detail: "The block could not be decoded because of an internal error.", Subject: rng.Ptr()}}
		}
	}()
	vals, diags, ok := ad.decodeSyntax(syn, meta, ctx)
	return planArgs{ad: ad, vals: vals, schema: schema}, diags, ok
}

// decoder decodes a body into an object value.
type decoder interface {
	decode(body hhcl.Body, ctx *hhcl.EvalContext) (cty.Value, hhcl.Diagnostics)
}

// specDecoder decodes with an hcldec spec.
type specDecoder struct{ spec hcldec.Spec }

func (d specDecoder) decode(body hhcl.Body, ctx *hhcl.EvalContext) (cty.Value, hhcl.Diagnostics) {
	return hcldec.Decode(body, d.spec, ctx)
}

// argDecoder decodes the flat argument bodies of actions exactly like an
// hcldec object of attribute specs, with the body schema computed once per
// action instead of once per body.
type argDecoder struct {
	schema *hhcl.BodySchema
	names  []string
	types  []cty.Type
	nulls  []cty.Value // the value of each argument left out
	local  []bool      // whether the argument is a provider.Attribute.LocalPath
	index  map[string]int
}

func newArgDecoder(s provider.Schema) *argDecoder {
	d := &argDecoder{schema: &hhcl.BodySchema{}, index: make(map[string]int, len(s))}
	for _, name := range s.Names() {
		d.index[name] = len(d.names)
		ty := s[name].Type
		if ty == cty.NilType {
			ty = cty.DynamicPseudoType
		}
		d.names = append(d.names, name)
		d.types = append(d.types, ty)
		d.local = append(d.local, s[name].LocalPath)
		d.nulls = append(d.nulls, cty.NullVal(ty.WithoutOptionalAttributesDeep()))
		d.schema.Attributes = append(d.schema.Attributes, hhcl.AttributeSchema{Name: name, Required: s[name].Required})
	}
	return d
}

func (d *argDecoder) decode(body hhcl.Body, ctx *hhcl.EvalContext) (cty.Value, hhcl.Diagnostics) {
	content, diags := body.Content(d.schema)
	attrs := make(map[string]cty.Value, len(d.names))
	for i, name := range d.names {
		ty := d.types[i]
		attr, ok := content.Attributes[name]
		if !ok {
			attrs[name] = cty.NullVal(ty.WithoutOptionalAttributesDeep())
			continue
		}
		attrs[name] = d.value(name, ty, d.local[i], attr.Expr, attr.NameRange, ctx, &diags)
	}
	if len(attrs) == 0 {
		return cty.EmptyObjectVal, diags
	}
	return cty.ObjectVal(attrs), diags
}

// value evaluates one argument and converts it to its declared type. A
// local path (local) is resolved against the directory of the file the
// expression is written in (see resolveLocal).
func (d *argDecoder) value(name string, ty cty.Type, local bool, expr hhcl.Expression, nameRange hhcl.Range, ctx *hhcl.EvalContext, diags *hhcl.Diagnostics) cty.Value {
	val, vd := argValueAs(expr, ty, ctx)
	*diags = append(*diags, vd...)
	conv, err := convertArg(val, ty)
	if err != nil {
		*diags = append(*diags, &hhcl.Diagnostic{
			Severity:    hhcl.DiagError,
			Summary:     "Incorrect attribute value type",
			Detail:      fmt.Sprintf("Inappropriate value for attribute %q: %s.", name, err.Error()),
			Subject:     expr.Range().Ptr(),
			Context:     hhcl.RangeBetween(nameRange, expr.Range()).Ptr(),
			Expression:  expr,
			EvalContext: ctx,
		})
		conv = cty.UnknownVal(ty.WithoutOptionalAttributesDeep())
	}
	if local {
		conv = resolveLocal(conv, expr.Range().Filename)
	}
	return conv
}

// argValue is expr.Value(ctx) with shortcuts giving the same results for
// quoted literal strings ("deploy": HCL builds a new string, a mark set and
// a refinement for each) and for tuple constructors, whose elements get the
// same shortcuts.
func argValue(expr hhcl.Expression, ctx *hhcl.EvalContext) (cty.Value, hhcl.Diagnostics) {
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		if len(e.Parts) == 1 {
			if lit, ok := e.Parts[0].(*hclsyntax.LiteralValueExpr); ok {
				if v := lit.Val; v.Type().Equals(cty.String) && v.IsKnown() && !v.IsNull() && !v.IsMarked() {
					return v, nil
				}
			}
		}
	case *hclsyntax.TupleConsExpr:
		vals, diags := tupleElems(e, ctx)
		return cty.TupleVal(vals), diags
	}
	return expr.Value(ctx)
}

func tupleElems(e *hclsyntax.TupleConsExpr, ctx *hhcl.EvalContext) ([]cty.Value, hhcl.Diagnostics) {
	vals := make([]cty.Value, len(e.Exprs))
	var diags hhcl.Diagnostics
	for i, x := range e.Exprs {
		v, d := argValue(x, ctx)
		vals[i] = v
		diags = append(diags, d...)
	}
	return vals, diags
}

// argValueAs is argValue for an argument of type ty. A tuple constructor
// for a list of a primitive type whose elements all have that type (and no
// marks) gives the list directly: what convert.Convert makes of the tuple.
func argValueAs(expr hhcl.Expression, ty cty.Type, ctx *hhcl.EvalContext) (cty.Value, hhcl.Diagnostics) {
	e, ok := expr.(*hclsyntax.TupleConsExpr)
	if !ok || len(e.Exprs) == 0 || !ty.IsListType() || !ty.ElementType().IsPrimitiveType() {
		return argValue(expr, ctx)
	}
	vals, diags := tupleElems(e, ctx)
	ety := ty.ElementType()
	for _, v := range vals {
		if !v.Type().Equals(ety) || v.IsMarked() {
			return cty.TupleVal(vals), diags
		}
	}
	return cty.ListVal(vals), diags
}

// convertArg is convert.Convert with a shortcut for the commonest argument
// shape, a tuple constructor of strings for a list(string): when every
// element already has the list's primitive element type (or, for a list of
// strings, is a known whole number or bool, written as go-cty writes it)
// and nothing is marked, the conversion is the list of those elements,
// which is what convert.Convert returns, without building a conversion per
// call.
func convertArg(val cty.Value, ty cty.Type) (cty.Value, error) {
	if v, ok := primitiveTupleToList(val, ty); ok {
		return v, nil
	}
	return convert.Convert(val, ty)
}

func primitiveTupleToList(val cty.Value, ty cty.Type) (cty.Value, bool) {
	if !ty.IsListType() {
		return cty.NilVal, false
	}
	ety := ty.ElementType()
	vt := val.Type()
	if !ety.IsPrimitiveType() || !vt.IsTupleType() || val.IsMarked() || !val.IsKnown() || val.IsNull() {
		return cty.NilVal, false
	}
	etys := vt.TupleElementTypes()
	if len(etys) == 0 {
		return cty.NilVal, false
	}
	for _, et := range etys {
		if !et.Equals(ety) && !(ety == cty.String && (et == cty.Number || et == cty.Bool)) {
			return cty.NilVal, false
		}
	}
	elems := val.AsValueSlice()
	var copied bool
	for i, e := range elems {
		if e.IsMarked() {
			return cty.NilVal, false
		}
		if etys[i].Equals(ety) {
			continue
		}
		s, ok := asConvertedString(e)
		if !ok {
			return cty.NilVal, false
		}
		if !copied {
			elems, copied = append([]cty.Value(nil), elems...), true
		}
		elems[i] = cty.StringVal(s)
	}
	return cty.ListVal(elems), true
}

// asConvertedString is what go-cty's conversion makes of a known bool or
// whole number (within int64, not negative zero) as a string; ok is false
// for anything else.
func asConvertedString(v cty.Value) (string, bool) {
	if !v.IsKnown() || v.IsNull() {
		return "", false
	}
	switch v.Type() {
	case cty.Bool:
		return strconv.FormatBool(v.True()), true
	case cty.Number:
		bf := v.AsBigFloat()
		i, acc := bf.Int64()
		if !bf.IsInt() || acc != big.Exact || bf.Signbit() && i == 0 {
			return "", false
		}
		return strconv.FormatInt(i, 10), true
	}
	return "", false
}

// decodeSyntax decodes the arguments of a syntax body whose meta-arguments
// (hidden from the arguments) are described by meta, without building the
// body's content: the values, in d.names order, of what decode gives on
// body.PartialContent(meta)'s remaining body when that body holds only known
// names and every required argument (the case where Content reports
// nothing), and ok = false otherwise, so that the caller decodes the usual
// way and reports exactly what Content reports. d.object makes the values
// the object decode returns.
func (d *argDecoder) decodeSyntax(body *hclsyntax.Body, meta *hhcl.BodySchema, ctx *hhcl.EvalContext) (vals []cty.Value, diags hhcl.Diagnostics, ok bool) {
	for name := range body.Attributes {
		if _, isArg := d.index[name]; !isArg && !metaAttr(meta, name) {
			return nil, nil, false
		}
	}
	for _, b := range body.Blocks {
		if !metaBlock(meta, b.Type) {
			return nil, nil, false
		}
	}
	for i := range d.schema.Attributes {
		if a := &d.schema.Attributes[i]; a.Required {
			if _, present := body.Attributes[a.Name]; !present || metaAttr(meta, a.Name) {
				return nil, nil, false
			}
		}
	}
	vals = make([]cty.Value, len(d.names))
	for i, name := range d.names {
		ty := d.types[i]
		attr, present := body.Attributes[name]
		if !present || metaAttr(meta, name) {
			vals[i] = d.nulls[i]
			continue
		}
		vals[i] = d.value(name, ty, d.local[i], attr.Expr, attr.NameRange, ctx, &diags)
	}
	return vals, diags, true
}

// object is the object of the values of d's arguments, in d.names order.
func (d *argDecoder) object(vals []cty.Value) cty.Value {
	if len(vals) == 0 {
		return cty.EmptyObjectVal
	}
	attrs := make(map[string]cty.Value, len(vals))
	for i, v := range vals {
		attrs[d.names[i]] = v
	}
	return cty.ObjectVal(attrs)
}

func metaAttr(s *hhcl.BodySchema, name string) bool {
	for i := range s.Attributes {
		if s.Attributes[i].Name == name {
			return true
		}
	}
	return false
}

func metaBlock(s *hhcl.BodySchema, typ string) bool {
	for i := range s.Blocks {
		if s.Blocks[i].Type == typ {
			return true
		}
	}
	return false
}

// evalStatic evaluates an expression that must be a constant.
func evalStatic(expr hhcl.Expression) (cty.Value, hhcl.Diagnostics) {
	return evalExpr(expr, nil)
}

// staticValue evaluates an attribute that must be known before the run.
func (c *compiler) staticValue(a *hhcl.Attribute, ctx *hhcl.EvalContext, ty cty.Type, what string) (cty.Value, bool) {
	for _, tr := range variables(a.Expr) {
		switch tr.RootName() {
		case "step", "gate", "run", "self":
			if ctx != nil {
				c.errf(tr.SourceRange(), "Value not known before the run", fmt.Sprintf("The argument %q must be known when the runbook is loaded; it cannot refer to %s.", a.Name, tr.RootName()))
				return cty.NilVal, false
			}
		}
	}
	v, d := evalExpr(a.Expr, ctx)
	c.diags = append(c.diags, d...)
	if d.HasErrors() {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		c.errf(a.Expr.Range(), "Value not known before the run", fmt.Sprintf("The argument %q must be known when the runbook is loaded; it cannot depend on outputs of steps.", a.Name))
		return cty.NilVal, false
	}
	if v.IsMarked() || hasSensitive(v) {
		c.errf(a.Expr.Range(), "Sensitive value not allowed", fmt.Sprintf("The argument %q is shown in plans, so it cannot be sensitive.", a.Name))
		return cty.NilVal, false
	}
	if v.IsNull() {
		c.errf(a.Expr.Range(), "Invalid "+what, fmt.Sprintf("The argument %q must not be null.", a.Name))
		return cty.NilVal, false
	}
	if ty != cty.DynamicPseudoType {
		conv, err := convertTo(v, ty)
		if err != nil {
			c.errf(a.Expr.Range(), "Invalid "+what, fmt.Sprintf("The argument %q must be a %s: %s.", a.Name, ty.FriendlyName(), err))
			return cty.NilVal, false
		}
		v = conv
	}
	return v, true
}

// variables is expr.Variables(), without walking literal expressions (the
// common case of meta-arguments such as timeout = "1m").
func variables(expr hhcl.Expression) []hhcl.Traversal {
	switch e := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		return nil
	case *hclsyntax.ScopeTraversalExpr:
		// What hclsyntax.Variables gives outside any for expression.
		return []hhcl.Traversal{e.Traversal}
	case *hclsyntax.TupleConsExpr:
		var out []hhcl.Traversal
		for _, x := range e.Exprs {
			out = append(out, variables(x)...)
		}
		return out
	case *hclsyntax.TemplateExpr:
		for _, p := range e.Parts {
			if _, ok := p.(*hclsyntax.LiteralValueExpr); !ok {
				return expr.Variables()
			}
		}
		return nil
	}
	return expr.Variables()
}

func (c *compiler) staticString(a *hhcl.Attribute, ctx *hhcl.EvalContext) (string, bool) {
	v, ok := c.staticValue(a, ctx, cty.String, "value")
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

func (c *compiler) staticBool(a *hhcl.Attribute, ctx *hhcl.EvalContext) (bool, bool) {
	v, ok := c.staticValue(a, ctx, cty.Bool, "value")
	if !ok {
		return false, false
	}
	return v.True(), true
}

func (c *compiler) staticInt(a *hhcl.Attribute, ctx *hhcl.EvalContext) (int, bool) {
	v, ok := c.staticValue(a, ctx, cty.Number, "number")
	if !ok {
		return 0, false
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact || i < 0 || i > 1<<31 {
		c.errf(a.Expr.Range(), "Invalid number", fmt.Sprintf("The argument %q must be a whole number from 0 to %d.", a.Name, 1<<31))
		return 0, false
	}
	return int(i), true
}

func (c *compiler) staticFloat(a *hhcl.Attribute, ctx *hhcl.EvalContext) (float64, bool) {
	v, ok := c.staticValue(a, ctx, cty.Number, "number")
	if !ok {
		return 0, false
	}
	f, _ := v.AsBigFloat().Float64()
	return f, true
}

func (c *compiler) staticDuration(a *hhcl.Attribute, ctx *hhcl.EvalContext) (time.Duration, bool) {
	s, ok := c.staticString(a, ctx)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		c.errf(a.Expr.Range(), "Invalid duration", fmt.Sprintf("The argument %q must be a duration such as \"30s\", \"15m\" or \"4h\"; %q is not one.", a.Name, s))
		return 0, false
	}
	return d, true
}

func (c *compiler) staticPolicy(a *hhcl.Attribute, ctx *hhcl.EvalContext) (runbook.Policy, bool) {
	s, ok := c.staticString(a, ctx)
	if !ok {
		return "", false
	}
	switch p := runbook.Policy(s); p {
	case runbook.PolicyRollback, runbook.PolicyAbort, runbook.PolicyPause, runbook.PolicyContinue:
		return p, true
	}
	c.errf(a.Expr.Range(), "Invalid policy", fmt.Sprintf("The argument %q must be one of \"rollback\", \"abort\", \"pause\" or \"continue\"; got %q.%s", a.Name, s,
		suggestName(s, []string{"rollback", "abort", "pause", "continue"})))
	return "", false
}

// versionSatisfies checks a version against constraints like ">= 0.1.0,
// < 2.0.0".
func versionSatisfies(version, constraints string) (bool, string) {
	have, ok := parseVersion(version)
	if !ok {
		return true, ""
	}
	for _, part := range strings.Split(constraints, ",") {
		part = strings.TrimSpace(part)
		op := "="
		for _, o := range []string{">=", "<=", "!=", ">", "<", "="} {
			if strings.HasPrefix(part, o) {
				op, part = o, strings.TrimSpace(part[len(o):])
				break
			}
		}
		want, ok := parseVersion(part)
		if !ok {
			return false, fmt.Sprintf("The constraint %q is not a version constraint such as \">= 0.1.0\".", constraints)
		}
		cmp := 0
		for i := range 3 {
			if have[i] != want[i] {
				cmp = map[bool]int{true: -1, false: 1}[have[i] < want[i]]
				break
			}
		}
		okc := map[string]bool{">=": cmp >= 0, "<=": cmp <= 0, "!=": cmp != 0, ">": cmp > 0, "<": cmp < 0, "=": cmp == 0}[op]
		if !okc {
			return false, fmt.Sprintf("This runbook requires Handrail %s; this is version %s.", constraints, version)
		}
	}
	return true, ""
}

func parseVersion(s string) ([3]int, bool) {
	var v [3]int
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) == 0 || len(parts) > 3 {
		return v, false
	}
	for i, p := range parts {
		n := 0
		if p == "" {
			return v, false
		}
		for _, r := range p {
			if r < '0' || r > '9' {
				return v, false
			}
			n = n*10 + int(r-'0')
			if n > 1<<20 {
				return v, false
			}
		}
		v[i] = n
	}
	return v, true
}

func (c *compiler) staticStringList(a *hhcl.Attribute, ctx *hhcl.EvalContext) ([]string, bool) {
	v, ok := c.staticValue(a, ctx, cty.List(cty.String), "list of strings")
	if !ok {
		return nil, false
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			c.errf(a.Expr.Range(), "Invalid list of strings", fmt.Sprintf("The argument %q must not hold null.", a.Name))
			return nil, false
		}
		out = append(out, e.AsString())
	}
	return out, true
}
