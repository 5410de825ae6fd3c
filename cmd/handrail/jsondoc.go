package main

import (
	"bytes"
	"io"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/runbook"
)

// formatVersion is the version of every JSON document the CLI prints (see
// docs/json.md). It changes only when a key is removed or changes meaning.
const formatVersion = "1"

// runsDoc is `handrail runs -json`.
type runsDoc struct {
	FormatVersion string    `json:"format_version"`
	Runs          []runJSON `json:"runs"`
}

// showDoc is `handrail show RUN -json`.
type showDoc struct {
	FormatVersion string     `json:"format_version"`
	Run           runJSON    `json:"run"`
	Nodes         []nodeJSON `json:"nodes"`
	// PlanVersions: the plans the run was executed with, when it was
	// resumed or rolled back with an edited runbook (or from a node).
	PlanVersions []runbook.PlanVersion `json:"plan_versions,omitempty"`
}

// runJSON is one run in runs and show.
type runJSON struct {
	ID         string            `json:"id"`
	Runbook    string            `json:"runbook"`
	PlanHash   string            `json:"plan_hash"`
	State      string            `json:"state"`
	Sandbox    bool              `json:"sandbox"`
	Error      string            `json:"error,omitempty"`
	StartedAt  time.Time         `json:"started_at"`
	LastAt     time.Time         `json:"last_at"`
	DurationMS int64             `json:"duration_ms"`
	Records    int               `json:"records"`
	Processes  []string          `json:"processes"`
	Inputs     []inputJSON       `json:"inputs"`
	Failed     string            `json:"failed,omitempty"`
	InDoubt    []string          `json:"in_doubt"`
	LeftToUndo []string          `json:"left_to_undo"`
	StateDir   string            `json:"state_dir,omitempty"`
	Journal    string            `json:"journal,omitempty"`
	Commands   map[string]string `json:"commands"`
}

// inputJSON is one recorded input; sensitive values are never recorded.
type inputJSON struct {
	Name      string `json:"name"`
	Value     string `json:"value,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// nodeJSON is one node of show.
type nodeJSON struct {
	Name       string     `json:"name"`
	State      string     `json:"state"`
	Attempts   int        `json:"attempts"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	DurationMS int64      `json:"duration_ms"`
}

func (r runRow) json() runJSON {
	s := r.sum
	out := runJSON{ID: s.ID, Runbook: s.Runbook, PlanHash: s.PlanHash, State: s.State, Sandbox: r.sandbox, Error: s.Error,
		StartedAt: s.StartedAt, LastAt: s.LastAt, DurationMS: s.Duration.Milliseconds(), Records: s.Records,
		Processes: nonNil(s.Modes), Inputs: []inputJSON{}, Failed: s.Failed, InDoubt: nonNil(s.InDoubt), LeftToUndo: nonNil(r.undo),
		StateDir: r.where.stateDir, Journal: redactURL(r.where.journal), Commands: map[string]string{}}
	for _, in := range s.Inputs {
		ij := inputJSON{Name: in.Name, Sensitive: in.Sensitive}
		if !in.Sensitive {
			ij.Value = in.Value
		}
		out.Inputs = append(out.Inputs, ij)
	}
	for _, c := range []string{"show", "report", "rollback", "resume"} {
		out.Commands[c] = "handrail " + c + " " + s.ID + r.where.flags()
	}
	return out
}

func nodesJSON(s *journal.Summary) []nodeJSON {
	out := []nodeJSON{}
	for _, n := range s.Steps {
		nj := nodeJSON{Name: n.Name, State: string(n.State), Attempts: n.Attempts, DurationMS: n.Duration.Milliseconds()}
		if !n.Started.IsZero() {
			t := n.Started
			nj.StartedAt = &t
		}
		if !n.Ended.IsZero() {
			t := n.Ended
			nj.EndedAt = &t
		}
		out = append(out, nj)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// location names where a run is kept, for `runs`.
func (s stateFlags) location() string {
	if s.journal != "" {
		return redactURL(s.journal)
	}
	return s.stateDir
}

// versionedLines adds "format_version" to each JSON object line written
// through it (the -json event stream of apply, resume and rollback).
type versionedLines struct {
	mu sync.Mutex
	w  io.Writer
}

// Write implements io.Writer; p holds whole lines (runbook.JSONObserver
// writes one event per call).
func (v *versionedLines) Write(p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if bytes.HasPrefix(line, []byte("{")) {
			out.WriteString(`{"format_version":"` + formatVersion + `",`)
			out.Write(line[1:])
		} else {
			out.Write(line)
		}
	}
	if _, err := v.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}
