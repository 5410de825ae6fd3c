package runbook

// Interceptor replaces the actions, rollbacks and checks of a plan's nodes,
// for tests and instrumentation: failure injection, tracing, timing. Each
// function receives the node (as compiled in the original plan) and the
// original value, and returns its replacement or the original. Nil fields
// leave that part alone.
type Interceptor struct {
	// Action replaces a step's action.
	Action func(n *Node, a Action) Action
	// Rollback replaces one of a step's compensations; fallback is its
	// position in the fallback order.
	Rollback func(n *Node, fallback int, rb Rollback) Rollback
	// Check replaces one check of a check, soak or guard gate (its probe,
	// its conditions or both).
	Check func(n *Node, index int, c Check) Check
}

// Intercept returns a copy of p whose actions, rollbacks and checks are
// replaced through ic. The copy runs the same graph and has the same
// [Plan.Dump], [Plan.Hash] and [Plan.NodeHashes], so it can resume or roll back runs of p.
// Natural rollbacks and the read-only mark are resolved from the original
// actions before they are replaced; p itself is not modified.
func (p *Plan) Intercept(ic Interceptor) *Plan {
	p.NodeHashes() // the copy keeps p's identity, whatever its wrappers say
	q := *p
	q.nodes = make([]*Node, len(p.nodes))
	for i, n := range p.nodes {
		c := *n
		if n.Step != nil {
			s := *n.Step
			if ic.Action != nil && s.Action != nil {
				s.Action = ic.Action(n, s.Action)
			}
			c.rbs = append([]Rollback(nil), n.rbs...)
			if ic.Rollback != nil {
				for k, rb := range c.rbs {
					c.rbs[k] = ic.Rollback(n, k, rb)
				}
			}
			c.Step = &s
		}
		if n.Gate != nil {
			g := *n.Gate
			g.Checks = append([]Check(nil), n.Gate.Checks...)
			if ic.Check != nil {
				for k := range g.Checks {
					g.Checks[k] = ic.Check(n, k, g.Checks[k])
				}
			}
			c.Gate = &g
		}
		q.nodes[i] = &c
	}
	return &q
}
