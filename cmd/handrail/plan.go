package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/runbook"
)

// planNodeJSON is one node of `plan -json`.
type planNodeJSON struct {
	Name          string          `json:"name"`
	Kind          string          `json:"kind"`
	GateKind      string          `json:"gate_kind,omitempty"`
	Phase         string          `json:"phase,omitempty"`
	After         []string        `json:"after,omitempty"`
	Action        *hcl.Call       `json:"action,omitempty"`
	Rollbacks     []hcl.Call      `json:"rollbacks,omitempty"`
	Checks        []hcl.CheckView `json:"checks,omitempty"`
	Budget        string          `json:"budget,omitempty"`
	Timeout       string          `json:"timeout,omitempty"`
	Retry         string          `json:"retry,omitempty"`
	Duration      string          `json:"duration,omitempty"`
	Flags         []string        `json:"flags,omitempty"`
	PlannedStart  string          `json:"planned_start"`
	AfterNoReturn bool            `json:"after_point_of_no_return,omitempty"`
}

type planJSONDoc struct {
	Runbook     string         `json:"runbook"`
	Description string         `json:"description,omitempty"`
	Window      string         `json:"window,omitempty"`
	Budget      string         `json:"budget"`
	OverWindow  bool           `json:"over_window"`
	PlanHash    string         `json:"plan_hash"`
	Nodes       []planNodeJSON `json:"nodes"`
}

func stepFlags(s *runbook.Step) []string {
	var f []string
	if s.Idempotent {
		f = append(f, "idempotent")
	}
	if s.Irreversible {
		f = append(f, "irreversible")
	}
	if s.PointOfNoReturn {
		f = append(f, "point_of_no_return")
	}
	if s.RollbackOnFailure {
		f = append(f, "rollback_on_failure")
	}
	if s.When != nil {
		f = append(f, "conditional")
	}
	if s.OnFail != "" && s.OnFail != runbook.PolicyRollback {
		f = append(f, "on_fail="+string(s.OnFail))
	}
	return f
}

func durStr(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return d.String()
}

func planJSON(rb *hcl.Runbook) planJSONDoc {
	p := rb.Plan()
	doc := planJSONDoc{Runbook: p.Name, Description: p.Description, Window: durStr(p.Window), Budget: p.Budget().String(), PlanHash: p.Hash()}
	doc.OverWindow = p.Window > 0 && p.Budget() > p.Window
	views := map[string]hcl.NodeView{}
	for _, v := range rb.Describe() {
		views[v.Name] = v
	}
	var cum time.Duration
	ponr := false
	for _, n := range p.Nodes() {
		v := views[n.Name]
		j := planNodeJSON{Name: n.Name, Kind: n.Kind(), Phase: n.Phase, After: n.Deps, Action: v.Action, Rollbacks: v.Rollbacks, Checks: v.Checks, PlannedStart: cum.String(), AfterNoReturn: ponr}
		if n.Step != nil {
			j.Budget, j.Timeout, j.Retry, j.Flags = durStr(n.Step.Budget), durStr(n.Step.Timeout), n.Step.Retry.String(), stepFlags(n.Step)
			cum += n.Step.Budget
			if n.Step.PointOfNoReturn {
				ponr = true
			}
		} else {
			j.GateKind = string(n.Gate.Kind)
			j.Budget, j.Timeout, j.Duration = durStr(n.Gate.Budget), durStr(n.Gate.Timeout), durStr(n.Gate.Duration)
			if n.Gate.Kind != runbook.GateGuard {
				cum += n.Gate.Budget
			}
		}
		doc.Nodes = append(doc.Nodes, j)
	}
	return doc
}

func callLine(c *hcl.Call) string {
	return strings.TrimSpace(c.Provider + " " + c.Action)
}

func writeArgs(w io.Writer, args []hcl.Arg, indent string) {
	for _, a := range args {
		v := strings.ReplaceAll(a.Value, "\n", "\n"+indent+"  ")
		fmt.Fprintf(w, "%s%s = %s\n", indent, a.Name, v)
	}
}

// writePlanText prints the ordered plan: phases, nodes with provider,
// action, arguments, budget, timeout, retry, flags, the rollback that would
// run, the point of no return, and the total budget against the window.
func writePlanText(w io.Writer, rb *hcl.Runbook, color bool) {
	p := rb.Plan()
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + cReset
	}
	fmt.Fprintf(w, "%s %s\n", paint(cBold, "Runbook"), paint(cBold, p.Name))
	if p.Description != "" {
		fmt.Fprintf(w, "  %s\n", p.Description)
	}
	views := map[string]hcl.NodeView{}
	for _, v := range rb.Describe() {
		views[v.Name] = v
	}
	phase := "\x00"
	var cum time.Duration
	ponrShown := false
	nodes := p.Nodes()
	for i, n := range nodes {
		if n.Phase != phase {
			phase = n.Phase
			if phase != "" {
				fmt.Fprintf(w, "\n%s %s\n", paint(cBold, "phase"), paint(cBold, phase))
			} else {
				fmt.Fprintln(w)
			}
		}
		v := views[n.Name]
		stamp := fmt.Sprintf("%-9s", planStamp(cum))
		if n.Step != nil {
			s := n.Step
			fmt.Fprintf(w, "  %s %2d. step %s", paint(cDim, stamp), i+1, paint(cBold, n.Name))
			if v.Action != nil {
				fmt.Fprintf(w, "  (%s)", callLine(v.Action))
			}
			fmt.Fprintln(w)
			var meta []string
			if s.Budget > 0 {
				meta = append(meta, "budget "+s.Budget.String())
			}
			if s.Timeout > 0 {
				meta = append(meta, "timeout "+s.Timeout.String())
			}
			if r := s.Retry.String(); r != "" {
				meta = append(meta, "retry "+r)
			}
			meta = append(meta, stepFlags(s)...)
			if len(n.Deps) > 1 || (len(n.Deps) == 1 && i > 0 && nodes[i-1].Name != n.Deps[0]) {
				meta = append(meta, "after "+strings.Join(n.Deps, ", "))
			}
			if len(meta) > 0 {
				fmt.Fprintf(w, "          %s\n", paint(cDim, strings.Join(meta, " · ")))
			}
			if v.Action != nil {
				writeArgs(w, v.Action.Args, "          ")
			}
			switch {
			case len(v.Rollbacks) > 0:
				for k, r := range v.Rollbacks {
					label := "rollback"
					if r.Natural {
						label = "rollback (natural)"
					} else if k > 0 {
						label = fmt.Sprintf("fallback %d", k)
					}
					fmt.Fprintf(w, "          %s %s\n", paint(cYellow, "↩ "+label+":"), callLine(&r))
					writeArgs(w, r.Args, "              ")
				}
			case s.Irreversible:
				fmt.Fprintf(w, "          %s\n", paint(cRed, "↩ irreversible: nothing to roll back"))
			case len(p.Rollbacks(n.Name)) > 0:
				fmt.Fprintf(w, "          %s\n", paint(cYellow, "↩ rollback: Go function"))
			}
			cum += s.Budget
			if s.PointOfNoReturn && !ponrShown {
				ponrShown = true
				fmt.Fprintf(w, "  %s\n", paint(cRed+cBold, "──── point of no return: after this step a failure halts the run; nothing is rolled back automatically ────"))
			}
			continue
		}
		g := n.Gate
		desc := string(g.Kind)
		switch g.Kind {
		case runbook.GateSoak:
			if g.Duration > 0 {
				desc += " " + g.Duration.String()
			}
			if g.Every > 0 {
				desc += " every " + g.Every.String()
			}
		case runbook.GateGuard:
			desc += fmt.Sprintf(" from %s until %s", orRunEdge(g.From, "start"), orRunEdge(g.Until, "end"))
		case runbook.GateApproval:
			if g.Approval != nil && g.Approval.Timeout > 0 {
				desc += fmt.Sprintf(" (timeout %s, then %s)", g.Approval.Timeout, map[bool]string{true: "approve", false: "deny"}[g.Approval.OnTimeout])
			}
		}
		fmt.Fprintf(w, "  %s %2d. gate %s  (%s)\n", paint(cDim, stamp), i+1, paint(cBold, n.Name), desc)
		if g.Approval != nil {
			fmt.Fprintf(w, "          asks: %s\n", g.Approval.Message)
		}
		for _, c := range v.Checks {
			fmt.Fprintf(w, "          check %s: %s, holds when %s\n", c.Name, callLine(&c.Probe), c.Threshold)
			writeArgs(w, c.Probe.Args, "              ")
		}
		onFail := g.OnFail
		if onFail == "" {
			onFail = runbook.PolicyRollback
		}
		fmt.Fprintf(w, "          %s\n", paint(cDim, "on_fail "+string(onFail)))
		if g.Kind != runbook.GateGuard {
			b := g.Budget
			if b == 0 {
				b = g.Duration
			}
			cum += b
		}
	}
	fmt.Fprintln(w)
	total := p.Budget()
	line := fmt.Sprintf("Planned budget %s", total)
	if p.Window > 0 {
		line += fmt.Sprintf(" of a %s window", p.Window)
		if total > p.Window {
			line = paint(cRed, line+": OVER THE WINDOW by "+(total-p.Window).String())
		} else {
			line += fmt.Sprintf(" (%s to spare)", p.Window-total)
		}
	}
	fmt.Fprintf(w, "%s. %d nodes. Plan %.12s.\n", line, len(p.Nodes()), p.Hash())
}

func orRunEdge(s, def string) string {
	if s == "" {
		return "the run's " + def
	}
	return s
}

// planStamp renders a planned start like the seed's timeline: T+1:10 is one
// hour and ten minutes in (seconds only when there are any).
func planStamp(d time.Duration) string {
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if sec != 0 {
		return fmt.Sprintf("T+%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("T+%d:%02d", h, m)
}
