package hcl

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/runbook"
)

type variable struct {
	name        string
	block       *hclsyntax.Block
	typ         cty.Type
	defaults    *typeexpr.Defaults
	def         *hhcl.Attribute
	description string
	sensitive   bool
	nullable    bool
	validations []validation
}

type validation struct {
	cond, msg hhcl.Expression
}

var variableSchema = &hhcl.BodySchema{
	Attributes: []hhcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"}, {Name: "nullable"}},
	Blocks:     []hhcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hhcl.BodySchema{
	Attributes: []hhcl.AttributeSchema{{Name: "condition", Required: true}, {Name: "error_message", Required: true}},
}

func (c *compiler) declareVariable(b *hclsyntax.Block) {
	name := b.Labels[0]
	if !hclsyntax.ValidIdentifier(name) {
		c.errf(b.LabelRanges[0], "Invalid variable name", "A variable name must start with a letter or underscore and contain only letters, digits, underscores and dashes.")
		return
	}
	for _, v := range c.rb.vars {
		if v.name == name {
			c.errf(b.LabelRanges[0], "Duplicate variable", fmt.Sprintf("A variable named %q was already declared at %s.", name, v.block.DefRange()))
			return
		}
	}
	v := &variable{name: name, block: b, typ: cty.DynamicPseudoType, nullable: true}
	content, diags := b.Body.Content(variableSchema)
	c.diags = append(c.diags, diags...)
	if a, ok := content.Attributes["type"]; ok {
		ty, defs, d := typeexpr.TypeConstraintWithDefaults(a.Expr)
		c.diags = append(c.diags, d...)
		if !d.HasErrors() {
			v.typ, v.defaults = ty, defs
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		v.description, _ = c.staticString(a, nil)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		v.sensitive, _ = c.staticBool(a, nil)
	}
	if a, ok := content.Attributes["nullable"]; ok {
		v.nullable, _ = c.staticBool(a, nil)
	}
	if a, ok := content.Attributes["default"]; ok {
		v.def = a
		if v.sensitive {
			c.mask(a.Expr.Range())
		}
	}
	for _, vb := range content.Blocks {
		vc, d := vb.Body.Content(validationSchema)
		c.diags = append(c.diags, d...)
		if d.HasErrors() {
			continue
		}
		cond, msg := vc.Attributes["condition"], vc.Attributes["error_message"]
		for _, tr := range cond.Expr.Variables() {
			if tr.RootName() != "var" || len(tr) < 2 || attrName(tr[1]) != name {
				c.errf(tr.SourceRange(), "Invalid reference in variable validation", fmt.Sprintf("The condition of a validation of variable %q may refer only to var.%s.", name, name))
			}
		}
		v.validations = append(v.validations, validation{cond: cond.Expr, msg: msg.Expr})
	}
	c.rb.vars = append(c.rb.vars, v)
}

// sourcedValue is a variable value and where it came from.
type sourcedValue struct {
	val    cty.Value
	rng    hhcl.Range
	source string
}

// assignVariables computes every variable's value from its sources, with
// Terraform's precedence, converts and validates it.
func (c *compiler) assignVariables(path string, auto bool) {
	rb := c.rb
	declared := map[string]*variable{}
	var names []string
	for _, v := range rb.vars {
		declared[v.name] = v
		names = append(names, v.name)
	}
	given := map[string]sourcedValue{}
	bad := map[string]bool{}
	// Environment.
	envVals := map[string]string{}
	for _, kv := range rb.opts.Environ {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "HANDRAIL_VAR_") {
			continue
		}
		envVals[strings.TrimPrefix(k, "HANDRAIL_VAR_")] = val
	}
	for _, name := range sortedKeys(envVals) {
		v, ok := declared[name]
		if !ok {
			continue // like Terraform: undeclared environment values are ignored
		}
		if sv, ok := c.rawValue(v, envVals[name], "<env HANDRAIL_VAR_"+name+">", "environment variable HANDRAIL_VAR_"+name); ok {
			given[name] = sv
		} else {
			bad[name] = true
		}
	}
	// *.auto.hclvars next to the runbook, then -var-file.
	var files []string
	if auto && !rb.opts.NoAutoVarFiles {
		matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.auto.hclvars"))
		sort.Strings(matches)
		files = append(files, matches...)
	}
	files = append(files, rb.opts.VarFiles...)
	for _, f := range files {
		c.readVarFile(f, declared, given, bad)
	}
	// -var.
	for _, name := range sortedKeys(rb.opts.Vars) {
		fname := "<-var " + name + ">"
		v, ok := declared[name]
		if !ok {
			rng := c.synthetic(fname, []byte(name), false)
			c.errf(rng, "Value for undeclared variable", fmt.Sprintf("A -var option sets %q, but the runbook declares no such variable.%s", name, suggestName(name, names)))
			continue
		}
		if sv, ok := c.rawValue(v, rb.opts.Vars[name], fname, "-var "+name); ok {
			given[name] = sv
		} else {
			bad[name] = true
		}
	}
	// Finalize.
	for _, v := range rb.vars {
		sv, ok := given[v.name]
		if !ok {
			if bad[v.name] {
				continue
			}
			if v.def == nil {
				c.errf(v.block.DefRange(), "No value for required variable", fmt.Sprintf("Variable %q has no default: set it with -var %s=..., a var file, or HANDRAIL_VAR_%s.", v.name, v.name, v.name))
				continue
			}
			val, d := evalStatic(v.def.Expr)
			c.diags = append(c.diags, d...)
			if d.HasErrors() {
				continue
			}
			sv = sourcedValue{val: val, rng: v.def.Expr.Range(), source: "the default"}
		}
		val, ok := c.finalizeVariable(v, sv)
		if ok {
			rb.varVals[v.name] = val
			for _, s := range sensitiveStrings(val) {
				rb.red.Add(s)
			}
		}
	}
}

func (c *compiler) finalizeVariable(v *variable, sv sourcedValue) (cty.Value, bool) {
	val := sv.val
	if v.defaults != nil && !val.IsNull() {
		val = v.defaults.Apply(val)
	}
	conv, err := convertLinear(val, v.typ)
	if err != nil {
		c.errf(sv.rng, "Invalid value for variable", fmt.Sprintf("The value of variable %q from %s is not valid: %s.", v.name, sv.source, convertMessage(err)))
		return cty.NilVal, false
	}
	if conv.IsNull() && !v.nullable {
		c.errf(sv.rng, "Invalid value for variable", fmt.Sprintf("Variable %q from %s must not be null (nullable = false).", v.name, sv.source))
		return cty.NilVal, false
	}
	if v.sensitive {
		conv = markSensitive(conv)
	}
	ctx := &hhcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.name: conv})}, Functions: c.rb.funcs}
	ok := true
	for _, vd := range v.validations {
		res, d := evalExpr(vd.cond, ctx)
		if d.HasErrors() {
			c.diags = append(c.diags, d...)
			ok = false
			continue
		}
		res, _ = res.Unmark()
		if res.Type() != cty.Bool || res.IsNull() || !res.IsKnown() {
			c.errf(vd.cond.Range(), "Invalid validation condition", "The condition must be a known true or false value.")
			ok = false
			continue
		}
		if res.False() {
			msg := "the value does not pass its validation"
			if m, d := evalExpr(vd.msg, ctx); !d.HasErrors() && m.Type() == cty.String && m.IsKnown() && !m.IsNull() {
				if m.IsMarked() {
					msg = "the value does not pass its validation (its message is sensitive)"
				} else {
					msg = m.AsString()
				}
			}
			rng := vd.cond.Range()
			c.diags = append(c.diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid value for variable",
				Detail:  fmt.Sprintf("Variable %q from %s: %s", v.name, sv.source, msg),
				Subject: sv.rng.Ptr(), Context: &rng})
			ok = false
		}
	}
	if v.sensitive && ok {
		for _, str := range sensitiveStrings(conv) {
			if err := runbook.CheckSecret(str); err != nil {
				c.errf(sv.rng, "Sensitive value too short", fmt.Sprintf("Variable %q from %s: %v.", v.name, sv.source, err))
				return conv, false
			}
		}
	}
	return conv, ok
}

func convertMessage(err error) string {
	msg := err.Error()
	if pe, ok := err.(cty.PathError); ok && len(pe.Path) > 0 {
		return fmt.Sprintf("at %s: %s", pathString(pe.Path), msg)
	}
	return msg
}

func pathString(p cty.Path) string {
	var sb strings.Builder
	for _, s := range p {
		switch x := s.(type) {
		case cty.GetAttrStep:
			sb.WriteString("." + x.Name)
		case cty.IndexStep:
			if x.Key.Type() == cty.String {
				fmt.Fprintf(&sb, "[%q]", x.Key.AsString())
			} else if x.Key.Type() == cty.Number {
				sb.WriteString("[" + primitiveString(x.Key) + "]")
			}
		}
	}
	return strings.TrimPrefix(sb.String(), ".")
}

// rawValue interprets a string from -var or the environment: as is for
// primitive types, as an HCL expression otherwise.
func (c *compiler) rawValue(v *variable, raw, fname, source string) (sourcedValue, bool) {
	rng := c.synthetic(fname, []byte(raw), v.sensitive)
	if v.typ.IsPrimitiveType() || v.typ == cty.DynamicPseudoType {
		return sourcedValue{val: cty.StringVal(raw), rng: rng, source: source}, true
	}
	var expr hclsyntax.Expression
	d := checkSource([]byte(raw), fname, hhcl.InitialPos)
	if !d.HasErrors() {
		expr, d = hclsyntax.ParseExpression([]byte(raw), fname, hhcl.InitialPos)
	}
	if !d.HasErrors() {
		var val cty.Value
		val, d = evalStatic(expr)
		if !d.HasErrors() {
			return sourcedValue{val: val, rng: rng, source: source}, true
		}
	}
	detail := fmt.Sprintf("The value of variable %q from %s must be an HCL expression of type %s.", v.name, source, typeexpr.TypeString(v.typ))
	if !v.sensitive && len(d) > 0 {
		detail += " " + d[0].Summary + ": " + d[0].Detail
		if d[0].Subject != nil {
			rng = *d[0].Subject
		}
	}
	c.errf(rng, "Invalid value for variable", detail)
	return sourcedValue{}, false
}

// synthetic registers an in-memory source (a -var value) so that
// diagnostics have a snippet; sensitive ones are blanked.
func (c *compiler) synthetic(fname string, src []byte, sensitive bool) hhcl.Range {
	c.rb.files[fname] = &hhcl.File{Bytes: src, Body: hhcl.EmptyBody()}
	end := hhcl.Pos{Line: 1, Column: 1 + len([]rune(string(src))), Byte: len(src)}
	if i := strings.IndexByte(string(src), '\n'); i >= 0 {
		end = hhcl.Pos{Line: 1, Column: 1 + len([]rune(string(src[:i]))), Byte: i}
	}
	rng := hhcl.Range{Filename: fname, Start: hhcl.InitialPos, End: end}
	if sensitive {
		c.rb.masks[fname] = append(c.rb.masks[fname], hhcl.Range{Filename: fname, Start: hhcl.InitialPos, End: hhcl.Pos{Byte: len(src)}})
	}
	return rng
}

func (c *compiler) readVarFile(path string, declared map[string]*variable, given map[string]sourcedValue, bad map[string]bool) {
	src, err := readSource(path)
	if err != nil {
		rng := hhcl.Range{Filename: path, Start: hhcl.InitialPos, End: hhcl.InitialPos}
		c.errf(rng, "Cannot read variables file", err.Error())
		return
	}
	f, d := (*hhcl.File)(nil), checkSource(src, path, hhcl.InitialPos)
	if !d.HasErrors() {
		f, d = hclsyntax.ParseConfig(src, path, hhcl.InitialPos)
	}
	if d.HasErrors() {
		// Which value belongs to which variable is unknown (an
		// unterminated string runs on over the lines after it), so no
		// value is known not to be sensitive: show the names only.
		if f == nil {
			f = &hhcl.File{Bytes: src, Body: hhcl.EmptyBody()}
		}
		c.rb.files[path] = f
		c.diags = append(c.diags, c.maskUnparsedVarFile(path, src, d)...)
		return
	}
	c.rb.files[path] = f
	c.diags = append(c.diags, d...)
	attrs, d := f.Body.JustAttributes()
	c.diags = append(c.diags, d...)
	var names []string
	for n := range declared {
		names = append(names, n)
	}
	for _, a := range sortedAttrs(attrs) {
		v, ok := declared[a.Name]
		if !ok {
			// A misspelt name may be a sensitive variable's: hide the value.
			c.mask(a.Expr.Range())
			c.diags = append(c.diags, &hhcl.Diagnostic{Severity: hhcl.DiagWarning, Summary: "Value for undeclared variable",
				Detail:  fmt.Sprintf("The file sets %q, but the runbook declares no such variable.%s", a.Name, suggestName(a.Name, names)),
				Subject: a.NameRange.Ptr()})
			continue
		}
		if v.sensitive {
			c.mask(a.Expr.Range())
		}
		val, d := evalStatic(a.Expr)
		if d.HasErrors() {
			c.diags = append(c.diags, d...)
			bad[a.Name] = true
			continue
		}
		given[a.Name] = sourcedValue{val: val, rng: a.Expr.Range(), source: "file " + path}
	}
}

// varFileName matches the start of a line that sets a variable.
var varFileName = regexp.MustCompile(`^[ \t]*[A-Za-z_][A-Za-z0-9_-]*[ \t]*=`)

// maskUnparsedVarFile hides every value of a var file that does not parse:
// only the "name =" at the start of a line stays visible in snippets, and
// the texts hidden are redacted from the diagnostics' messages too. It
// returns diags so redacted.
func (c *compiler) maskUnparsedVarFile(path string, src []byte, diags hhcl.Diagnostics) hhcl.Diagnostics {
	red := runbook.NewRedactor()
	off := 0
	for _, line := range strings.SplitAfter(string(src), "\n") {
		start := off
		if m := varFileName.FindStringIndex(line); m != nil {
			start += m[1]
		}
		end := off + len(strings.TrimRight(line, "\r\n"))
		if end > start {
			c.mask(hhcl.Range{Filename: path, Start: hhcl.Pos{Byte: start}, End: hhcl.Pos{Byte: end}})
			value := strings.TrimSpace(string(src[start:end]))
			red.Add(value)
			red.Add(strings.Trim(value, `"'`))
		}
		off += len(line)
	}
	out := make(hhcl.Diagnostics, len(diags))
	for i, d := range diags {
		cp := *d
		cp.Summary, cp.Detail = red.Redact(cp.Summary), red.Redact(cp.Detail)
		out[i] = &cp
	}
	return out
}

func (c *compiler) mask(r hhcl.Range) {
	c.rb.masks[r.Filename] = append(c.rb.masks[r.Filename], r)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedAttrs(attrs hhcl.Attributes) []*hhcl.Attribute {
	out := make([]*hhcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Range.Start.Byte < out[j].Range.Start.Byte })
	return out
}

func attrName(t hhcl.Traverser) string {
	if a, ok := t.(hhcl.TraverseAttr); ok {
		return a.Name
	}
	return ""
}
