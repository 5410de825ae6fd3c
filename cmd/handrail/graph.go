package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/handrail-dev/handrail/runbook"
)

// writeDOT writes the plan as a Graphviz digraph: phases as clusters, steps
// as boxes, gates as hexagons (guards dotted), dependency edges solid, and
// each step's rollback as a dashed edge to a note naming it.
func writeDOT(w io.Writer, p *runbook.Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotID(p.Name))
	b.WriteString("  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n")
	fmt.Fprintf(&b, "  label=%s; labelloc=t;\n", dotQuote(fmt.Sprintf("%s (window %s, budget %s)", p.Name, p.Window, p.Budget())))
	phases := map[string][]*runbook.Node{}
	var order []string
	for _, n := range p.Nodes() {
		if _, ok := phases[n.Phase]; !ok {
			order = append(order, n.Phase)
		}
		phases[n.Phase] = append(phases[n.Phase], n)
	}
	for ci, ph := range order {
		indent := "  "
		if ph != "" {
			fmt.Fprintf(&b, "  subgraph cluster_%d {\n    label=%s; style=rounded; color=gray60;\n", ci, dotQuote(ph))
			indent = "    "
		}
		for _, n := range phases[ph] {
			fmt.Fprintf(&b, "%s%s [%s];\n", indent, dotQuote(n.Name), dotNodeAttrs(n))
		}
		if ph != "" {
			b.WriteString("  }\n")
		}
	}
	for _, n := range p.Nodes() {
		for _, d := range n.Deps {
			fmt.Fprintf(&b, "  %s -> %s;\n", dotQuote(d), dotQuote(n.Name))
		}
		if n.Gate != nil && n.Gate.Kind == runbook.GateGuard && n.Gate.Until != "" {
			fmt.Fprintf(&b, "  %s -> %s [style=dotted, arrowhead=none, label=\"until\"];\n", dotQuote(n.Name), dotQuote(n.Gate.Until))
		}
		if n.Step != nil {
			for i, rb := range p.Rollbacks(n.Name) {
				id := fmt.Sprintf("%s/rollback%d", n.Name, i)
				label := rollbackLabel(rb, i)
				fmt.Fprintf(&b, "  %s [shape=note, style=dashed, color=firebrick, fontcolor=firebrick, label=%s];\n", dotQuote(id), dotQuote(label))
				fmt.Fprintf(&b, "  %s -> %s [style=dashed, color=firebrick, label=\"rollback\"];\n", dotQuote(n.Name), dotQuote(id))
			}
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func rollbackLabel(rb runbook.Rollback, i int) string {
	d := runbook.Describe(rb)
	label := strings.TrimSpace(d.Provider + " " + d.Action)
	if label == "" {
		label = "go func"
	}
	if i > 0 {
		label = fmt.Sprintf("fallback %d: %s", i, label)
	}
	return "undo: " + label
}

func dotNodeAttrs(n *runbook.Node) string {
	label := n.Name
	if n.Step != nil {
		d := runbook.Describe(n.Step.Action)
		if a := strings.TrimSpace(d.Provider + " " + d.Action); a != "" {
			label += "\\n" + a
		}
		if n.Step.Budget > 0 {
			label += "\\n" + n.Step.Budget.String()
		}
		attrs := fmt.Sprintf("shape=box, style=\"rounded,filled\", fillcolor=\"#eef4ff\", label=%s", dotQuote(label))
		if n.Step.PointOfNoReturn {
			attrs += ", peripheries=2, color=firebrick"
		}
		return attrs
	}
	g := n.Gate
	label += "\\n" + string(g.Kind)
	if g.Duration > 0 {
		label += " " + g.Duration.String()
	}
	style := "filled"
	if g.Kind == runbook.GateGuard {
		style = "filled,dotted"
	}
	return fmt.Sprintf("shape=hexagon, style=%q, fillcolor=\"#fff6e0\", label=%s", style, dotQuote(label))
}

func dotID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	if b.Len() == 0 || (b.String()[0] >= '0' && b.String()[0] <= '9') {
		return "runbook_" + b.String()
	}
	return b.String()
}

func dotQuote(s string) string {
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}

// writeMermaid writes the plan as a Mermaid flowchart.
func writeMermaid(w io.Writer, p *runbook.Plan) error {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	ids := map[string]string{}
	for i, n := range p.Nodes() {
		ids[n.Name] = fmt.Sprintf("n%d", i)
	}
	phase := ""
	open := false
	for _, n := range p.Nodes() {
		if n.Phase != phase {
			if open {
				b.WriteString("  end\n")
				open = false
			}
			phase = n.Phase
			if phase != "" {
				fmt.Fprintf(&b, "  subgraph %s[%s]\n", "ph_"+dotID(phase), mermaidText(phase))
				open = true
			}
		}
		id := ids[n.Name]
		if n.Step != nil {
			fmt.Fprintf(&b, "    %s[%s]\n", id, mermaidText(n.Name))
		} else {
			fmt.Fprintf(&b, "    %s{{%s}}\n", id, mermaidText(n.Name+" ("+string(n.Gate.Kind)+")"))
		}
	}
	if open {
		b.WriteString("  end\n")
	}
	for _, n := range p.Nodes() {
		for _, d := range n.Deps {
			fmt.Fprintf(&b, "  %s --> %s\n", ids[d], ids[n.Name])
		}
		if n.Step != nil {
			for i, rb := range p.Rollbacks(n.Name) {
				rid := fmt.Sprintf("%s_rb%d", ids[n.Name], i)
				fmt.Fprintf(&b, "  %s>%s]\n", rid, mermaidText(rollbackLabel(rb, i)))
				fmt.Fprintf(&b, "  %s -.->|rollback| %s\n", ids[n.Name], rid)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mermaidText(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}
