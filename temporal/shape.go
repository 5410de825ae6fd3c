package temporal

import (
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// Shape is the serializable part of a compiled plan: every fact the workflow
// needs to schedule it (names, kinds, edges, phases, gate parameters,
// retries, timeouts, flags), and none of the Go values (actions, probes,
// conditions), which stay on the worker. It travels in the workflow's input,
// so the workflow never rebuilds a plan from files, and Hash pins it to the
// plan the worker holds.
type Shape struct {
	Runbook string      `json:"runbook"`
	Hash    string      `json:"hash"`
	Nodes   []NodeShape `json:"nodes"`
}

// NodeShape is one node of a [Shape]: exactly one of Step and Gate is set.
type NodeShape struct {
	Name  string   `json:"name"`
	Kind  string   `json:"kind"` // "step" or "gate"
	Phase string   `json:"phase,omitempty"`
	Group string   `json:"group,omitempty"`
	Deps  []string `json:"deps,omitempty"`
	// Uses names the nodes whose outputs this node reads (declared in Go,
	// found from references in HCL).
	Uses []string   `json:"uses,omitempty"`
	Step *StepShape `json:"step,omitempty"`
	Gate *GateShape `json:"gate,omitempty"`
}

// StepShape is what the workflow knows of a step.
type StepShape struct {
	Timeout           time.Duration  `json:"timeout,omitempty"`
	Retry             runbook.Retry  `json:"retry"`
	RollbackTimeout   time.Duration  `json:"rollback_timeout,omitempty"`
	RollbackRetry     *runbook.Retry `json:"rollback_retry,omitempty"`
	OnFail            runbook.Policy `json:"on_fail,omitempty"`
	Rollbacks         int            `json:"rollbacks"` // explicit or natural, in fallback order
	ReadOnly          bool           `json:"read_only,omitempty"`
	Idempotent        bool           `json:"idempotent,omitempty"`
	Irreversible      bool           `json:"irreversible,omitempty"`
	PointOfNoReturn   bool           `json:"point_of_no_return,omitempty"`
	RollbackOnFailure bool           `json:"rollback_on_failure,omitempty"`
	Conditional       bool           `json:"conditional,omitempty"`
}

// GateShape is what the workflow knows of a gate.
type GateShape struct {
	Kind           runbook.GateKind  `json:"kind"`
	Every          time.Duration     `json:"every,omitempty"`
	InitialDelay   time.Duration     `json:"initial_delay,omitempty"`
	Duration       time.Duration     `json:"duration,omitempty"`
	Count          int               `json:"count,omitempty"`
	Timeout        time.Duration     `json:"timeout,omitempty"`
	OnFail         runbook.Policy    `json:"on_fail,omitempty"`
	OnInconclusive runbook.Policy    `json:"on_inconclusive,omitempty"`
	From           string            `json:"from,omitempty"`
	Until          string            `json:"until,omitempty"`
	Checks         []CheckShape      `json:"checks,omitempty"`
	Approval       *runbook.Approval `json:"approval,omitempty"`
}

// CheckShape is what the workflow knows of a check: its schedule and
// limits. Its probe and conditions run in the sample activity.
type CheckShape struct {
	Name              string               `json:"name,omitempty"`
	Threshold         string               `json:"threshold,omitempty"`
	Message           string               `json:"message,omitempty"`
	Every             time.Duration        `json:"every,omitempty"`
	InitialDelay      time.Duration        `json:"initial_delay,omitempty"`
	Count             int                  `json:"count,omitempty"`
	FailureLimit      int                  `json:"failure_limit,omitempty"`
	Tolerate          int                  `json:"tolerate,omitempty"`
	InconclusiveLimit int                  `json:"inconclusive_limit,omitempty"`
	ErrorLimit        int                  `json:"error_limit,omitempty"`
	NoData            runbook.NoDataPolicy `json:"no_data,omitempty"`
	DryRun            bool                 `json:"dry_run,omitempty"`
}

// ShapeOf returns the shape of p.
func ShapeOf(p *runbook.Plan) (Shape, error) {
	if p == nil {
		return Shape{}, fmt.Errorf("temporal: nil plan: compile the runbook first")
	}
	s := Shape{Runbook: p.Name, Hash: p.Hash()}
	for _, n := range p.Nodes() {
		ns := NodeShape{Name: n.Name, Kind: n.Kind(), Phase: n.Phase, Group: n.Group, Deps: append([]string(nil), n.Deps...)}
		if st := n.Step; st != nil {
			ns.Uses = append([]string(nil), st.Uses...)
			ro, _ := st.Action.(runbook.ReadOnly)
			ns.Step = &StepShape{
				Timeout: st.Timeout, Retry: st.Retry, RollbackTimeout: st.RollbackTimeout, RollbackRetry: st.RollbackRetry,
				OnFail: st.OnFail, Rollbacks: len(p.Rollbacks(n.Name)), ReadOnly: ro != nil && ro.ReadOnly(),
				Idempotent: st.Idempotent, Irreversible: st.Irreversible, PointOfNoReturn: st.PointOfNoReturn,
				RollbackOnFailure: st.RollbackOnFailure, Conditional: st.When != nil,
			}
		} else {
			g := n.Gate
			ns.Uses = append([]string(nil), g.Uses...)
			gs := &GateShape{Kind: g.Kind, Every: g.Every, InitialDelay: g.InitialDelay, Duration: g.Duration, Count: g.Count,
				Timeout: g.Timeout, OnFail: g.OnFail, OnInconclusive: g.OnInconclusive, From: g.From, Until: g.Until}
			if g.Approval != nil {
				a := *g.Approval
				a.Approvers = append([]string(nil), a.Approvers...)
				gs.Approval = &a
			}
			for _, c := range g.Checks {
				gs.Checks = append(gs.Checks, CheckShape{Name: c.Name, Threshold: c.Threshold, Message: c.Message,
					Every: c.Every, InitialDelay: c.InitialDelay, Count: c.Count, FailureLimit: c.FailureLimit,
					Tolerate: c.Tolerate, InconclusiveLimit: c.InconclusiveLimit, ErrorLimit: c.ErrorLimit,
					NoData: c.NoData, DryRun: c.DryRun})
			}
			ns.Gate = gs
		}
		s.Nodes = append(s.Nodes, ns)
	}
	return s, nil
}

// validate checks a shape received by the workflow: names unique, edges
// known and pointing backwards, exactly one of step or gate.
func (s Shape) validate() error {
	if s.Runbook == "" || s.Hash == "" {
		return fmt.Errorf("temporal: the workflow input has no runbook name or plan hash: start runs with Client.Start")
	}
	seen := map[string]bool{}
	for i, n := range s.Nodes {
		if n.Name == "" || seen[n.Name] {
			return fmt.Errorf("temporal: node #%d: empty or duplicate name %q", i+1, n.Name)
		}
		if (n.Step == nil) == (n.Gate == nil) {
			return fmt.Errorf("temporal: node %s: exactly one of step and gate must be set", n.Name)
		}
		seen[n.Name] = true
	}
	for _, n := range s.Nodes {
		for _, d := range n.Deps {
			if !seen[d] || d == n.Name {
				return fmt.Errorf("temporal: node %s depends on unknown node %q", n.Name, d)
			}
		}
	}
	return nil
}
