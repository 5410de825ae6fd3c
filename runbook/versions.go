package runbook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Fingerprinter is implemented by actions, rollbacks and probes whose
// [Description] does not say everything that decides what they do. The
// fingerprint is a stable text of their arguments as evaluated when the plan
// was built (a part known only at run time written as the expression that
// computes it). It is hashed into the node's [NodeHash], never shown; it
// should leave secret values out (a changed secret is then not seen as a
// change).
type Fingerprinter interface {
	Fingerprint() string
}

// Fingerprint returns the fingerprint of a, or "" when a does not have one.
func Fingerprint(a any) string {
	if f, ok := a.(Fingerprinter); ok {
		return f.Fingerprint()
	}
	return ""
}

// NodeHash is the identity of one node of a plan version, journaled with
// every new version so that a run can go on with an edited runbook: Do
// hashes what the node does (kind; for a step its action's provider
// instance, action and arguments; for a gate its kind, schedule, question
// and checks with their probes' arguments), Rollback hashes the step's
// compensations apart. Retries, timeouts and budgets are in neither.
type NodeHash struct {
	Node     string `json:"node"`
	Do       string `json:"do"`
	Rollback string `json:"rollback,omitempty"`
}

// NodeHashes returns the hashes of the plan's nodes, in declaration order.
func (p *Plan) NodeHashes() []NodeHash {
	c := p.nodeHashes
	c.once.Do(func() {
		c.list = make([]NodeHash, len(p.nodes))
		for i, n := range p.nodes {
			c.list[i] = nodeHash(n)
		}
	})
	return append([]NodeHash(nil), c.list...)
}

type nodeHashCache struct {
	once sync.Once
	list []NodeHash
}

func nodeHash(n *Node) NodeHash {
	sum := func(b []byte) string {
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:16])
	}
	h := NodeHash{Node: n.Name}
	var buf []byte
	if n.Step != nil {
		buf = append(buf, "step\n"...)
		buf = appendIdentity(buf, n.Step.Action)
		h.Do = sum(buf)
		if len(n.rbs) > 0 {
			buf = buf[:0]
			for i, rb := range n.rbs {
				buf = fmt.Appendf(buf, "rollback[%d]\n", i)
				buf = appendIdentity(buf, rb)
			}
			h.Rollback = sum(buf)
		}
		return h
	}
	buf = append(buf, "gate\n"...)
	buf = dumpGate(buf, n.Gate)
	for _, c := range n.Gate.Checks {
		buf = append(buf, "probe "...)
		buf = append(buf, c.Name...)
		buf = append(buf, '\n')
		buf = appendIdentity(buf, c.Probe)
		if f := Fingerprint(c.Success); f != "" {
			buf = append(buf, "success "...)
			buf = append(buf, f...)
			buf = append(buf, '\n')
		}
		if f := Fingerprint(c.Failure); f != "" {
			buf = append(buf, "failure "...)
			buf = append(buf, f...)
			buf = append(buf, '\n')
		}
	}
	h.Do = sum(buf)
	return h
}

// appendIdentity appends what a value says about itself: its description
// and its fingerprint.
func appendIdentity(buf []byte, v any) []byte {
	buf = appendDescribeLine(buf, Describe(v))
	buf = append(buf, '\n')
	if f := Fingerprint(v); f != "" {
		buf = append(buf, f...)
		buf = append(buf, '\n')
	}
	return buf
}

// Change is how one node fares when a run goes on with another version of
// its plan (see [Comparison]).
type Change string

// Changes, as [Executor.Compare] reports them.
const (
	// ChangeKept: completed (or skipped), and not run again.
	ChangeKept Change = "kept"
	// ChangeRerun: failed, in doubt or not yet run, so it runs (with its
	// new definition if it changed); or completed and run again from the
	// node given as RunOptions.From.
	ChangeRerun Change = "re-run"
	// ChangeNew: only in the new plan.
	ChangeNew Change = "new"
	// ChangeRemoved: only in the journal's plan, and owing nothing.
	ChangeRemoved Change = "removed"
	// ChangeRollback: a completed step whose rollback changed; the new
	// rollback is what runs if the run rolls back.
	ChangeRollback Change = "changed rollback"
	// ChangeUnsafe: going on would treat something that changed as done,
	// or forget a compensation that is owed. Refused unless forced with a
	// reason.
	ChangeUnsafe Change = "unsafe"
)

// NodeChange is one line of a [Comparison].
type NodeChange struct {
	Node   string `json:"node"`
	Change Change `json:"change"`
	// Was is the node's state in the journal; empty when it never started.
	Was NodeState `json:"was,omitempty"`
	// Edited: what the node does (action, arguments, provider instance)
	// differs between the two versions.
	Edited bool `json:"edited,omitempty"`
	// RollbackEdited: the step's rollback differs between the versions.
	RollbackEdited bool `json:"rollback_edited,omitempty"`
	// Ask: a completed step that is not idempotent, in the span of
	// RunOptions.From and not listed in RunOptions.Rerun: the approver is
	// asked whether to run it again ("rerun") or keep it ("keep").
	Ask bool `json:"ask,omitempty"`
	// Why says it for people.
	Why string `json:"why,omitempty"`
}

// Comparison is what going on with a plan would do to a run, node by node,
// before anything runs: the plan recorded in the journal (Old) against the
// plan given (New).
type Comparison struct {
	Run  string `json:"run"`
	Mode string `json:"mode"` // "resume" or "rollback"
	Old  string `json:"old_plan_hash"`
	New  string `json:"new_plan_hash"`
	From string `json:"from,omitempty"`
	// Differs reports that the plans differ: in shape (Old != New), or in
	// what a node does or how it is rolled back (arguments are not part
	// of the plan's hash).
	Differs bool `json:"differs"`
	// Nodes lists the new plan's nodes in declaration order, then the
	// removed ones in the old plan's order.
	Nodes []NodeChange `json:"nodes"`
}

// Unsafe returns the unsafe changes.
func (c *Comparison) Unsafe() []NodeChange { return c.with(ChangeUnsafe) }

// Changed returns the lines that are not plain "kept": what a person
// should read before going on.
func (c *Comparison) Changed() []NodeChange {
	var out []NodeChange
	for _, n := range c.Nodes {
		if n.Change != ChangeKept || n.Edited || n.RollbackEdited {
			out = append(out, n)
		}
	}
	return out
}

func (c *Comparison) with(ch Change) []NodeChange {
	var out []NodeChange
	for _, n := range c.Nodes {
		if n.Change == ch {
			out = append(out, n)
		}
	}
	return out
}

// ErrUnsafeEdit is wrapped by the [EditError] of a resume or rollback
// refused because of an unsafe change. It wraps [ErrPlanChanged].
var ErrUnsafeEdit = fmt.Errorf("%w: unsafe change", ErrPlanChanged)

// EditError is returned by [Executor.Resume] and [Executor.Rollback] when
// the plan given cannot take over the run: an unsafe change without
// RunOptions.Force and RunOptions.Reason, or completed steps to run again
// that nobody confirmed. It wraps [ErrUnsafeEdit].
type EditError struct {
	Comparison *Comparison
	// Msg says what to do.
	Msg string
}

// Error implements error.
func (e *EditError) Error() string {
	var parts []string
	for _, n := range e.Comparison.Unsafe() {
		parts = append(parts, n.Node+" ("+n.Why+")")
	}
	msg := fmt.Sprintf("runbook: run %s cannot go on with plan %.12s", e.Comparison.Run, e.Comparison.New)
	if len(parts) > 0 {
		msg += ": unsafe: " + strings.Join(parts, "; ")
	}
	if e.Msg != "" {
		msg += "; " + e.Msg
	}
	return msg
}

// Unwrap returns [ErrUnsafeEdit].
func (e *EditError) Unwrap() error { return ErrUnsafeEdit }

// ErrUnknownNode is wrapped by the error of RunOptions.From or
// RunOptions.Rerun naming no node of the plan.
var ErrUnknownNode = errors.New("runbook: no such node")

// Compare loads a run's journal and compares the plan it recorded with p,
// node by node, as [Executor.Resume] (mode "resume") or [Executor.Rollback]
// (mode "rollback") would with opts, without taking the run lock and
// without running anything: what a person reads before going on.
func (e *Executor) Compare(ctx context.Context, p *Plan, runID, mode string, opts RunOptions) (*Comparison, error) {
	if e.Journal == nil {
		return nil, fmt.Errorf("runbook: compare run %s: no journal", runID)
	}
	recs, err := e.Journal.Load(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("runbook: compare run %s: %w", runID, err)
	}
	st, err := Replay(recs)
	if err != nil {
		return nil, fmt.Errorf("runbook: compare run %s: %w", runID, err)
	}
	return CompareRun(st, p, mode, opts)
}

// CompareRun compares the plan recorded in st with p (see
// [Executor.Compare]). It fails only when opts.From or opts.Rerun name no
// node of p, or mode is unknown.
func CompareRun(st *RunState, p *Plan, mode string, opts RunOptions) (*Comparison, error) {
	if mode != "resume" && mode != "rollback" {
		return nil, fmt.Errorf("runbook: compare: mode %q is neither resume nor rollback", mode)
	}
	if mode == "resume" && !goesForward(st, p, opts) {
		// A run that was failing or rolling back: a resume finishes its
		// rollback.
		mode = "rollback"
	}
	c := &Comparison{Run: st.Run.ID, Mode: mode, Old: st.PlanHash, New: p.Hash(), From: opts.From, Differs: st.PlanHash != p.Hash()}
	k, err := newComparer(st, p, mode, opts)
	if err != nil {
		return nil, err
	}
	news := p.NodeHashes()
	for i, n := range p.nodes {
		ch, differs := k.node(n, news[i])
		if differs {
			c.Differs = true
		}
		c.Nodes = append(c.Nodes, ch)
	}
	for _, name := range k.journalNodes() {
		if _, ok := p.index[name]; !ok {
			c.Differs = true
			c.Nodes = append(c.Nodes, k.removed(name))
		}
	}
	return c, nil
}

// comparer is what CompareRun compares each node of the new plan with:
// the run's journal, the mode, and the nodes From and Rerun name.
type comparer struct {
	st          *RunState
	mode        string              // "resume" or "rollback", as the run goes on
	span        map[string]bool     // From and every node that depends on it
	listed      map[string]bool     // the nodes of opts.Rerun
	old         map[string]NodeHash // the journal's node hashes, by node
	compensated map[string]bool     // the nodes whose compensation completed
	// A journal written before node hashes were recorded (!known): with
	// the same plan hash nothing changed; otherwise every node counts as
	// edited.
	samePlan, known bool
}

// newComparer fails when opts.From or opts.Rerun name no node of p.
func newComparer(st *RunState, p *Plan, mode string, opts RunOptions) (*comparer, error) {
	k := &comparer{st: st, mode: mode, span: map[string]bool{}, listed: map[string]bool{}, old: map[string]NodeHash{}, compensated: map[string]bool{},
		samePlan: st.PlanHash == p.Hash(), known: len(st.NodeHashes) > 0}
	if opts.From != "" {
		i, ok := p.index[opts.From]
		if !ok {
			return nil, fmt.Errorf("%w: from %q names no node of %s%s", ErrUnknownNode, opts.From, p.Name, suggest(opts.From, p))
		}
		for _, j := range p.descendants(i) {
			k.span[p.nodes[j].Name] = true
		}
	}
	for _, n := range opts.Rerun {
		if _, ok := p.index[n]; !ok {
			return nil, fmt.Errorf("%w: rerun %q names no node of %s%s", ErrUnknownNode, n, p.Name, suggest(n, p))
		}
		k.listed[n] = true
	}
	for _, h := range st.NodeHashes {
		k.old[h.Node] = h
	}
	for _, n := range st.Compensated {
		k.compensated[n] = true
	}
	return k, nil
}

// owed reports whether the node completed with a rollback that has not
// run yet.
func (k *comparer) owed(name string) bool {
	return k.st.Compensable[name] && !k.compensated[name] && k.st.Nodes[name] != StateFailed
}

// undoOwed reports whether the node still has something to undo: its
// compensation is owed, failed, or was left in doubt.
func (k *comparer) undoOwed(name string) bool {
	return k.owed(name) || k.st.Nodes[name] == StateCompensationFailed || contains(k.st.CompensationsInDoubt, name)
}

func (k *comparer) completed(name string) bool {
	s := k.st.Nodes[name]
	return s == StateSucceeded || s == StateSkipped || s == StateCompensated
}

// edits reports whether the node's action or arguments (edited) and its
// rollbacks (rbEdited) differ from the journal's version of it.
func (k *comparer) edits(name string, nh NodeHash) (edited, rbEdited bool) {
	oh, had := k.old[name]
	switch {
	case k.known && had:
		return oh.Do != nh.Do, oh.Rollback != nh.Rollback
	case !k.known && !k.samePlan:
		return true, true
	}
	return false, false
}

// harmless reports whether running n again changes nothing: a gate or a
// read-only step.
func harmless(n *Node) bool {
	return n.Gate != nil || n.ro
}

// node compares one node of the new plan, whose hash is nh, with the
// journal; differs reports that it is new or edited.
func (k *comparer) node(n *Node, nh NodeHash) (ch NodeChange, differs bool) {
	_, had := k.old[n.Name]
	state := k.st.Nodes[n.Name]
	inJournal := had || state != ""
	edited, rbEdited := k.edits(n.Name, nh)
	ch = NodeChange{Node: n.Name, Was: state, Edited: edited, RollbackEdited: rbEdited}
	switch {
	case !inJournal:
		ch.Change, ch.Why = ChangeNew, "not in the run's plan"
		if k.mode == "rollback" {
			ch.Why = "not in the run's plan: a rollback does not run it"
		}
	case k.mode == "rollback":
		ch.Change, ch.Why = k.inRollback(n, edited, rbEdited)
	case state == StateSucceeded && k.span[n.Name]:
		ch.Change = ChangeRerun
		ch.Ask, ch.Why = k.rerun(n)
	case k.completed(n.Name):
		ch.Change, ch.Why = k.completedChange(n, edited, rbEdited)
	default:
		ch.Change, ch.Why = ChangeRerun, notDoneWhy(state, edited)
	}
	return ch, edited || rbEdited || !inJournal
}

// inRollback is what becomes of a node of the journal when the run rolls
// back: a node with nothing to undo is kept; one whose compensation is
// owed is unsafe when its action changed (a gate's or a read-only step's
// change is harmless) or the new plan has no rollback for it.
func (k *comparer) inRollback(n *Node, edited, rbEdited bool) (Change, string) {
	switch {
	case !k.undoOwed(n.Name):
		return ChangeKept, ""
	case edited && !harmless(n):
		return ChangeUnsafe, "its action or arguments changed: its new rollback may not undo what ran"
	case len(n.rbs) == 0:
		return ChangeUnsafe, "owes a compensation, and the new plan has no rollback for it"
	case rbEdited:
		return ChangeRollback, "the new rollback is what runs"
	default:
		return ChangeKept, "its compensation runs"
	}
}

// rerun says why a completed node in From's span runs again, and whether
// it must be confirmed first: unless it is listed, harmless or
// idempotent.
func (k *comparer) rerun(n *Node) (ask bool, why string) {
	switch {
	case k.listed[n.Name]:
		return false, "completed; runs again (listed)"
	case harmless(n) || (n.Step != nil && n.Step.Idempotent):
		return false, "completed; runs again (idempotent)"
	default:
		return true, "completed and not idempotent: runs again only if confirmed"
	}
}

// completedChange is what becomes of a completed node when the run goes
// forward: see completedEdit, and a node the new plan puts after one that
// has not run (a reordering) is unsafe.
func (k *comparer) completedChange(n *Node, edited, rbEdited bool) (Change, string) {
	change, why := k.completedEdit(n, edited, rbEdited)
	if change == ChangeUnsafe {
		return change, why
	}
	for _, d := range n.Deps {
		if !k.completed(d) {
			return ChangeUnsafe, fmt.Sprintf("completed, but the new plan puts it after %s, which has not run", d)
		}
	}
	return change, why
}

// completedEdit: a completed node is kept, unless its action changed
// (unsafe, but harmless for a gate or a read-only step) or its rollback
// changed while its compensation is owed (the new rollback is what runs;
// unsafe if there is none).
func (k *comparer) completedEdit(n *Node, edited, rbEdited bool) (Change, string) {
	switch {
	case k.st.Nodes[n.Name] == StateSkipped:
		return ChangeKept, "skipped by its condition"
	case edited && harmless(n):
		return ChangeKept, "changed, but it changes nothing: not run again"
	case edited:
		return ChangeUnsafe, "completed, and its action or arguments changed"
	case rbEdited && k.owed(n.Name) && len(n.rbs) == 0:
		return ChangeUnsafe, "owes a compensation, and the new plan has no rollback for it"
	case rbEdited && k.owed(n.Name):
		return ChangeRollback, "the new rollback is what runs if the run rolls back"
	default:
		return ChangeKept, ""
	}
}

// notDoneWhy says why a node that did not complete runs (again).
func notDoneWhy(state NodeState, edited bool) string {
	why := "not run yet"
	switch state {
	case StateFailed:
		why = "failed: runs again"
	case StateRunning:
		why = "in doubt (started, never finished): runs again as a resume decides"
	case StateCompensationFailed:
		why = "its compensation failed"
	}
	if edited {
		why += ", with its new definition"
	}
	return why
}

// journalNodes lists the nodes the journal knows, in the order of its
// latest node hashes, then of the records that first name them.
func (k *comparer) journalNodes() []string {
	seen := map[string]bool{}
	var out []string
	for _, h := range k.st.NodeHashes {
		seen[h.Node] = true
		out = append(out, h.Node)
	}
	for _, name := range k.st.nodeOrder {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

// removed is the change of a journal's node that the new plan does not
// have: unsafe while it has something to undo or was left in doubt.
func (k *comparer) removed(name string) NodeChange {
	state := k.st.Nodes[name]
	ch := NodeChange{Node: name, Was: state, Change: ChangeRemoved}
	switch {
	case k.undoOwed(name):
		ch.Change, ch.Why = ChangeUnsafe, "removed, but its compensation is still owed"
	case state == StateRunning:
		ch.Change, ch.Why = ChangeUnsafe, "removed, but it was started and never finished: it may have changed the world"
	}
	return ch
}

// goesForward reports whether a resume of the run runs nodes (rather than
// finishing a rollback): the run was not rolling back, and it did not fail,
// or it halted or aborted (nothing was compensated), or it is resumed from
// a node or with another plan (the fix of what failed).
func goesForward(st *RunState, p *Plan, opts RunOptions) bool {
	if st.RollingBack {
		return false
	}
	if st.Failed == "" {
		return true
	}
	return st.Status == StatusHalted || st.Status == StatusAborted || opts.From != "" || planDiffers(st, p)
}

// planDiffers reports whether p is not the plan version the journal holds.
func planDiffers(st *RunState, p *Plan) bool {
	if st.PlanHash != p.Hash() {
		return true
	}
	if len(st.NodeHashes) == 0 {
		return false // an older journal: the plan hash is all there is
	}
	news := p.NodeHashes()
	if len(news) != len(st.NodeHashes) {
		return true
	}
	for i, h := range news {
		if h != st.NodeHashes[i] {
			return true
		}
	}
	return false
}

// descendants returns i and every node that depends on it, directly or
// not, in declaration order.
func (p *Plan) descendants(i int) []int {
	in := make([]bool, len(p.nodes))
	in[i] = true
	stack := []int{i}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, o := range p.nodes[k].outs {
			if !in[o] {
				in[o] = true
				stack = append(stack, o)
			}
		}
	}
	var out []int
	for k, ok := range in {
		if ok {
			out = append(out, k)
		}
	}
	return out
}

// PlanVersion is one plan a run was executed with, as its journal tells:
// the first is the one it started with; every later one was given to a
// resume or a rollback.
type PlanVersion struct {
	Hash string `json:"hash"`
	// Prev is the hash of the version this one replaced (empty for the
	// first).
	Prev string `json:"prev,omitempty"`
	// Mode is "run", "resume" or "rollback".
	Mode string `json:"mode"`
	// By and Reason: who went on with this version, and why.
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Forced: unsafe changes were accepted.
	Forced bool `json:"forced,omitempty"`
	// From is the node the run was resumed from, if any.
	From string `json:"from,omitempty"`
	// Changes are the comparison's lines that were not plain "kept".
	Changes []NodeChange `json:"changes,omitempty"`
	// Seq is the journal record that started this version; Time its time.
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
}
