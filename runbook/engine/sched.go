package engine

// Node is what the [Scheduler] knows of a node of a plan.
type Node struct {
	// Deps are the indexes of the nodes it waits for.
	Deps []int
	// Guard marks a guard gate: it takes no parallelism slot, starts as
	// soon as its dependencies are done, and is not waited for by the end
	// of the run (its span ends with Until's completion, or when nothing
	// else is left).
	Guard bool
	// Until is, for a guard, the index of the node whose completion ends
	// its span; -1 for none.
	Until int
}

// Scheduler decides which node of a plan starts next, the same way for
// every runner: a node is ready once all its dependencies succeeded (or
// were skipped or only warned); among ready nodes the lowest declaration
// index starts first; ready guards start at once, others only while fewer
// than the parallelism are running. It does no I/O and starts nothing
// itself: the runner asks [Scheduler.Next], runs the node, and reports its
// end with [Scheduler.Ended].
type Scheduler struct {
	nodes     []Node
	remaining []int
	outs      [][]int
	until     [][]int // until[i]: the guards whose span ends when i completes
	skip      []bool
	ready     intHeap
	guards    intHeap
	par       int
	// running counts started nodes that have not ended; runningGuards
	// the guards among them.
	running, runningGuards int
	// pending counts the non-guard nodes not yet ended.
	pending int
	stopped bool
}

// NewScheduler returns the scheduler of nodes, at most parallelism of them
// (guards aside) running at once. Nodes whose index is true in done (a
// resumed run's completed nodes; nil for none) never start and do not hold
// up their dependents.
func NewScheduler(nodes []Node, done []bool, parallelism int) *Scheduler {
	s := &Scheduler{nodes: nodes, remaining: make([]int, len(nodes)), outs: make([][]int, len(nodes)),
		until: make([][]int, len(nodes)), skip: done, par: max(parallelism, 1)}
	isDone := func(i int) bool { return done != nil && done[i] }
	// The dependents' lists share one allocation: a walk costs no
	// allocation per node.
	counts := make([]int, len(nodes))
	total := 0
	for i, n := range nodes {
		if !isDone(i) {
			for _, d := range n.Deps {
				counts[d]++
			}
			total += len(n.Deps)
		}
	}
	slab := make([]int, total)
	for i, c := range counts {
		s.outs[i], slab = slab[:0:c], slab[c:]
	}
	for i, n := range nodes {
		if n.Guard && n.Until >= 0 {
			s.until[n.Until] = append(s.until[n.Until], i)
		}
		if isDone(i) {
			continue
		}
		for _, d := range n.Deps {
			s.outs[d] = append(s.outs[d], i)
			if !isDone(d) {
				s.remaining[i]++
			}
		}
		if !n.Guard {
			s.pending++
		}
		if s.remaining[i] == 0 {
			s.push(i)
		}
	}
	return s
}

func (s *Scheduler) push(i int) {
	if s.nodes[i].Guard {
		s.guards.push(i)
	} else {
		s.ready.push(i)
	}
}

// Next returns the node to start now, and false when none may start: none
// is ready, the parallelism is used up, or the scheduler was stopped.
// Ready guards come first. The runner must start the node it is given.
func (s *Scheduler) Next() (int, bool) {
	if s.stopped {
		return 0, false
	}
	if len(s.guards) > 0 {
		s.running++
		s.runningGuards++
		return s.guards.pop(), true
	}
	if len(s.ready) == 0 || s.running-s.runningGuards >= s.par {
		return 0, false
	}
	s.running++
	return s.ready.pop(), true
}

// Running is how many started nodes, guards aside, have not ended.
func (s *Scheduler) Running() int { return s.running - s.runningGuards }

// Lone reports that exactly one node is running, no guard among them, and
// nothing else is ready: the run is a sequence at this point, and the
// runner may run that node on its own goroutine.
func (s *Scheduler) Lone() bool {
	return s.running == 1 && s.runningGuards == 0 && len(s.ready) == 0 && len(s.guards) == 0
}

// Ended takes the end of a started node: ok when it succeeded, was
// skipped or only warned, which makes its dependents ready once their
// other dependencies are too. It returns the guards whose span the node's
// completion ends (in declaration order), for the runner to stop.
func (s *Scheduler) Ended(i int, ok bool) (endSpans []int) {
	s.running--
	if s.nodes[i].Guard {
		s.runningGuards--
		return nil
	}
	s.pending--
	if !ok {
		return nil
	}
	for _, o := range s.outs[i] {
		s.remaining[o]--
		if s.remaining[o] == 0 && (s.skip == nil || !s.skip[o]) {
			s.push(o)
		}
	}
	return s.until[i]
}

// Stop starts nothing more (the run is failing or stopping); what runs
// still ends through Ended.
func (s *Scheduler) Stop() { s.stopped = true }

// Drained reports what the runner does when [Scheduler.Next] gives
// nothing: finished (nothing runs: the walk is over), or endGuards (only
// guards run and no other node is left, or the scheduler is stopped with
// nothing else running: the runner ends every running guard's span and
// waits for them). With neither, the runner waits for the next end.
func (s *Scheduler) Drained() (finished, endGuards bool) {
	if s.running == 0 {
		return true, false
	}
	others := s.running - s.runningGuards
	return false, others == 0 && (s.pending == 0 || s.stopped)
}

// CompensationOrder is the order in which compensations run after a
// failure: first the failed steps whose own rollback undoes their failure
// (rollback_on_failure), latest failure first, then the completed nodes
// in reverse completion order. ownFail and done are in the order they
// happened.
func CompensationOrder(ownFail, done []int) []int {
	out := make([]int, 0, len(ownFail)+len(done))
	for k := len(ownFail) - 1; k >= 0; k-- {
		out = append(out, ownFail[k])
	}
	for k := len(done) - 1; k >= 0; k-- {
		out = append(out, done[k])
	}
	return out
}

// Undo is what a compensation needs to know of a node of a plan.
type Undo struct {
	// Name is the node's name.
	Name string
	// Rollbacks counts the step's compensations, explicit or natural (0
	// for a node that is not a step).
	Rollbacks int
	// Irreversible marks a step declared irreversible.
	Irreversible bool
}

// Compensations picks from order (see [CompensationOrder]) the nodes whose
// rollbacks run, in that order: the steps with at least one rollback. It
// returns their indexes and names (names is never nil: an event lists none
// as []). node(i) describes node i. An irreversible step without a
// rollback is passed over with a warning (the same words under every
// runner); other nodes without one (gates, approvals, steps with nothing to
// undo) are passed over in silence.
func Compensations(order []int, node func(i int) Undo) (todo []int, names, warnings []string) {
	names = []string{}
	for _, i := range order {
		u := node(i)
		switch {
		case u.Rollbacks > 0:
			todo = append(todo, i)
			names = append(names, u.Name)
		case u.Irreversible:
			warnings = append(warnings, u.Name+": irreversible, not compensated")
		}
	}
	return todo, names, warnings
}

// intHeap is a min-heap of node indexes.
type intHeap []int

func (h *intHeap) push(v int) {
	*h = append(*h, v)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p] <= s[i] {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *intHeap) pop() int {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(s) && s[l] < s[m] {
			m = l
		}
		if l+1 < len(s) && s[l+1] < s[m] {
			m = l + 1
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
