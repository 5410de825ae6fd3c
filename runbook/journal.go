package runbook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// RecordKind names a journal record.
type RecordKind string

// Record kinds, one per transition.
const (
	RecRunStarted         RecordKind = "run_started"
	RecNodeStarted        RecordKind = "node_started"
	RecNodeSucceeded      RecordKind = "node_succeeded"
	RecNodeFailed         RecordKind = "node_failed"
	RecNodeSkipped        RecordKind = "node_skipped"
	RecCheckpoint         RecordKind = "checkpoint"
	RecGateSample         RecordKind = "gate_sample"
	RecDecision           RecordKind = "decision"
	RecGateDecided        RecordKind = "gate_decided"
	RecCompensating       RecordKind = "compensating"
	RecCompensated        RecordKind = "compensated"
	RecCompensationFailed RecordKind = "compensation_failed"
	RecRunFinished        RecordKind = "run_finished"
)

// Input is a variable a run was started with. A sensitive input is recorded
// as given, never with its value.
type Input struct {
	Name      string `json:"name"`
	Value     string `json:"value,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// Record is one transition of a run, as written to a [Journal]. Records of
// one run are numbered from 1 by Seq, in the order they were appended.
type Record struct {
	Seq  int64      `json:"seq"`
	Run  string     `json:"run"`
	Kind RecordKind `json:"kind"`
	Time time.Time  `json:"time"`
	Node string     `json:"node,omitempty"`
	// Attempt of a node or compensation.
	Attempt int `json:"attempt,omitempty"`
	// Final marks the last failed attempt of a node or compensation.
	Final bool `json:"final,omitempty"`
	// Outputs of a succeeded step (secrets redacted).
	Outputs Outputs `json:"outputs,omitempty"`
	// Compensable marks a succeeded step that has a rollback, so that what
	// is left to undo can be told from the journal alone.
	Compensable bool   `json:"compensable,omitempty"`
	Error       string `json:"error,omitempty"`
	// Run start.
	Runbook  string  `json:"runbook,omitempty"`
	PlanHash string  `json:"plan_hash,omitempty"`
	Inputs   []Input `json:"inputs,omitempty"`
	Mode     string  `json:"mode,omitempty"`
	// StartedBy is the person who started the run (first run_started).
	StartedBy string `json:"started_by,omitempty"`
	// A run_started record that begins a plan version (the first, and any
	// resume or rollback with another plan or From) carries the plan's
	// canonical dump (see [Plan.Dump]) and per-node hashes; a later
	// version also its lineage: the hash it replaces, who went on with it
	// and why, whether unsafe changes were forced, the node resumed from,
	// and the comparison's lines that were not plain "kept".
	Plan         string       `json:"plan,omitempty"`
	NodeHashes   []NodeHash   `json:"node_hashes,omitempty"`
	PrevPlanHash string       `json:"prev_plan_hash,omitempty"`
	By           string       `json:"by,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	Forced       bool         `json:"forced,omitempty"`
	From         string       `json:"from,omitempty"`
	Changes      []NodeChange `json:"changes,omitempty"`
	// Forward marks a resume that goes forward from the run's failed node
	// (a fix, or From): the failure no longer stands, and a later resume
	// goes on forward too.
	Forward bool `json:"forward,omitempty"`
	// Gate sample and decision.
	Sample   *SampleRecord `json:"sample,omitempty"`
	Decision *Decision     `json:"decision,omitempty"`
	// Gate is a check, soak or guard gate's decision and its evidence.
	Gate *GateDecision `json:"gate,omitempty"`
	// Run end.
	Status Status `json:"status,omitempty"`
	// Fence is the fencing epoch of the run lock the record was appended
	// under, where the journal records one (the file journal); 0 when the
	// append was not fenced.
	Fence int64 `json:"fence,omitempty"`
}

// Journal stores the records of runs. Append must not return until the
// records are durable: the executor starts no side effect before the record
// announcing it is appended. Append may be called concurrently (parallel
// nodes); a journal may commit concurrent appends together. Journals assign
// Seq.
type Journal interface {
	Append(ctx context.Context, recs ...Record) error
	// Load returns the records of a run in order, or an error wrapping
	// [ErrRunNotFound].
	Load(ctx context.Context, run string) ([]Record, error)
}

// RunLister is implemented by journals that can list their runs, newest
// first.
type RunLister interface {
	Runs(ctx context.Context) ([]string, error)
}

// ErrLockLost is wrapped by the error of a run whose run lock was lost while
// it held it (the database session holding it ended, or the lock was broken
// or taken over), and by a fenced append refused because its [Lease] is no
// longer current. Such a run starts nothing new, compensates nothing, and
// ends [StatusInterrupted]: another process may be acting on the same
// release, and a person decides what happens next.
var ErrLockLost = errors.New("runbook: run lock lost")

// Lease is a run lock held by this process. A lease can be lost without
// Release being called: its holder must watch Lost.
type Lease interface {
	// Lost is closed once the lock is known to be lost, or can no longer be
	// known to be held.
	Lost() <-chan struct{}
	// Err is nil while the lease is held. Once Lost is closed it returns an
	// error wrapping [ErrLockLost] that says why, and who holds the lock
	// now if anyone does.
	Err() error
	// Release releases the lock and stops watching it. It is safe to call
	// more than once; it reports a lease that was lost meanwhile.
	Release() error
}

// Locker is implemented by journals that can keep two runs of one runbook
// and target apart. Lock returns a [Lease] on key, or an error naming the
// holder if another run holds it. A Locker should also be a
// [FencedJournal], so that a process that lost its lease cannot write.
type Locker interface {
	Lock(ctx context.Context, key string) (Lease, error)
}

// FencedJournal is a [Journal] whose appends can be fenced by a lease of its
// own [Locker]: AppendFenced stores recs only while lease is the current
// holder of its lock — checked in the same statement or write that stores
// them — and otherwise stores nothing and returns an error wrapping
// [ErrLockLost]. The executor appends through it whenever it holds a lease.
type FencedJournal interface {
	Journal
	AppendFenced(ctx context.Context, lease Lease, recs ...Record) error
}

// MemJournal is an in-memory [Journal], for tests and for runs that need no
// durability. The zero value is ready to use.
type MemJournal struct {
	mu   sync.Mutex
	runs map[string][]Record
	ord  []string
	// FailAfter, if positive, makes Append fail once that many records
	// have been stored (to test journal failures).
	FailAfter int
}

var _ Journal = (*MemJournal)(nil)
var _ RunLister = (*MemJournal)(nil)

// Append stores copies of recs.
func (m *MemJournal) Append(_ context.Context, recs ...Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runs == nil {
		m.runs = map[string][]Record{}
	}
	for _, r := range recs {
		if m.FailAfter > 0 && m.count() >= m.FailAfter {
			return fmt.Errorf("memjournal: append refused after %d records", m.FailAfter)
		}
		if _, ok := m.runs[r.Run]; !ok {
			m.ord = append(m.ord, r.Run)
		}
		if len(r.Inputs) > 0 {
			// Sensitive inputs are stored as given, never with their value.
			ins := make([]Input, len(r.Inputs))
			for k, in := range r.Inputs {
				if in.Sensitive {
					in.Value = ""
				}
				ins[k] = in
			}
			r.Inputs = ins
		}
		r.Seq = int64(len(m.runs[r.Run]) + 1)
		m.runs[r.Run] = append(m.runs[r.Run], r)
	}
	return nil
}

func (m *MemJournal) count() int {
	n := 0
	for _, rs := range m.runs {
		n += len(rs)
	}
	return n
}

// Load returns the records of run.
func (m *MemJournal) Load(_ context.Context, run string) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs, ok := m.runs[run]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrRunNotFound, run)
	}
	return append([]Record(nil), rs...), nil
}

// Runs lists run ids, newest first.
func (m *MemJournal) Runs(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.ord))
	for i, r := range m.ord {
		out[len(m.ord)-1-i] = r
	}
	return out, nil
}

// RunState is what a journal says about a run: the summary behind `runs`,
// `show`, resume and rollback-later.
type RunState struct {
	Run RunInfo
	// PlanHash is the hash of the plan the run goes on with now: its
	// latest version.
	PlanHash string
	// Versions lists the plan versions the run was executed with, the
	// one it started with first.
	Versions []PlanVersion
	// NodeHashes are the per-node hashes of the latest version; nil for
	// a journal written before they were recorded.
	NodeHashes []NodeHash
	Inputs     []Input
	// StartedBy is the person who started the run, if recorded.
	StartedBy string
	Status    Status // empty while the run has not finished
	// Succeeded lists completed steps in completion order, with outputs.
	Succeeded []string
	Outputs   map[string]Outputs
	// Nodes maps each node seen to its last known status.
	Nodes map[string]NodeState
	// InDoubt lists steps started but never finished.
	InDoubt []string
	// Failed is the node whose final failure stopped the run, if any.
	Failed string
	// FailedErr is its error.
	FailedErr string
	// RollingBack reports that compensation had begun.
	RollingBack bool
	// Compensated lists steps whose compensation completed, in order.
	Compensated []string
	// CompensationFailed lists steps whose compensation failed for good.
	CompensationFailed []string
	// CompensationsInDoubt lists steps whose compensation was started
	// (a compensating record) and never recorded as finished (compensated,
	// or failed for good): the process died during it, or the journal
	// could not record its end. Sorted.
	CompensationsInDoubt []string
	// Compensable holds the succeeded steps that have a rollback.
	Compensable map[string]bool
	// Checkpoints holds what steps checkpointed (Env.Checkpoint) and did
	// not complete.
	Checkpoints map[string]Outputs
	// Progress holds, per step, the latest value of each item it recorded
	// with Env.RecordProgress since it last succeeded.
	Progress map[string]Outputs
	// LastTime is the time of the last record.
	LastTime time.Time
	// Samples and Decisions recorded (Decisions in order, refused answers
	// included with Decision.Refused set).
	Samples   []SampleRecord
	Decisions map[string][]Decision
	Attempts  map[string]int
	Started   map[string]time.Time
	Ended     map[string]time.Time

	nodeOrder []string // nodes in the order the journal first names them
}

// Pending returns the completed steps with a rollback that were not
// compensated yet, in the order they would be compensated (reverse
// completion order).
func (s *RunState) Pending() []string {
	done := map[string]bool{}
	for _, c := range s.Compensated {
		done[c] = true
	}
	var out []string
	for i := len(s.Succeeded) - 1; i >= 0; i-- {
		if !done[s.Succeeded[i]] && s.Compensable[s.Succeeded[i]] {
			out = append(out, s.Succeeded[i])
		}
	}
	return out
}

// Replay folds a run's records into its state.
func Replay(recs []Record) (*RunState, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: no records", ErrRunNotFound)
	}
	f := newFold()
	for i := range recs {
		f.record(&recs[i])
	}
	return f.state(), nil
}

// fold is Replay's state between records: the RunState being built and
// what it needs to remember that the RunState does not hold. Each record
// kind has its method.
type fold struct {
	st        *RunState
	open      map[string]bool // steps started and not finished
	compOpen  map[string]bool // compensations started and not finished
	succeeded map[string]bool // steps that succeeded at least once
	named     map[string]bool // nodes named by a record so far
}

func newFold() *fold {
	return &fold{
		st: &RunState{Outputs: map[string]Outputs{}, Checkpoints: map[string]Outputs{}, Nodes: map[string]NodeState{}, Decisions: map[string][]Decision{},
			Attempts: map[string]int{}, Started: map[string]time.Time{}, Ended: map[string]time.Time{}, Compensable: map[string]bool{}},
		open: map[string]bool{}, compOpen: map[string]bool{}, succeeded: map[string]bool{}, named: map[string]bool{},
	}
}

// record folds one record into the state.
func (f *fold) record(r *Record) {
	st := f.st
	st.LastTime = r.Time
	if r.Node != "" && !f.named[r.Node] {
		f.named[r.Node] = true
		st.nodeOrder = append(st.nodeOrder, r.Node)
	}
	switch r.Kind {
	case RecRunStarted:
		f.runStarted(r)
	case RecNodeStarted:
		f.nodeStarted(r)
	case RecNodeSucceeded:
		f.nodeSucceeded(r)
	case RecNodeFailed:
		f.nodeFailed(r)
	case RecCheckpoint:
		f.checkpoint(r)
	case RecProgress:
		st.replayProgress(*r)
	case RecNodeSkipped:
		delete(f.open, r.Node)
		st.Nodes[r.Node] = StateSkipped
	case RecGateSample:
		if r.Sample != nil {
			st.Samples = append(st.Samples, *r.Sample)
		}
	case RecDecision:
		if r.Decision != nil {
			st.Decisions[r.Node] = append(st.Decisions[r.Node], *r.Decision)
		}
	case RecCompensating:
		f.compensating(r)
	case RecCompensated:
		f.compensated(r)
	case RecCompensationFailed:
		f.compensationFailed(r)
	case RecRunFinished:
		st.Status = r.Status
	}
}

// runStarted: the first one starts the run and its first plan version;
// a later one with a previous plan hash starts a new version; one that
// goes forward clears the failure it goes on from.
func (f *fold) runStarted(r *Record) {
	st := f.st
	first := st.Run.ID == ""
	if first {
		st.Run = RunInfo{ID: r.Run, Runbook: r.Runbook, StartedAt: r.Time}
		st.PlanHash = r.PlanHash
		st.Inputs = r.Inputs
		st.StartedBy = r.StartedBy
	}
	if first || r.PrevPlanHash != "" {
		by := r.By
		if first && by == "" {
			by = r.StartedBy
		}
		st.Versions = append(st.Versions, PlanVersion{Hash: r.PlanHash, Prev: r.PrevPlanHash, Mode: r.Mode, By: by, Reason: r.Reason,
			Forced: r.Forced, From: r.From, Changes: r.Changes, Seq: r.Seq, Time: r.Time})
		st.PlanHash = r.PlanHash
		st.NodeHashes = r.NodeHashes
	}
	if r.Forward {
		st.Failed, st.FailedErr = "", ""
	}
	st.Status = ""
}

func (f *fold) nodeStarted(r *Record) {
	st := f.st
	f.open[r.Node] = true
	st.Nodes[r.Node] = StateRunning
	st.Attempts[r.Node] = r.Attempt
	if _, ok := st.Started[r.Node]; !ok {
		st.Started[r.Node] = r.Time
	}
}

// nodeSucceeded: the node counts in Succeeded at its latest completion;
// its checkpoints and progress are spent.
func (f *fold) nodeSucceeded(r *Record) {
	st := f.st
	delete(f.open, r.Node)
	if st.Failed == r.Node {
		// A failure that the run went on from (policy continue,
		// or a pause approved).
		st.Failed, st.FailedErr = "", ""
	}
	st.Nodes[r.Node] = StateSucceeded
	st.Ended[r.Node] = r.Time
	delete(st.Checkpoints, r.Node)
	delete(st.Progress, r.Node)
	if !f.succeeded[r.Node] {
		f.succeeded[r.Node] = true
		st.Succeeded = append(st.Succeeded, r.Node)
	}
	if f.succeeded[r.Node] && st.Succeeded[len(st.Succeeded)-1] != r.Node {
		// Run again (resumed from an earlier node): it counts at
		// its latest completion.
		st.Succeeded = slices.DeleteFunc(st.Succeeded, func(n string) bool { return n == r.Node })
		st.Succeeded = append(st.Succeeded, r.Node)
	}
	st.Outputs[r.Node] = r.Outputs
	if r.Compensable {
		st.Compensable[r.Node] = true
	}
}

// nodeFailed: only a final failure counts; the first one is the run's.
func (f *fold) nodeFailed(r *Record) {
	st := f.st
	delete(f.open, r.Node)
	if !r.Final {
		return
	}
	st.Nodes[r.Node] = StateFailed
	st.Ended[r.Node] = r.Time
	if !f.succeeded[r.Node] {
		// Partial outputs of a failed step, for its own rollback.
		if r.Outputs != nil {
			st.Outputs[r.Node] = r.Outputs
		} else if cp, ok := st.Checkpoints[r.Node]; ok {
			st.Outputs[r.Node] = cp
		}
	}
	if st.Failed == "" {
		st.Failed, st.FailedErr = r.Node, r.Error
	}
}

func (f *fold) checkpoint(r *Record) {
	cp := f.st.Checkpoints[r.Node]
	if cp == nil {
		cp = Outputs{}
		f.st.Checkpoints[r.Node] = cp
	}
	for k, v := range r.Outputs {
		cp[k] = v
	}
}

// compensating: the run is rolling back; a record that names a node
// opens its compensation.
func (f *fold) compensating(r *Record) {
	f.st.RollingBack = true
	if r.Node != "" {
		f.compOpen[r.Node] = true
	}
}

func (f *fold) compensated(r *Record) {
	delete(f.compOpen, r.Node)
	f.st.Compensated = append(f.st.Compensated, r.Node)
	f.st.Nodes[r.Node] = StateCompensated
}

// compensationFailed: only a final failure closes the compensation.
func (f *fold) compensationFailed(r *Record) {
	if !r.Final {
		return
	}
	delete(f.compOpen, r.Node)
	f.st.CompensationFailed = append(f.st.CompensationFailed, r.Node)
	f.st.Nodes[r.Node] = StateCompensationFailed
}

// state returns the RunState after the last record: steps and
// compensations still open are in doubt.
func (f *fold) state() *RunState {
	st := f.st
	for n := range f.open {
		st.InDoubt = append(st.InDoubt, n)
	}
	sort.Strings(st.InDoubt)
	for n := range f.compOpen {
		st.CompensationsInDoubt = append(st.CompensationsInDoubt, n)
	}
	sort.Strings(st.CompensationsInDoubt)
	return st
}
