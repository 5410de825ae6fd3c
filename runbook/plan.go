package runbook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/runbook/engine"
)

// Retry says how often and how patiently a failed attempt is retried.
// The zero value makes one attempt.
type Retry struct {
	// Attempts is the total number of attempts (0 and 1 mean one).
	Attempts int
	// Delay before the second attempt (default 1s).
	Delay time.Duration
	// Backoff multiplies the delay after each attempt (default 2).
	Backoff float64
	// MaxDelay caps the delay (default none).
	MaxDelay time.Duration
	// Jitter is the fraction of the delay added or removed at random
	// (0 to 1; default 0).
	Jitter float64
}

// MaxAttempts returns the total number of attempts (at least 1).
func (r Retry) MaxAttempts() int { return r.attempts() }

// DelayAfter returns the wait before the next attempt after attempt n
// failed, with the defaults applied; jitter is left out. Runners that do not
// use the Executor (Temporal) share the executor's backoff this way.
func (r Retry) DelayAfter(n int) time.Duration { return r.delay(n, 0.5) }

func (r Retry) attempts() int {
	if r.Attempts < 1 {
		return 1
	}
	return r.Attempts
}

// backoff is the policy's waits as the engine computes them, for both
// runners.
func (r Retry) backoff() engine.Backoff {
	return engine.Backoff{Delay: r.Delay, Factor: r.Backoff, Max: r.MaxDelay, Jitter: r.Jitter}
}

// delay returns the wait before attempt n+1 after attempt n failed, given a
// random number in [0,1).
func (r Retry) delay(n int, rnd float64) time.Duration { return r.backoff().After(n, rnd) }

// String describes the policy as in plan dumps ("" for a single attempt).
func (r Retry) String() string {
	if r.attempts() <= 1 {
		return ""
	}
	b := r.backoff().Resolved()
	s := fmt.Sprintf("attempts=%d delay=%s backoff=%g", r.attempts(), b.Delay, b.Factor)
	if r.MaxDelay > 0 {
		s += " max_delay=" + r.MaxDelay.String()
	}
	if r.Jitter > 0 {
		s += fmt.Sprintf(" jitter=%g", r.Jitter)
	}
	return s
}

// Step does something to the world.
type Step struct {
	Name   string
	Action Action
	// Rollbacks are the step's compensations, tried in order as fallbacks:
	// the second runs only if the first fails after its retries. When empty,
	// the action's natural rollback (see [NaturalRollback]) is used.
	Rollbacks []Rollback
	// Irreversible marks a step that changes the world and has no rollback.
	Irreversible bool
	// Idempotent steps may be run again when a resumed run finds them in
	// doubt (started, never finished).
	Idempotent bool
	// PointOfNoReturn: once this step has completed, a failure no longer
	// compensates automatically; the run halts and says how to roll back.
	PointOfNoReturn bool
	// RollbackOnFailure runs this step's own rollback when the step itself
	// fails (a half-applied migration).
	RollbackOnFailure bool
	// RollbackIdempotent declares that the step's explicit rollbacks may
	// run twice with the effect of once, so that a compensation found in
	// doubt after a crash (started, never recorded as finished) is run
	// again without asking. A natural rollback (see [NaturalRollback]) is
	// idempotent by contract and needs no declaration; a rollback value
	// can also declare itself with [IdempotentRollback].
	RollbackIdempotent bool
	// Lasting names the parts of the world this step's effect may leave
	// behind after a rollback (world snapshot path prefixes such as
	// "slack/messages"), on top of its action type's defaults: what a
	// rollback matrix does not count against "restored".
	Lasting []string
	// Timeout bounds each attempt.
	Timeout time.Duration
	// Budget is the planned duration, for the timeline.
	Budget time.Duration
	Retry  Retry
	// RollbackTimeout bounds each compensation attempt (default: the
	// executor's). RollbackRetry retries it (default: the executor's).
	RollbackTimeout time.Duration
	RollbackRetry   *Retry
	// OnFail says what the step's failure does to the run (default
	// rollback; pause and continue are allowed too).
	OnFail Policy
	// When, if set, decides at run time whether the step runs; a skipped
	// step counts as done for its dependants.
	When func(ctx context.Context, env *Env) (bool, error)
	// DependsOn adds ordering edges. Uses names the steps whose outputs this
	// step (or its rollbacks) read: they must come earlier in the plan.
	DependsOn []string
	Uses      []string
	// Description is free text for people.
	Description string
}

// NaturalRollback is implemented by actions that know how to undo
// themselves (an image upgrade puts the previous image back). It returns nil
// when this instance has nothing to undo.
type NaturalRollback interface {
	NaturalRollback() Rollback
}

// IdempotentRollback is implemented by rollbacks that know whether running
// them twice leaves the world as running them once (restoring a recorded
// state is; "scale up by one" is not).
type IdempotentRollback interface {
	IdempotentRollback() bool
}

// rollbacksIdempotent reports whether every compensation of s may be run
// again when found in doubt: natural rollbacks are idempotent by contract
// (they restore what the step checkpointed), explicit ones only when the
// step or the rollback declares it.
func (s *Step) rollbacksIdempotent(rbs []Rollback) bool {
	if len(s.Rollbacks) == 0 || s.RollbackIdempotent {
		return true
	}
	for _, rb := range rbs {
		ir, ok := rb.(IdempotentRollback)
		if !ok || !ir.IdempotentRollback() {
			return false
		}
	}
	return true
}

// compensatesOwnFailure reports whether the step's own rollback runs when
// the step itself fails: when it opted in (RollbackOnFailure), and when it
// checkpointed what its rollback needs before changing the world and its
// rollbacks are idempotent (a failure after the effect — a lost answer, a
// timeout — may have changed the world; restoring the checkpointed state
// is harmless if it did not).
func (n *Node) compensatesOwnFailure(checkpointed bool) bool {
	if n.Step == nil || len(n.rbs) == 0 {
		return false
	}
	return n.Step.RollbackOnFailure || (checkpointed && n.rbIdem)
}

// rollbacks returns the compensations of s: explicit ones, else the
// action's natural one.
func (s *Step) rollbacks() []Rollback {
	if len(s.Rollbacks) > 0 {
		return s.Rollbacks
	}
	if nr, ok := s.Action.(NaturalRollback); ok {
		if rb := nr.NaturalRollback(); rb != nil {
			return []Rollback{rb}
		}
	}
	return nil
}

// readOnly reports whether the step's action declares it changes nothing.
func (s *Step) readOnly() bool {
	ro, ok := s.Action.(ReadOnly)
	return ok && ro.ReadOnly()
}

// Node is one vertex of a compiled [Plan]: a step or a gate.
type Node struct {
	Name  string
	Phase string
	// Index is the node's position in declaration order.
	Index int
	// Exactly one of Step and Gate is set.
	Step *Step
	Gate *Gate
	// Deps are the nodes that must succeed before this one starts, in
	// declaration order.
	Deps []string
	// Group names the parallel group the node belongs to, if any.
	Group string

	deps []int
	outs []int
	// rbs and ro are resolved once at build time: the step's compensations
	// (explicit or natural) and whether its action is read-only.
	rbs []Rollback
	ro  bool
	// rbIdem: the compensations may be re-run when found in doubt.
	rbIdem bool
	// rank is the length of the longest dependency chain ending at the
	// node: a node always ranks above the nodes it depends on.
	rank int
}

// Kind returns "step" or "gate".
func (n *Node) Kind() string {
	if n.Gate != nil {
		return "gate"
	}
	return "step"
}

// Plan is a compiled, validated runbook: an acyclic graph of nodes. It is
// immutable and safe for concurrent use.
type Plan struct {
	Name        string
	Description string
	// Window is the time the whole runbook may take (for the timeline).
	Window time.Duration
	nodes  []*Node
	index  map[string]int
	dump   string
	hash   string

	// nodeHashes are computed on first use, and shared with intercepted
	// copies (which keep the original's identity).
	nodeHashes *nodeHashCache
}

// Nodes returns copies of the nodes, in declaration order: changing one
// (its name, dependencies, retry, timeout, checks, even its action) changes
// neither the plan nor how it runs, so a plan's behaviour always matches
// its [Plan.Hash]. The actions, rollbacks, probes and conditions inside are
// the values the plan was built from, shared, not copied.
func (p *Plan) Nodes() []*Node {
	out := make([]*Node, len(p.nodes))
	for i, n := range p.nodes {
		out[i] = n.clone()
	}
	return out
}

// Node returns a copy of the node with the given name (see [Plan.Nodes]).
func (p *Plan) Node(name string) (*Node, bool) {
	n, ok := p.node(name)
	if !ok {
		return nil, false
	}
	return n.clone(), true
}

// node returns the plan's own node with the given name.
func (p *Plan) node(name string) (*Node, bool) {
	i, ok := p.index[name]
	if !ok {
		return nil, false
	}
	return p.nodes[i], true
}

// clone returns a copy of n that shares nothing mutable with it.
func (n *Node) clone() *Node {
	c := *n
	c.Deps = slices.Clone(n.Deps)
	if n.Step != nil {
		s := *n.Step
		s.Rollbacks = slices.Clone(s.Rollbacks)
		s.DependsOn = slices.Clone(s.DependsOn)
		s.Uses = slices.Clone(s.Uses)
		if s.RollbackRetry != nil {
			r := *s.RollbackRetry
			s.RollbackRetry = &r
		}
		c.Step = &s
	}
	if n.Gate != nil {
		g := *n.Gate
		g.Checks = slices.Clone(g.Checks)
		g.DependsOn = slices.Clone(g.DependsOn)
		g.Uses = slices.Clone(g.Uses)
		if g.Approval != nil {
			a := *g.Approval
			a.Approvers = slices.Clone(a.Approvers)
			g.Approval = &a
		}
		c.Gate = &g
	}
	c.deps = slices.Clone(n.deps)
	c.outs = slices.Clone(n.outs)
	c.rbs = slices.Clone(n.rbs)
	return &c
}

// Budget returns the sum of the planned budgets of all nodes.
func (p *Plan) Budget() time.Duration {
	var total time.Duration
	for _, n := range p.nodes {
		if n.Step != nil {
			total += n.Step.Budget
		} else if n.Gate.Kind != GateGuard {
			total += n.Gate.Budget
		}
	}
	return total
}

// Hash returns a stable hash of the plan's canonical dump: two plans with the
// same hash run the same nodes in the same shape.
func (p *Plan) Hash() string { return p.hash }

// Dump returns the plan's canonical text: nodes, kinds, phases, edges,
// rollbacks, timeouts, budgets and flags, one fact per line. Plans built in
// Go and in HCL from the same runbook dump identically.
func (p *Plan) Dump() string { return p.dump }

// Rollbacks returns the compensations of the named step, in fallback order.
func (p *Plan) Rollbacks(step string) []Rollback {
	n, ok := p.node(step)
	if !ok || n.Step == nil {
		return nil
	}
	return n.rbs
}

// PlanError is one validation error of a plan. It wraps [ErrInvalidPlan].
type PlanError struct {
	Node string
	Msg  string
	// Index orders errors; it is the node's declaration index.
	Index int
}

// Error implements error.
func (e *PlanError) Error() string {
	if e.Node == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s: %s", e.Node, e.Msg)
}

// Unwrap returns [ErrInvalidPlan].
func (e *PlanError) Unwrap() error { return ErrInvalidPlan }

// Builder builds a [Plan] in Go. Nodes run in the order they are added,
// unless added inside [Builder.Parallel]. The zero value is not usable: call
// [NewBuilder].
type Builder struct {
	name, description string
	window            time.Duration
	root              *block
	cur               *block
	phase             string
	groups            int
}

type block struct {
	parallel bool
	name     string
	items    []any // *Step, *Gate or *block
}

// NewBuilder returns a builder for a runbook with the given name.
func NewBuilder(name string) *Builder {
	root := &block{}
	return &Builder{name: name, root: root, cur: root}
}

// Describe sets the runbook's description.
func (b *Builder) Describe(description string) *Builder {
	b.description = description
	return b
}

// Window sets the time the runbook may take.
func (b *Builder) Window(d time.Duration) *Builder {
	b.window = d
	return b
}

// Step adds a step. The builder keeps a copy.
func (b *Builder) Step(s Step) *Builder {
	c := s
	b.cur.items = append(b.cur.items, &phased{phase: b.phase, step: &c})
	return b
}

// Gate adds a gate. The builder keeps a copy.
func (b *Builder) Gate(g Gate) *Builder {
	c := g
	b.cur.items = append(b.cur.items, &phased{phase: b.phase, gate: &c})
	return b
}

type phased struct {
	phase string
	step  *Step
	gate  *Gate
}

// Phase adds a named phase whose nodes run in sequence. Phases group nodes
// for plans and reports.
func (b *Builder) Phase(name string, fn func(b *Builder)) *Builder {
	return b.nest(&block{name: name}, name, fn)
}

// ParallelPhase adds a named phase whose nodes run in parallel.
func (b *Builder) ParallelPhase(name string, fn func(b *Builder)) *Builder {
	b.groups++
	return b.nest(&block{name: name, parallel: true}, name, fn)
}

// Parallel adds a group whose members run in parallel: each node (or
// [Builder.Sequence]) added inside fn is one branch.
func (b *Builder) Parallel(fn func(b *Builder)) *Builder {
	b.groups++
	return b.nest(&block{parallel: true, name: fmt.Sprintf("group%d", b.groups)}, b.phase, fn)
}

// Sequence adds nodes that run one after another; inside [Builder.Parallel]
// it makes one multi-node branch.
func (b *Builder) Sequence(fn func(b *Builder)) *Builder {
	return b.nest(&block{}, b.phase, fn)
}

func (b *Builder) nest(blk *block, phase string, fn func(b *Builder)) *Builder {
	b.cur.items = append(b.cur.items, blk)
	prevCur, prevPhase := b.cur, b.phase
	b.cur, b.phase = blk, phase
	fn(b)
	b.cur, b.phase = prevCur, prevPhase
	return b
}

// Build compiles and validates the plan. Every problem is reported, joined
// in declaration order; each wraps [ErrInvalidPlan].
func (b *Builder) Build() (*Plan, error) {
	p := &Plan{Name: b.name, Description: b.description, Window: b.window, index: map[string]int{}, nodeHashes: &nodeHashCache{}}
	var errs []*PlanError
	addErr := func(idx int, node, format string, args ...any) {
		errs = append(errs, &PlanError{Node: node, Index: idx, Msg: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(b.name) == "" {
		addErr(-1, "", "the runbook has no name")
	}
	// Flatten, computing sequence edges.
	seqDeps := map[*Node][]*Node{}
	var flatten func(blk *block, group string, preds []*Node) []*Node
	flatten = func(blk *block, group string, preds []*Node) []*Node {
		if blk.parallel {
			var exits []*Node
			for _, it := range blk.items {
				exits = append(exits, flattenItem(it, blk.name, preds, flatten, p, seqDeps)...)
			}
			if len(blk.items) == 0 {
				return preds
			}
			return exits
		}
		cur := preds
		for _, it := range blk.items {
			cur = flattenItem(it, group, cur, flatten, p, seqDeps)
		}
		return cur
	}
	flatten(b.root, "", nil)

	// Names.
	for _, n := range p.nodes {
		switch {
		case strings.TrimSpace(n.Name) == "":
			addErr(n.Index, fmt.Sprintf("node #%d", n.Index+1), "has no name")
			continue
		}
		if first, dup := p.index[n.Name]; dup {
			addErr(n.Index, n.Name, "duplicate name: also declared as node #%d; names must be unique across steps and gates", first+1)
			continue
		}
		p.index[n.Name] = n.Index
	}
	// Node checks and edges.
	// edges[i] lists the nodes i depends on, possibly with repeats (a set,
	// sorted and deduplicated below).
	edges := make([][]int, len(p.nodes))
	for _, n := range p.nodes {
		if sd := seqDeps[n]; len(sd) > 0 {
			e := make([]int, len(sd), len(sd)+2)
			for i, d := range sd {
				e[i] = d.Index
			}
			edges[n.Index] = e
		}
		var dependsOn, uses []string
		errf := func(format string, args ...any) { addErr(n.Index, n.Name, format, args...) }
		if n.Step != nil {
			dependsOn, uses = n.Step.DependsOn, n.Step.Uses
			validateStep(n.Step, errf)
		} else {
			dependsOn, uses = n.Gate.DependsOn, n.Gate.Uses
			validateGate(n, n.Gate, errf)
			if n.Gate.Kind == GateGuard {
				validateSpan(p, n.Gate, errf)
			}
		}
		edges[n.Index] = append(edges[n.Index], p.refs(n, dependsOn, uses, errf)...)
	}
	p.wire(edges)
	for _, cyc := range findCycles(p) {
		names := make([]string, len(cyc))
		for i, c := range cyc {
			names[i] = p.nodes[c].Name
		}
		addErr(cyc[0], p.nodes[cyc[0]].Name, "dependency cycle: %s -> %s", strings.Join(names, " -> "), names[0])
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool {
			if errs[i].Index != errs[j].Index {
				return errs[i].Index < errs[j].Index
			}
			return errs[i].Msg < errs[j].Msg
		})
		joined := make([]error, len(errs))
		for i, e := range errs {
			joined[i] = e
		}
		return nil, errors.Join(joined...)
	}
	for _, n := range p.nodes {
		if n.Step != nil {
			n.rbs = n.Step.rollbacks()
			n.ro = n.Step.readOnly()
			n.rbIdem = n.Step.rollbacksIdempotent(n.rbs)
		}
	}
	rankNodes(p)
	p.dump = dumpPlan(p)
	sum := sha256.Sum256([]byte(p.dump))
	p.hash = hex.EncodeToString(sum[:])
	return p, nil
}

func flattenItem(it any, group string, preds []*Node, flatten func(*block, string, []*Node) []*Node, p *Plan, seqDeps map[*Node][]*Node) []*Node {
	switch x := it.(type) {
	case *block:
		g := group
		if x.parallel {
			g = x.name
		}
		return flatten(x, g, preds)
	case *phased:
		n := &Node{Phase: x.phase, Index: len(p.nodes), Step: x.step, Gate: x.gate, Group: group}
		if x.step != nil {
			n.Name = x.step.Name
		} else {
			n.Name = x.gate.Name
		}
		p.nodes = append(p.nodes, n)
		if x.gate != nil && x.gate.Kind == GateGuard {
			// Guards run beside the sequence, not in it.
			return preds
		}
		seqDeps[n] = append([]*Node(nil), preds...)
		return []*Node{n}
	}
	return preds
}

func validPolicy(p Policy, gate bool) bool {
	switch p {
	case "", PolicyRollback, PolicyAbort, PolicyContinue, PolicyPause:
		return true
	}
	return false
}

func validateGate(n *Node, g *Gate, errf func(string, ...any)) {
	switch g.Kind {
	case GateCheck, GateSoak, GateGuard:
		validateChecks(g, errf)
	case GateApproval:
		if g.Approval == nil {
			errf("approval gate has no approval settings")
			break
		}
		validateApproval(g.Approval, errf)
	default:
		errf("unknown gate kind %q: use check, soak, approval or guard", g.Kind)
	}
	if g.Every < 0 || g.Duration < 0 || g.Timeout < 0 || g.InitialDelay < 0 {
		errf("durations must not be negative")
	}
	if !validPolicy(g.OnFail, true) {
		errf("unknown on_fail policy %q: use rollback, abort, pause or continue", g.OnFail)
	}
	if !validPolicy(g.OnInconclusive, true) {
		errf("unknown on_inconclusive policy %q: use rollback, abort, pause or continue", g.OnInconclusive)
	}
}

// wire sets each node's dependencies and dependents from edges[i], the
// nodes i depends on (with repeats). Guards are not in the sequence: edges
// to and from them are removed, and they wait for their From node (and
// the earlier nodes they read) only.
func (p *Plan) wire(edges [][]int) {
	for _, n := range p.nodes {
		if n.Gate != nil && n.Gate.Kind == GateGuard {
			edges[n.Index] = nil
			if i, ok := p.index[n.Gate.From]; ok {
				edges[n.Index] = append(edges[n.Index], i)
			}
			for _, u := range n.Gate.Uses {
				if i, ok := p.index[u]; ok && i < n.Index {
					edges[n.Index] = append(edges[n.Index], i)
				}
			}
		}
	}
	for _, n := range p.nodes {
		isGuard := n.Gate != nil && n.Gate.Kind == GateGuard
		for _, d := range edges[n.Index] {
			if dn := p.nodes[d]; !isGuard && dn.Gate != nil && dn.Gate.Kind == GateGuard {
				continue
			}
			n.deps = append(n.deps, d)
		}
		sort.Ints(n.deps)
		n.deps = slices.Compact(n.deps)
		for _, d := range n.deps {
			n.Deps = append(n.Deps, p.nodes[d].Name)
			p.nodes[d].outs = append(p.nodes[d].outs, n.Index)
		}
	}
	for _, n := range p.nodes {
		sort.Ints(n.outs)
	}
}

// validateStep checks a step's own settings.
func validateStep(s *Step, errf func(string, ...any)) {
	if s.Action == nil {
		errf("step has no action")
	} else if len(s.rollbacks()) == 0 && !s.Irreversible && !s.readOnly() {
		errf("step changes the world but has no rollback: add a rollback, or mark it irreversible")
	}
	for i, rb := range s.Rollbacks {
		if rb == nil {
			errf("rollback #%d is nil", i+1)
		}
	}
	if s.Retry.Attempts < 0 {
		errf("retry attempts must not be negative")
	}
	if s.Timeout < 0 || s.Budget < 0 {
		errf("timeout and budget must not be negative")
	}
	if !validPolicy(s.OnFail, false) {
		errf("unknown on_fail policy %q: use rollback, abort, pause or continue", s.OnFail)
	}
}

// validateSpan checks a guard's From and Until.
func validateSpan(p *Plan, g *Gate, errf func(string, ...any)) {
	fi, fok := p.index[g.From]
	ui, uok := p.index[g.Until]
	if fok && uok && ui <= fi {
		errf("guard span ends (at %q) before it starts (after %q): Until must come after From", g.Until, g.From)
	}
	for _, ref := range []string{g.From, g.Until} {
		if ref == "" {
			continue
		}
		if i, ok := p.index[ref]; !ok {
			errf("guard span names unknown node %q%s", ref, suggest(ref, p))
		} else if p.nodes[i].Gate != nil && p.nodes[i].Gate.Kind == GateGuard {
			errf("guard span cannot be bounded by another guard %q", ref)
		}
	}
}

// refs resolves node n's DependsOn and Uses to the indexes it depends on.
func (p *Plan) refs(n *Node, dependsOn, uses []string, errf func(string, ...any)) []int {
	var out []int
	for _, d := range dependsOn {
		i, ok := p.index[d]
		switch {
		case !ok:
			errf("depends on unknown node %q%s", d, suggest(d, p))
		case i == n.Index:
			errf("depends on itself")
		default:
			out = append(out, i)
		}
	}
	for _, u := range uses {
		i, ok := p.index[u]
		switch {
		case !ok:
			errf("reads outputs of unknown step %q%s", u, suggest(u, p))
		case i >= n.Index:
			errf("reads outputs of %q, which comes later in the plan: a reference may only point backwards", u)
		default:
			out = append(out, i)
		}
	}
	return out
}

// validateChecks checks the checks of a check, soak or guard gate.
func validateChecks(g *Gate, errf func(string, ...any)) {
	if len(g.Checks) == 0 {
		errf("%s gate has no checks", g.Kind)
	}
	seen := map[string]bool{}
	allCounted := len(g.Checks) > 0
	for i, c := range g.Checks {
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		if seen[c.Name] && c.Name != "" {
			errf("duplicate check name %q", c.Name)
		}
		seen[c.Name] = true
		validateCheck(name, &c, errf)
		if c.Count <= 0 {
			allCounted = false
		}
	}
	if g.Kind == GateSoak && g.Duration <= 0 && g.Count <= 0 && !allCounted {
		errf("soak gate needs a duration or a count")
	}
}

// validateCheck checks one check, called name in messages.
func validateCheck(name string, c *Check, errf func(string, ...any)) {
	if c.Probe == nil {
		errf("check %s has no probe", name)
	}
	if c.Success == nil && c.Failure == nil {
		errf("check %s has neither a success nor a failure condition", name)
	}
	if c.FailureLimit < 0 || c.Tolerate < 0 || c.InconclusiveLimit < 0 || c.ErrorLimit < 0 || c.Count < 0 {
		errf("check %s: limits and counts must not be negative", name)
	}
	switch c.NoData {
	case "", NoDataInconclusive, NoDataFail, NoDataPass, NoDataWait:
	default:
		errf("check %s: unknown no_data policy %q: use inconclusive, fail, pass or wait", name, c.NoData)
	}
}

// validateApproval checks quorum and separation of duties.
func validateApproval(a *Approval, errf func(format string, args ...any)) {
	if a.Quorum < 0 {
		errf("quorum must not be negative")
	}
	if a.SeparateFrom != "" && a.SeparateFrom != SeparateFromStarter {
		errf("separate_from is %q or empty, not %q", SeparateFromStarter, a.SeparateFrom)
	}
	if len(a.Approvers) == 0 {
		return
	}
	people := 0
	for _, ap := range a.Approvers {
		if strings.HasPrefix(ap, "group:") {
			return // a group's size is known only at run time
		}
		people++
	}
	if a.Quorum > people {
		errf("quorum %d cannot be reached by %d approvers (%s)", a.Quorum, people, strings.Join(a.Approvers, ", "))
	}
}

// rankNodes sets each node's rank (the graph is acyclic by now).
func rankNodes(p *Plan) {
	state := make([]int8, len(p.nodes)) // 0 new, 1 visiting, 2 done
	var visit func(i int) int
	visit = func(i int) int {
		n := p.nodes[i]
		if state[i] == 2 {
			return n.rank
		}
		state[i] = 1
		r := 0
		for _, d := range n.deps {
			if state[d] == 1 {
				continue // unreachable: cycles are rejected before
			}
			r = max(r, visit(d)+1)
		}
		n.rank, state[i] = r, 2
		return r
	}
	for i := range p.nodes {
		visit(i)
	}
}

// findCycles returns each strongly connected component with more than one
// node (or a self loop), as node indexes starting at the smallest.
func findCycles(p *Plan) [][]int {
	n := len(p.nodes)
	index := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var out [][]int
	next := 0
	var strong func(v int)
	strong = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		on[v] = true
		for _, w := range p.nodes[v].deps {
			if index[w] < 0 {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			if len(comp) > 1 {
				sort.Ints(comp)
				out = append(out, comp)
			}
		}
	}
	for v := 0; v < n; v++ {
		if index[v] < 0 {
			strong(v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// suggest returns a "did you mean" hint for an unknown node name: the
// closest name within an edit distance of about a third of its length.
func suggest(name string, p *Plan) string {
	limit := max(1, (len([]rune(name))+2)/3)
	best, bestD := "", limit+1
	for _, n := range p.nodes {
		if d := levenshtein(name, n.Name); d < bestD && d < len([]rune(name)) {
			best, bestD = n.Name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func dumpPlan(p *Plan) string {
	// The dump is built with append-style helpers rather than fmt: for
	// large plans fmt's reflection and per-line allocations dominated Build.
	buf := make([]byte, 0, 256+len(p.nodes)*160)
	buf = append(buf, "runbook "...)
	buf = strconv.AppendQuote(buf, p.Name)
	buf = append(buf, '\n')
	if p.Description != "" {
		buf = append(buf, "  description "...)
		buf = strconv.AppendQuote(buf, p.Description)
		buf = append(buf, '\n')
	}
	if p.Window > 0 {
		buf = append(buf, "  window "...)
		buf = append(buf, p.Window.String()...)
		buf = append(buf, '\n')
	}
	for _, n := range p.nodes {
		buf = append(buf, n.Kind()...)
		buf = append(buf, ' ')
		buf = strconv.AppendQuote(buf, n.Name)
		buf = append(buf, '\n')
		if n.Phase != "" {
			buf = append(buf, "  phase "...)
			buf = strconv.AppendQuote(buf, n.Phase)
			buf = append(buf, '\n')
		}
		if n.Group != "" {
			buf = append(buf, "  parallel "...)
			buf = strconv.AppendQuote(buf, n.Group)
			buf = append(buf, '\n')
		}
		if len(n.Deps) > 0 {
			buf = append(buf, "  after "...)
			buf = appendQuoteList(buf, n.Deps)
			buf = append(buf, '\n')
		}
		if n.Step != nil {
			buf = dumpStep(buf, n)
		} else {
			buf = dumpGate(buf, n.Gate)
		}
	}
	return string(buf)
}

// appendLine appends "  key value\n".
func appendLine(buf []byte, key, value string) []byte {
	buf = append(buf, "  "...)
	buf = append(buf, key...)
	buf = append(buf, ' ')
	buf = append(buf, value...)
	return append(buf, '\n')
}

func dumpStep(buf []byte, n *Node) []byte {
	s := n.Step
	if d := Describe(s.Action); d != (Description{}) {
		buf = append(buf, "  action "...)
		buf = appendDescribeLine(buf, d)
		buf = append(buf, '\n')
	}
	if len(s.Uses) > 0 {
		u := s.Uses
		if !sort.StringsAreSorted(u) {
			u = append([]string(nil), s.Uses...)
			sort.Strings(u)
		}
		buf = append(buf, "  uses "...)
		buf = appendQuoteList(buf, u)
		buf = append(buf, '\n')
	}
	if s.Timeout > 0 {
		buf = appendLine(buf, "timeout", s.Timeout.String())
	}
	if s.Budget > 0 {
		buf = appendLine(buf, "budget", s.Budget.String())
	}
	if len(s.Lasting) > 0 {
		buf = append(buf, "  lasting "...)
		buf = appendQuoteList(buf, s.Lasting)
		buf = append(buf, '\n')
	}
	if r := s.Retry.String(); r != "" {
		buf = appendLine(buf, "retry", r)
	}
	if s.OnFail != "" && s.OnFail != PolicyRollback {
		buf = appendLine(buf, "on_fail", string(s.OnFail))
	}
	flags := [...]struct {
		on   bool
		name string
	}{{n.ro, "read_only"}, {s.Idempotent, "idempotent"}, {s.Irreversible, "irreversible"}, {s.PointOfNoReturn, "point_of_no_return"}, {s.RollbackOnFailure, "rollback_on_failure"}, {s.RollbackIdempotent, "rollback_idempotent"}, {s.When != nil, "conditional"}}
	first := true
	for _, f := range flags {
		if !f.on {
			continue
		}
		if first {
			buf = append(buf, "  flags "...)
			first = false
		} else {
			buf = append(buf, ' ')
		}
		buf = append(buf, f.name...)
	}
	if !first {
		buf = append(buf, '\n')
	}
	natural := len(s.Rollbacks) == 0
	for i, rb := range n.rbs {
		if natural {
			buf = append(buf, "  rollback (natural)["...)
		} else {
			buf = append(buf, "  rollback["...)
		}
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, "] "...)
		d := Describe(rb)
		if d == (Description{}) && natural {
			// A natural rollback that does not describe itself is the
			// action's own undo: describe it as the action.
			d = Describe(s.Action)
		}
		if d == (Description{}) {
			buf = append(buf, "(go func)"...)
		} else {
			buf = appendDescribeLine(buf, d)
		}
		buf = append(buf, '\n')
	}
	if s.RollbackTimeout > 0 {
		buf = appendLine(buf, "rollback_timeout", s.RollbackTimeout.String())
	}
	if s.RollbackRetry != nil {
		if r := s.RollbackRetry.String(); r != "" {
			buf = appendLine(buf, "rollback_retry", r)
		}
	}
	return buf
}

func dumpGate(buf []byte, g *Gate) []byte {
	buf = appendLine(buf, "gate_kind", string(g.Kind))
	for _, kv := range [...]struct {
		k string
		v time.Duration
	}{{"every", g.Every}, {"initial_delay", g.InitialDelay}, {"duration", g.Duration}, {"timeout", g.Timeout}, {"budget", g.Budget}} {
		if kv.v > 0 {
			buf = appendLine(buf, kv.k, kv.v.String())
		}
	}
	if g.Count > 0 {
		buf = appendLine(buf, "count", strconv.Itoa(g.Count))
	}
	if g.OnFail != "" && g.OnFail != PolicyRollback {
		buf = appendLine(buf, "on_fail", string(g.OnFail))
	}
	if g.OnInconclusive != "" && g.OnInconclusive != PolicyPause {
		buf = appendLine(buf, "on_inconclusive", string(g.OnInconclusive))
	}
	if g.From != "" || g.Until != "" {
		buf = append(buf, "  span "...)
		buf = strconv.AppendQuote(buf, g.From)
		buf = append(buf, ".."...)
		buf = strconv.AppendQuote(buf, g.Until)
		buf = append(buf, '\n')
	}
	if len(g.Uses) > 0 {
		u := append([]string(nil), g.Uses...)
		sort.Strings(u)
		buf = append(buf, "  uses "...)
		buf = appendQuoteList(buf, u)
		buf = append(buf, '\n')
	}
	if a := g.Approval; a != nil {
		buf = append(buf, "  approval "...)
		buf = strconv.AppendQuote(buf, a.Message)
		buf = append(buf, " approvers="...)
		buf = appendQuoteList(buf, a.Approvers)
		buf = append(buf, " timeout="...)
		buf = append(buf, a.Timeout.String()...)
		buf = append(buf, " on_timeout="...)
		buf = strconv.AppendBool(buf, a.OnTimeout)
		// Written only when set, so that the hashes of plans without them
		// stay what they were.
		if a.Quorum > 1 {
			buf = append(buf, " quorum="...)
			buf = strconv.AppendInt(buf, int64(a.Quorum), 10)
		}
		if a.SeparateFrom != "" {
			buf = append(buf, " separate_from="...)
			buf = strconv.AppendQuote(buf, a.SeparateFrom)
		}
		buf = append(buf, '\n')
	}
	for _, c := range g.Checks {
		buf = append(buf, "  check "...)
		buf = strconv.AppendQuote(buf, c.Name)
		if d := describeLine(Describe(c.Probe)); d != "" {
			buf = append(buf, " probe="...)
			buf = append(buf, strings.ReplaceAll(d, " ", "/")...)
		}
		if c.Threshold != "" {
			buf = append(buf, " threshold="...)
			buf = strconv.AppendQuote(buf, c.Threshold)
		}
		buf = append(buf, " success="...)
		buf = strconv.AppendBool(buf, c.Success != nil)
		buf = append(buf, " failure="...)
		buf = strconv.AppendBool(buf, c.Failure != nil)
		for _, kv := range [...]struct {
			k string
			v int
		}{{"count", c.Count}, {"failure_limit", c.FailureLimit}, {"tolerate", c.Tolerate}, {"inconclusive_limit", c.InconclusiveLimit}, {"error_limit", c.ErrorLimit}} {
			if kv.v > 0 {
				buf = append(buf, ' ')
				buf = append(buf, kv.k...)
				buf = append(buf, '=')
				buf = strconv.AppendInt(buf, int64(kv.v), 10)
			}
		}
		if c.Every > 0 {
			buf = append(buf, " every="...)
			buf = append(buf, c.Every.String()...)
		}
		if c.InitialDelay > 0 {
			buf = append(buf, " initial_delay="...)
			buf = append(buf, c.InitialDelay.String()...)
		}
		if c.NoData != "" {
			buf = append(buf, " no_data="...)
			buf = append(buf, string(c.NoData)...)
		}
		if c.DryRun {
			buf = append(buf, " dry_run"...)
		}
		buf = append(buf, '\n')
	}
	return buf
}

// String renders the description on one line: provider, action, and the
// quoted summary.
func (d Description) String() string { return describeLine(d) }

func describeLine(d Description) string {
	return string(appendDescribeLine(nil, d))
}

// appendDescribeLine appends the description's non-empty parts, separated
// by spaces: provider, action and the quoted summary.
func appendDescribeLine(buf []byte, d Description) []byte {
	start := len(buf)
	sep := func() {
		if len(buf) > start {
			buf = append(buf, ' ')
		}
	}
	if d.Provider != "" {
		buf = append(buf, d.Provider...)
	}
	if d.Action != "" {
		sep()
		buf = append(buf, d.Action...)
	}
	if d.Summary != "" {
		sep()
		buf = strconv.AppendQuote(buf, d.Summary)
	}
	return buf
}

// appendQuoteList appends ["a", "b"] (each element quoted as %q does).
func appendQuoteList(buf []byte, list []string) []byte {
	buf = append(buf, '[')
	for i, s := range list {
		if i > 0 {
			buf = append(buf, ", "...)
		}
		buf = strconv.AppendQuote(buf, s)
	}
	return append(buf, ']')
}
