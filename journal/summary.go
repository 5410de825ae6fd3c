package journal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// StateUnfinished is the [Summary.State] of a run with no final record after
// its last start: it is still running, or its process died (resume it or
// roll it back).
const StateUnfinished = "unfinished"

// Summary is what `runs` and `show` print about one run.
type Summary struct {
	ID       string
	Runbook  string
	PlanHash string
	// Status is how the run last ended; empty while unfinished.
	Status runbook.Status
	// State is Status, or [StateUnfinished].
	State string
	// Error is the redacted failure the run last ended with.
	Error string
	// Starts counts the processes that worked on the run: the first run,
	// then each resume and rollback.
	Starts    int
	Modes     []string
	StartedAt time.Time
	LastAt    time.Time
	// Duration is the time from the first record to the last.
	Duration time.Duration
	Records  int
	Inputs   []runbook.Input
	// Steps lists every node the journal mentions, in order of first
	// appearance.
	Steps []StepSummary
	// InDoubt lists steps started and never finished.
	InDoubt []string
	// Failed is the node whose final failure stopped the run.
	Failed string
	// LeftToUndo lists the completed steps whose compensation is still
	// owed, in the order a rollback would run them ([runbook.RunState.Pending]:
	// steps the journal marks compensable); with a plan, only those that
	// still have a rollback in it.
	LeftToUndo []string
	// Versions lists the plan versions the run was executed with, the
	// first one it started with (see [runbook.PlanVersion]): one run
	// across edits of its runbook.
	Versions []runbook.PlanVersion
}

// StepSummary is one node of a [Summary].
type StepSummary struct {
	Name     string
	State    runbook.NodeState
	Attempts int
	Started  time.Time
	Ended    time.Time
	// Duration is Ended-Started when both are known.
	Duration time.Duration
}

// Summarize folds a run's records (from [runbook.Journal.Load]) into a
// summary, with [runbook.Replay]. p, if not nil, is the run's plan: it
// narrows LeftToUndo to the steps that have a rollback in it.
func Summarize(recs []runbook.Record, p *runbook.Plan) (*Summary, error) {
	st, err := runbook.Replay(recs)
	if err != nil {
		return nil, err
	}
	s := &Summary{ID: st.Run.ID, Runbook: st.Run.Runbook, PlanHash: st.PlanHash, Status: st.Status,
		StartedAt: st.Run.StartedAt, LastAt: st.LastTime, Records: len(recs), Inputs: st.Inputs,
		InDoubt: st.InDoubt, Failed: st.Failed, Versions: st.Versions}
	s.Duration = s.LastAt.Sub(s.StartedAt)
	s.State = string(st.Status)
	if s.State == "" {
		s.State = StateUnfinished
	}
	seen := map[string]bool{}
	for _, r := range recs {
		switch r.Kind {
		case runbook.RecRunStarted:
			s.Starts++
			s.Modes = append(s.Modes, r.Mode)
			s.Error = ""
		case runbook.RecRunFinished:
			s.Error = r.Error
		}
		if r.Node != "" && !seen[r.Node] {
			seen[r.Node] = true
			s.Steps = append(s.Steps, StepSummary{Name: r.Node})
		}
	}
	for i := range s.Steps {
		ss := &s.Steps[i]
		ss.State = st.Nodes[ss.Name]
		ss.Attempts = st.Attempts[ss.Name]
		ss.Started = st.Started[ss.Name]
		ss.Ended = st.Ended[ss.Name]
		if !ss.Started.IsZero() && !ss.Ended.IsZero() {
			ss.Duration = ss.Ended.Sub(ss.Started)
		}
	}
	for _, name := range st.Pending() {
		if p != nil && len(p.Rollbacks(name)) == 0 {
			continue
		}
		s.LeftToUndo = append(s.LeftToUndo, name)
	}
	return s, nil
}

// Show loads one run from j and summarizes it (see [Summarize]). An unknown
// run gives an error wrapping [runbook.ErrRunNotFound].
func Show(ctx context.Context, j runbook.Journal, run string, p *runbook.Plan) (*Summary, error) {
	recs, err := j.Load(ctx, run)
	if err != nil {
		return nil, err
	}
	return Summarize(recs, p)
}

// ErrNoListing is returned by [List] for a journal that cannot list its runs.
var ErrNoListing = errors.New("journal: this journal cannot list its runs")

// List summarizes the runs of j, newest first; limit > 0 keeps the newest
// limit runs. j must implement [runbook.RunLister].
func List(ctx context.Context, j runbook.Journal, limit int) ([]*Summary, error) {
	l, ok := j.(runbook.RunLister)
	if !ok {
		return nil, fmt.Errorf("%w (%T)", ErrNoListing, j)
	}
	ids, err := l.Runs(ctx)
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]*Summary, 0, len(ids))
	for _, id := range ids {
		s, err := Show(ctx, j, id, nil)
		if err != nil {
			return nil, fmt.Errorf("journal: run %s: %w", id, err)
		}
		out = append(out, s)
	}
	return out, nil
}
