package main

import (
	"sort"

	"github.com/handrail-dev/handrail/runbook"
)

// leftToUndo lists what a rollback of the run would compensate, in the
// order it would: completed steps with a rollback, newest first. Steps that
// completed at the same instant (parallel branches on a simulated clock,
// whose journal order is a goroutine race) are ordered as the executor
// orders them — by dependency rank, then declaration order — so that apply,
// show, runs and resume name the same order every time. plan may be nil
// (then the journal's order of such ties is kept).
func leftToUndo(st *runbook.RunState, plan *runbook.Plan) []string {
	done := append([]string(nil), st.Succeeded...)
	if plan != nil {
		rank := planRanks(plan)
		idx := func(n string) int {
			if node, ok := plan.Node(n); ok {
				return node.Index
			}
			return len(rank)
		}
		for lo := 0; lo < len(done); {
			hi := lo + 1
			for hi < len(done) && st.Ended[done[hi]].Equal(st.Ended[done[lo]]) {
				hi++
			}
			g := done[lo:hi]
			sort.SliceStable(g, func(a, b int) bool {
				if rank[g[a]] != rank[g[b]] {
					return rank[g[a]] < rank[g[b]]
				}
				return idx(g[a]) < idx(g[b])
			})
			lo = hi
		}
	}
	comp := map[string]bool{}
	for _, c := range st.Compensated {
		comp[c] = true
	}
	var out []string
	for i := len(done) - 1; i >= 0; i-- {
		n := done[i]
		if comp[n] || !st.Compensable[n] {
			continue
		}
		if plan != nil && len(plan.Rollbacks(n)) == 0 {
			continue
		}
		out = append(out, n)
	}
	return out
}

// planRanks returns each node's rank: the length of the longest dependency
// chain ending at it.
func planRanks(plan *runbook.Plan) map[string]int {
	rank := map[string]int{}
	// Nodes are in declaration order and dependencies point backwards.
	for _, n := range plan.Nodes() {
		r := 0
		for _, d := range n.Deps {
			r = max(r, rank[d]+1)
		}
		rank[n.Name] = r
	}
	return rank
}
