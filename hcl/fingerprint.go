package hcl

import (
	"sort"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Fingerprints make a changed argument change its node's hash (see
// runbook.Fingerprinter), so that a run resumed with an edited runbook
// never treats a changed step as done. Each argument is written as the
// value it has at load time; a value known only at run time (it reads a
// step's outputs or the run) is written as the tokens of the expression
// that computes it, so that whitespace, comments and trailing commas do not
// count.
// Sensitive values are written as (sensitive): they are left out.

// Fingerprint is the step's arguments as evaluated at load time.
func (a *lazyAction) Fingerprint() string {
	return a.rb.fingerprint(a.n.d.args.syntax(), a.n.planArgs.value())
}

// Fingerprint is the action's: the natural rollback is built from the
// step's arguments.
func (r *lazyNatural) Fingerprint() string { return r.a.Fingerprint() }

// Fingerprint is the rollback block's arguments as evaluated at load time.
func (r *lazyRollback) Fingerprint() string {
	return r.rb.fingerprint(r.rd.args.syntax(), r.rd.planArgs.value())
}

// Fingerprint is the probe's arguments as evaluated at load time.
func (p *lazyProbe) Fingerprint() string {
	return p.rb.fingerprint(p.cd.args.syntax(), p.cd.planArgs.value())
}

// Fingerprint is the condition's expression, as tokens.
func (c *lazyCondition) Fingerprint() string {
	if c.expr == nil {
		return ""
	}
	return c.rb.exprTokens(c.expr)
}

// fingerprint writes one "name = value" line per argument, sorted by
// name.
func (rb *Runbook) fingerprint(sb *hclsyntax.Body, args cty.Value) string {
	if sb == nil || args == cty.NilVal || args.IsNull() {
		return ""
	}
	u, marks := args.Unmark()
	if !u.IsKnown() || !u.Type().IsObjectType() {
		return ""
	}
	names := make([]string, 0, len(sb.Attributes))
	for name := range sb.Attributes {
		if u.Type().HasAttribute(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out strings.Builder
	for _, name := range names {
		v := u.GetAttr(name).WithMarks(marks)
		out.WriteString(name)
		if plain, _ := v.UnmarkDeep(); plain.IsWhollyKnown() {
			out.WriteString(" = ")
			out.WriteString(renderValue(v, nil))
		} else {
			out.WriteString(" <- ")
			out.WriteString(rb.exprTokens(sb.Attributes[name].Expr))
		}
		out.WriteByte('\n')
	}
	return out.String()
}

// exprTokens returns the tokens of an expression's source, one space
// apart, without comments and newlines.
func (rb *Runbook) exprTokens(e hhcl.Expression) string {
	rng := e.Range()
	var src []byte
	if rb != nil {
		if f, ok := rb.files[rng.Filename]; ok && rng.End.Byte <= len(f.Bytes) && rng.Start.Byte <= rng.End.Byte {
			src = f.Bytes[rng.Start.Byte:rng.End.Byte]
		}
	}
	if src == nil {
		return "(source unknown)"
	}
	toks, diags := hclsyntax.LexExpression(src, rng.Filename, rng.Start)
	if diags.HasErrors() {
		return string(src)
	}
	sig := toks[:0:0]
	for _, t := range toks {
		switch t.Type {
		case hclsyntax.TokenNewline, hclsyntax.TokenComment, hclsyntax.TokenEOF:
			continue
		}
		sig = append(sig, t)
	}
	var out strings.Builder
	for i, t := range sig {
		if t.Type == hclsyntax.TokenComma && i+1 < len(sig) && (sig[i+1].Type == hclsyntax.TokenCBrack || sig[i+1].Type == hclsyntax.TokenCBrace) {
			continue // a trailing comma is layout
		}
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.Write(t.Bytes)
	}
	return out.String()
}
