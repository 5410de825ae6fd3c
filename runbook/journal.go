package runbook

import (
	"context"
	"fmt"
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
	// Gate sample and decision.
	Sample   *SampleRecord `json:"sample,omitempty"`
	Decision *Decision     `json:"decision,omitempty"`
	// Run end.
	Status Status `json:"status,omitempty"`
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

// Locker is implemented by journals that can keep two runs of one runbook
// and target apart. Lock returns an error (naming the holder) if the key is
// held; unlock releases it.
type Locker interface {
	Lock(ctx context.Context, key string) (unlock func() error, err error)
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
	Run      RunInfo
	PlanHash string
	Inputs   []Input
	Status   Status // empty while the run has not finished
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
	// Compensable holds the succeeded steps that have a rollback.
	Compensable map[string]bool
	// Checkpoints holds what steps checkpointed (Env.Checkpoint) and did
	// not complete.
	Checkpoints map[string]Outputs
	// LastTime is the time of the last record.
	LastTime time.Time
	// Samples and Decisions recorded.
	Samples   []SampleRecord
	Decisions map[string][]Decision
	Attempts  map[string]int
	Started   map[string]time.Time
	Ended     map[string]time.Time
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
	st := &RunState{Outputs: map[string]Outputs{}, Checkpoints: map[string]Outputs{}, Nodes: map[string]NodeState{}, Decisions: map[string][]Decision{},
		Attempts: map[string]int{}, Started: map[string]time.Time{}, Ended: map[string]time.Time{}, Compensable: map[string]bool{}}
	open := map[string]bool{}
	succeeded := map[string]bool{}
	for _, r := range recs {
		st.LastTime = r.Time
		switch r.Kind {
		case RecRunStarted:
			if st.Run.ID == "" {
				st.Run = RunInfo{ID: r.Run, Runbook: r.Runbook, StartedAt: r.Time}
				st.PlanHash = r.PlanHash
				st.Inputs = r.Inputs
			}
			st.Status = ""
		case RecNodeStarted:
			open[r.Node] = true
			st.Nodes[r.Node] = StateRunning
			st.Attempts[r.Node] = r.Attempt
			if _, ok := st.Started[r.Node]; !ok {
				st.Started[r.Node] = r.Time
			}
		case RecNodeSucceeded:
			delete(open, r.Node)
			if st.Failed == r.Node {
				// A failure that the run went on from (policy continue,
				// or a pause approved).
				st.Failed, st.FailedErr = "", ""
			}
			st.Nodes[r.Node] = StateSucceeded
			st.Ended[r.Node] = r.Time
			delete(st.Checkpoints, r.Node)
			if !succeeded[r.Node] {
				succeeded[r.Node] = true
				st.Succeeded = append(st.Succeeded, r.Node)
			}
			st.Outputs[r.Node] = r.Outputs
			if r.Compensable {
				st.Compensable[r.Node] = true
			}
		case RecNodeFailed:
			delete(open, r.Node)
			if r.Final {
				st.Nodes[r.Node] = StateFailed
				st.Ended[r.Node] = r.Time
				if !succeeded[r.Node] {
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
		case RecCheckpoint:
			cp := st.Checkpoints[r.Node]
			if cp == nil {
				cp = Outputs{}
				st.Checkpoints[r.Node] = cp
			}
			for k, v := range r.Outputs {
				cp[k] = v
			}
		case RecNodeSkipped:
			delete(open, r.Node)
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
			st.RollingBack = true
		case RecCompensated:
			st.Compensated = append(st.Compensated, r.Node)
			st.Nodes[r.Node] = StateCompensated
		case RecCompensationFailed:
			if r.Final {
				st.CompensationFailed = append(st.CompensationFailed, r.Node)
				st.Nodes[r.Node] = StateCompensationFailed
			}
		case RecRunFinished:
			st.Status = r.Status
		}
	}
	for n := range open {
		st.InDoubt = append(st.InDoubt, n)
	}
	sort.Strings(st.InDoubt)
	return st, nil
}
