package hcl

import (
	"fmt"
	"io"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/runbook"
)

type outputDecl struct {
	name        string
	block       *hclsyntax.Block
	expr        hhcl.Expression
	sensitive   bool
	description string
	n           *node // pseudo node holding the references
}

var outputSchema = &hhcl.BodySchema{
	Attributes: []hhcl.AttributeSchema{{Name: "value", Required: true}, {Name: "sensitive"}, {Name: "description"}},
}

func (c *compiler) declareOutputs(blocks []*hclsyntax.Block) {
	rb := c.rb
	seen := map[string]bool{}
	for _, b := range blocks {
		name := b.Labels[0]
		if seen[name] {
			c.errf(b.LabelRanges[0], "Duplicate output", fmt.Sprintf("An output named %q was already declared.", name))
			continue
		}
		seen[name] = true
		content, d := b.Body.Content(outputSchema)
		c.diags = append(c.diags, d...)
		if d.HasErrors() {
			continue
		}
		o := &outputDecl{name: name, block: b, expr: content.Attributes["value"].Expr}
		if a, ok := content.Attributes["sensitive"]; ok {
			o.sensitive, _ = c.staticBool(a, rb.base)
		}
		if a, ok := content.Attributes["description"]; ok {
			o.description, _ = c.staticString(a, rb.base)
		}
		o.n = &node{d: &nodeDecl{name: "output." + name, kind: "output", block: b}, name: "output." + name,
			index: len(rb.nodes), ctx: rb.base, refs: map[string]map[string]*refTarget{}}
		for _, tr := range o.expr.Variables() {
			c.checkRef(o.n, tr, false)
		}
		rb.outputs = append(rb.outputs, o)
	}
}

// Output is the value of an output block after a run.
type Output struct {
	Name        string
	Description string
	// Value is JSON-compatible; a sensitive string is a runbook.Secret.
	Value     any
	Sensitive bool
}

// Outputs evaluates the output blocks after a run, reading node outputs
// with lookup (a runbook.Result's or a journal's). Outputs of nodes that did
// not run are null.
func (rb *Runbook) Outputs(run runbook.RunInfo, lookup func(node string) (runbook.Outputs, bool)) ([]Output, hhcl.Diagnostics) {
	var diags hhcl.Diagnostics
	var out []Output
	var errs []error
	val := func(m *node) cty.Value {
		outs, ok := lookup(m.name)
		if !ok {
			return m.nullVal()
		}
		v, err := m.outputVal(outs)
		if err != nil {
			errs = append(errs, err)
			return m.unknownVal()
		}
		return v
	}
	for _, o := range rb.outputs {
		v, d := evalExpr(o.expr, o.n.evalCtx(val, cty.NilVal, runVal(run)))
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		sens := o.sensitive || hasSensitive(v)
		if !o.sensitive && sens {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Output refers to sensitive values",
				Detail: fmt.Sprintf("Output %q would show a sensitive value: set sensitive = true.", o.name), Subject: o.expr.Range().Ptr()})
			continue
		}
		gv := ctyToGo(v)
		if sens {
			if s, ok := gv.(string); ok {
				gv = runbook.NewSecret(s)
			} else if _, ok := gv.(runbook.Secret); !ok {
				gv = "(sensitive)"
			}
		}
		out = append(out, Output{Name: o.name, Description: o.description, Value: gv, Sensitive: sens})
	}
	for _, e := range errs {
		diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid node output", Detail: e.Error(),
			Subject: &hhcl.Range{Filename: rb.path, Start: hhcl.InitialPos, End: hhcl.InitialPos}})
	}
	return out, diags
}

// Arg is one argument of a node as known at plan time.
type Arg struct {
	Name string
	// Value is rendered in HCL syntax; unknown parts read
	// "(known after step.x)", sensitive ones "(sensitive)".
	Value string
}

// Call is an action, rollback or probe with its arguments.
type Call struct {
	Provider string
	Action   string
	Args     []Arg
	// Natural marks a provider's natural rollback.
	Natural bool
}

// NodeView is what a plan shows of one node.
type NodeView struct {
	Name  string
	Kind  string // "step" or "gate"
	Phase string
	// Step: the action, and the rollbacks that would run, in order.
	Action    *Call
	Rollbacks []Call
	// Gate: its kind, schedule or question, and checks.
	GateKind string
	Schedule string
	Checks   []CheckView
}

// CheckView is one check of a gate.
type CheckView struct {
	Name      string
	Probe     Call
	Threshold string
}

// Describe returns what a plan shows of each node, in plan order.
func (rb *Runbook) Describe() []NodeView {
	if rb.plan == nil {
		return nil
	}
	var out []NodeView
	for _, pn := range rb.plan.Nodes() {
		n := rb.byName[pn.Name]
		if n == nil {
			continue
		}
		v := NodeView{Name: n.name, Kind: n.d.kind, Phase: pn.Phase}
		if n.step != nil {
			v.Action = &Call{Provider: n.pinst.inst.Name(), Action: n.d.typ, Args: renderArgs(n.d.args.syntax(), n.planArgs.value(), waitsOf(n, n.d.args.syntax(), false))}
			for _, rd := range n.rollbacks {
				v.Rollbacks = append(v.Rollbacks, Call{Provider: rd.pinst.inst.Name(), Action: rd.action, Args: renderArgs(rd.args.syntax(), rd.planArgs.value(), waitsOf(n, rd.args.syntax(), true))})
			}
			if len(n.rollbacks) == 0 {
				if nr := (&lazyAction{rb: rb, n: n}).NaturalRollback(); nr != nil {
					d := runbook.Describe(nr)
					v.Rollbacks = append(v.Rollbacks, Call{Provider: d.Provider, Action: d.Action, Natural: true})
				}
			}
		} else {
			v.GateKind = string(n.gate.Kind)
			v.Schedule = gateSchedule(n.gate)
			for i, cd := range n.checks {
				v.Checks = append(v.Checks, CheckView{Name: cd.name, Threshold: n.gate.Checks[i].Threshold,
					Probe: Call{Provider: cd.pinst.inst.Name(), Action: cd.probe, Args: renderArgs(cd.args.syntax(), cd.planArgs.value(), waitsOf(n, cd.args.syntax(), false))}})
			}
		}
		out = append(out, v)
	}
	return out
}

func renderArgs(sb *hclsyntax.Body, args cty.Value, waits map[string][]string) []Arg {
	if sb == nil || args == cty.NilVal || args.IsNull() {
		return nil
	}
	var out []Arg
	u, marks := args.Unmark()
	if !u.IsKnown() || !u.Type().IsObjectType() {
		return nil
	}
	for _, a := range sortedSyntaxAttrs(sb.Attributes) {
		if !u.Type().HasAttribute(a.Name) {
			continue
		}
		v := u.GetAttr(a.Name).WithMarks(marks)
		w := waits[a.Name]
		out = append(out, Arg{Name: a.Name, Value: renderValue(v, func() string {
			if len(w) == 0 {
				return "(known at run time)"
			}
			if strings.HasPrefix(w[0], "run.") && len(w) == 1 {
				return "(known at run time: " + w[0] + ")"
			}
			return "(known after " + strings.Join(w, ", ") + ")"
		})})
	}
	return out
}

// WritePlan prints the plan for people: per node its provider, action and
// arguments, and per step the rollback that would run. Secrets show as
// (sensitive).
func (rb *Runbook) WritePlan(w io.Writer) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "runbook %q\n", rb.name)
	if rb.description != "" {
		fmt.Fprintf(&sb, "  %s\n", rb.description)
	}
	phase := ""
	for _, v := range rb.Describe() {
		if v.Phase != phase {
			if v.Phase != "" {
				fmt.Fprintf(&sb, "\nphase %s\n", v.Phase)
			} else {
				sb.WriteString("\n")
			}
		}
		phase = v.Phase
		if v.Action != nil {
			fmt.Fprintf(&sb, "  step %s: %s %s\n", v.Name, v.Action.Provider, v.Action.Action)
			writeArgs(&sb, v.Action.Args, "      ")
			for i, r := range v.Rollbacks {
				kind := "rollback"
				if r.Natural {
					kind = "rollback (natural)"
				} else if i > 0 {
					kind = "rollback (fallback)"
				}
				fmt.Fprintf(&sb, "    %s: %s %s\n", kind, r.Provider, r.Action)
				writeArgs(&sb, r.Args, "        ")
			}
			continue
		}
		fmt.Fprintf(&sb, "  gate %s: %s", v.Name, v.GateKind)
		if v.Schedule != "" {
			sb.WriteString(" " + v.Schedule)
		}
		sb.WriteString("\n")
		for _, c := range v.Checks {
			fmt.Fprintf(&sb, "    check %s: %s %s, holds when %s\n", c.Name, c.Probe.Provider, c.Probe.Action, c.Threshold)
			writeArgs(&sb, c.Probe.Args, "        ")
		}
	}
	_, err := io.WriteString(w, rb.red.Redact(sb.String()))
	return err
}

func gateSchedule(g *runbook.Gate) string {
	var parts []string
	add := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }
	if a := g.Approval; a != nil {
		add("%q", a.Message)
		if len(a.Approvers) > 0 {
			add("approvers %s", strings.Join(a.Approvers, ", "))
		}
		if a.Quorum > 1 {
			add("quorum %d", a.Quorum)
		}
		if a.SeparateFrom != "" {
			add("not the %s", a.SeparateFrom)
		}
		if a.Timeout > 0 {
			answer := "deny"
			if a.OnTimeout {
				answer = "approve"
			}
			add("timeout %s then %s", a.Timeout, answer)
		}
		return strings.Join(parts, ", ")
	}
	if g.Duration > 0 {
		add("for %s", g.Duration)
	}
	if g.Count > 0 {
		add("%d samples", g.Count)
	}
	if g.Every > 0 {
		add("every %s", g.Every)
	}
	if g.Timeout > 0 {
		add("timeout %s", g.Timeout)
	}
	if g.From != "" || g.Until != "" {
		from, until := g.From, g.Until
		if from == "" {
			from = "start"
		}
		if until == "" {
			until = "end"
		}
		add("from %s until %s", from, until)
	}
	return strings.Join(parts, ", ")
}

func writeArgs(sb *strings.Builder, args []Arg, indent string) {
	for _, a := range args {
		fmt.Fprintf(sb, "%s%s = %s\n", indent, a.Name, a.Value)
	}
}
