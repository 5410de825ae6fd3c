package console

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// View is what the run page shows, as sent to browsers (JSON). It is built
// from the run's events (live) or its journal records (a run served from a
// state directory or journal), never from anything else, and is redacted
// before it leaves the server.
type View struct {
	ID        string        `json:"id"`
	Runbook   string        `json:"runbook"`
	PlanHash  string        `json:"plan_hash"`
	StartedBy string        `json:"started_by,omitempty"`
	Mode      string        `json:"mode,omitempty"`
	Status    string        `json:"status"` // running, or the run's final status
	Error     string        `json:"error,omitempty"`
	Started   time.Time     `json:"started"`
	Last      time.Time     `json:"last"`
	Now       time.Time     `json:"now"`
	Budget    int64         `json:"budget_ms"`
	Nodes     []*NodeView   `json:"nodes"`
	Rollback  *RollbackView `json:"rollback,omitempty"`
	// LeftToUndo lists completed steps with a rollback not compensated yet,
	// in the order a rollback would run them.
	LeftToUndo []string        `json:"left_to_undo"`
	Asks       []*AskView      `json:"asks"`
	Decisions  []DecisionView  `json:"decisions"`
	Live       bool            `json:"live"`
	Seq        int64           `json:"seq"`
	Me         *Identity       `json:"me,omitempty"`
	CSRF       string          `json:"csrf,omitempty"`
	CanApprove bool            `json:"can_approve"`
	Notice     string          `json:"notice,omitempty"`
	compSeen   map[string]bool // compensated steps
}

// NodeView is one step or gate on the timeline.
type NodeView struct {
	Name     string       `json:"name"`
	Phase    string       `json:"phase,omitempty"`
	Kind     string       `json:"kind"` // step, check, soak, approval, guard
	Status   string       `json:"status"`
	Started  *time.Time   `json:"started,omitempty"`
	Ended    *time.Time   `json:"ended,omitempty"`
	Deadline *time.Time   `json:"deadline,omitempty"`
	Budget   int64        `json:"budget_ms,omitempty"`
	Attempts int          `json:"attempts,omitempty"`
	Error    string       `json:"error,omitempty"`
	Checks   []*CheckView `json:"checks,omitempty"`
	Undo     string       `json:"undo,omitempty"` // compensating, compensated, failed
	Rollback bool         `json:"has_rollback,omitempty"`
}

// CheckView is one check of a gate with its samples.
type CheckView struct {
	Name      string       `json:"name"`
	Threshold string       `json:"threshold,omitempty"`
	Limit     *float64     `json:"limit,omitempty"`
	Upper     bool         `json:"upper,omitempty"` // the limit is a ceiling
	Samples   []SampleView `json:"samples"`
	// Why is how the check ended and the rule that decided it.
	Why string `json:"why,omitempty"`
}

// SampleView is one sample: its time, numeric value (if any) and verdict.
type SampleView struct {
	T       time.Time `json:"t"`
	V       *float64  `json:"v,omitempty"`
	Text    string    `json:"text,omitempty"`
	Verdict string    `json:"verdict"`
}

// RollbackView is the rollback path.
type RollbackView struct {
	Reason string      `json:"reason"`
	Steps  []*UndoStep `json:"steps"`
}

// UndoStep is one compensation on the rollback path.
type UndoStep struct {
	Name   string `json:"name"`
	Status string `json:"status"` // pending, compensating, compensated, failed
	Error  string `json:"error,omitempty"`
}

// AskView is a question waiting for people.
type AskView struct {
	Request  runbook.ApprovalRequest `json:"request"`
	Evidence string                  `json:"evidence_digest"`
	Asked    time.Time               `json:"asked"`
	Refusals []string                `json:"refusals,omitempty"`
	Waiting  bool                    `json:"waiting"`
}

// DecisionView is one answer, counted or refused, as journaled.
type DecisionView struct {
	Node     string           `json:"node"`
	Decision runbook.Decision `json:"decision"`
	Final    bool             `json:"final,omitempty"`
}

// evidenceDigest is the fingerprint of what a person is shown for a
// question: the message, evidence lines, samples and plan hash. A decision
// posted with another digest was made on other evidence.
func evidenceDigest(req runbook.ApprovalRequest) string {
	b, _ := json.Marshal(struct {
		M string
		E []string
		S []runbook.SampleRecord
		P string
	}{req.Message, req.Evidence, req.Samples, req.PlanHash})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// seenLines is the evidence as journaled with a decision: the lines and
// the samples shown.
func seenLines(req runbook.ApprovalRequest) []string {
	out := append([]string(nil), req.Evidence...)
	for _, s := range req.Samples {
		line := fmt.Sprintf("%s/%s #%d = %v (%s)", s.Gate, s.Check, s.Seq, displayValue(s.Value), s.Verdict)
		if s.Threshold != "" {
			line += " want " + s.Threshold
		}
		out = append(out, line)
	}
	return out
}

func displayValue(v any) string {
	if v == nil {
		return "(none)"
	}
	return fmt.Sprint(v)
}

// tracker keeps one run's view up to date and wakes the pages watching it.
type tracker struct {
	mu      sync.Mutex
	v       View
	index   map[string]*NodeView
	changed chan struct{}
	red     *runbook.Redactor
}

func newTracker(id string, plan *runbook.Plan, red *runbook.Redactor) *tracker {
	if red == nil {
		red = runbook.NewRedactor()
	}
	t := &tracker{index: map[string]*NodeView{}, changed: make(chan struct{}), red: red}
	t.v = View{ID: id, Status: "running", Live: true, LeftToUndo: []string{}, Asks: []*AskView{}, Decisions: []DecisionView{}, compSeen: map[string]bool{}}
	if plan != nil {
		t.v.Runbook, t.v.PlanHash, t.v.Budget = plan.Name, plan.Hash(), plan.Budget().Milliseconds()
		for _, n := range plan.Nodes() {
			nv := &NodeView{Name: n.Name, Phase: n.Phase, Kind: "step", Status: string(runbook.StatePending)}
			if n.Step != nil {
				nv.Budget = n.Step.Budget.Milliseconds()
				nv.Rollback = len(plan.Rollbacks(n.Name)) > 0
			}
			if g := n.Gate; g != nil {
				nv.Kind = string(g.Kind)
				nv.Budget = g.Budget.Milliseconds()
				if nv.Budget == 0 {
					nv.Budget = g.Duration.Milliseconds()
				}
				for k, c := range g.Checks {
					name := c.Name
					if name == "" {
						name = fmt.Sprintf("check%d", k+1)
					}
					cv := &CheckView{Name: name, Threshold: c.Threshold, Samples: []SampleView{}}
					cv.Limit, cv.Upper = parseThreshold(c.Threshold)
					nv.Checks = append(nv.Checks, cv)
				}
			}
			t.v.Nodes = append(t.v.Nodes, nv)
			t.index[n.Name] = nv
		}
	}
	return t
}

// parseThreshold reads "< 0.01", "<= 250", "> 0.99" as a limit to draw.
func parseThreshold(s string) (*float64, bool) {
	s = strings.TrimSpace(s)
	upper := strings.HasPrefix(s, "<")
	s = strings.TrimLeft(s, "<>=! ")
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil, false
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, false
	}
	return &v, upper
}

// explain records each check's decision beside its chart.
func (t *tracker) explain(gate string, d *runbook.GateDecision) {
	if d == nil {
		return
	}
	nv := t.node(gate)
	for _, c := range d.Checks {
		why := fmt.Sprintf("%s (%s): %s", c.Outcome, c.Rule, c.Explanation)
		if d.Decider == c.Check {
			why = "decided the gate: " + why
		}
		t.check(nv, c.Check, c.Threshold).Why = why
	}
}

func (t *tracker) node(name string) *NodeView {
	if nv, ok := t.index[name]; ok {
		return nv
	}
	nv := &NodeView{Name: name, Kind: "step", Status: string(runbook.StatePending)}
	t.v.Nodes = append(t.v.Nodes, nv)
	t.index[name] = nv
	return nv
}

func (t *tracker) check(nv *NodeView, name, threshold string) *CheckView {
	for _, c := range nv.Checks {
		if c.Name == name {
			return c
		}
	}
	cv := &CheckView{Name: name, Threshold: threshold, Samples: []SampleView{}}
	cv.Limit, cv.Upper = parseThreshold(threshold)
	nv.Checks = append(nv.Checks, cv)
	return cv
}

// wake tells every page the view changed; called with t.mu held.
func (t *tracker) wake() {
	t.v.Seq++
	close(t.changed)
	t.changed = make(chan struct{})
}

// Observe implements runbook.Observer.
func (t *tracker) Observe(e runbook.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := e.EventHeader()
	if t.v.Started.IsZero() {
		t.v.Started = h.Time
	}
	t.v.Last = h.Time
	switch ev := e.(type) {
	case runbook.RunStarted:
		if t.v.Runbook == "" {
			t.v.Runbook = ev.Runbook
		}
		t.v.PlanHash, t.v.Mode = ev.PlanHash, ev.Mode
		if ev.StartedBy != "" {
			t.v.StartedBy = ev.StartedBy
		}
		t.v.Status, t.v.Live = "running", true
	case runbook.NodeStarted:
		nv := t.node(h.Node)
		nv.Status, nv.Attempts = string(runbook.StateRunning), ev.Attempt
		if nv.Started == nil {
			ts := h.Time
			nv.Started = &ts
		}
		nv.Ended, nv.Error = nil, ""
		if nv.Kind == "soak" && nv.Budget > 0 {
			d := h.Time.Add(time.Duration(nv.Budget) * time.Millisecond)
			nv.Deadline = &d
		}
	case runbook.NodeSucceeded:
		nv := t.node(h.Node)
		nv.Status, nv.Deadline = string(runbook.StateSucceeded), nil
		ts := h.Time
		nv.Ended = &ts
		t.recomputeUndo()
	case runbook.NodeFailed:
		nv := t.node(h.Node)
		nv.Error = ev.Error
		if ev.Final {
			nv.Status, nv.Deadline = string(runbook.StateFailed), nil
			if ev.Policy == runbook.PolicyContinue {
				nv.Status = string(runbook.StateWarned)
			}
			ts := h.Time
			nv.Ended = &ts
		}
	case runbook.NodeRetrying:
		t.node(h.Node).Error = ev.Error
	case runbook.NodeSkipped:
		t.node(h.Node).Status = string(runbook.StateSkipped)
	case runbook.GateSampled:
		t.addSample(ev.Sample)
	case runbook.GatePassed:
		t.explain(h.Node, ev.Decision)
	case runbook.GateFailed:
		t.explain(h.Node, ev.Decision)
	case runbook.ApprovalRequested:
		req := ev.Request
		ask := t.ask(h.Node)
		if ask == nil {
			ask = &AskView{Asked: h.Time}
			t.v.Asks = append(t.v.Asks, ask)
		}
		ask.Request, ask.Evidence, ask.Waiting = req, evidenceDigest(req), true
		if !req.Deadline.IsZero() {
			d := req.Deadline
			t.node(h.Node).Deadline = &d
		}
	case runbook.ApprovalVoted:
		if ask := t.ask(h.Node); ask != nil {
			ask.Request.Votes = append(ask.Request.Votes, ev.Decision)
		}
		t.v.Decisions = append(t.v.Decisions, DecisionView{Node: h.Node, Decision: ev.Decision})
	case runbook.ApprovalRefused:
		if ask := t.ask(h.Node); ask != nil {
			ask.Refusals = append(ask.Refusals, ev.Reason)
		}
		t.v.Decisions = append(t.v.Decisions, DecisionView{Node: h.Node, Decision: ev.Decision})
	case runbook.ApprovalDecided:
		t.removeAsk(h.Node)
		t.node(h.Node).Deadline = nil
		t.v.Decisions = append(t.v.Decisions, DecisionView{Node: h.Node, Decision: ev.Decision, Final: true})
	case runbook.RollbackStarted:
		rb := &RollbackView{Reason: ev.Reason}
		for i, name := range ev.Pending {
			st := "pending"
			if i == 0 {
				st = "compensating"
			}
			rb.Steps = append(rb.Steps, &UndoStep{Name: name, Status: st})
			t.node(name).Undo = st
		}
		t.v.Rollback = rb
		t.v.LeftToUndo = append([]string{}, ev.Pending...)
	case runbook.StepCompensated:
		t.compensated(h.Node, "compensated", "")
	case runbook.CompensationFailed:
		if ev.Final {
			t.compensated(h.Node, "failed", ev.Error)
		}
	case runbook.RunFinished:
		t.v.Status, t.v.Error, t.v.Live = string(ev.Status), ev.Error, false
		t.v.Asks = []*AskView{}
		for _, nv := range t.v.Nodes {
			nv.Deadline = nil
		}
		if ev.Pending != nil {
			t.v.LeftToUndo = append([]string{}, ev.Pending...)
		} else {
			t.recomputeUndo()
		}
	default:
		return // output lines and notes do not change the page
	}
	t.wake()
}

func (t *tracker) addSample(s runbook.SampleRecord) {
	nv := t.node(s.Gate)
	cv := t.check(nv, s.Check, s.Threshold)
	sv := SampleView{T: s.Time, Verdict: string(s.Verdict)}
	if f, ok := toFloat(s.Value); ok {
		sv.V = &f
	} else if s.Value != nil {
		sv.Text = displayValue(s.Value)
	}
	if s.Error != "" && sv.Text == "" {
		sv.Text = s.Error
	}
	cv.Samples = append(cv.Samples, sv)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func (t *tracker) ask(node string) *AskView {
	for _, a := range t.v.Asks {
		if a.Request.Node == node {
			return a
		}
	}
	return nil
}

func (t *tracker) removeAsk(node string) {
	out := t.v.Asks[:0]
	for _, a := range t.v.Asks {
		if a.Request.Node != node {
			out = append(out, a)
		}
	}
	t.v.Asks = out
}

func (t *tracker) compensated(name, status, errText string) {
	t.v.compSeen[name] = true
	nv := t.node(name)
	nv.Undo = status
	if t.v.Rollback != nil {
		next := false
		for _, s := range t.v.Rollback.Steps {
			if s.Name == name {
				s.Status, s.Error = status, errText
				next = true
				continue
			}
			if next && s.Status == "pending" {
				s.Status = "compensating"
				t.node(s.Name).Undo = "compensating"
				break
			}
		}
	}
	left := t.v.LeftToUndo[:0]
	for _, n := range t.v.LeftToUndo {
		if n != name || status != "compensated" {
			left = append(left, n)
		}
	}
	t.v.LeftToUndo = left
	if nv.Status == string(runbook.StateSucceeded) && status == "compensated" {
		nv.Status = string(runbook.StateCompensated)
	}
}

// recomputeUndo lists succeeded steps with a rollback, latest first.
func (t *tracker) recomputeUndo() {
	if t.v.Rollback != nil {
		return
	}
	type done struct {
		name string
		at   time.Time
		i    int
	}
	var ds []done
	for i, nv := range t.v.Nodes {
		if nv.Rollback && nv.Status == string(runbook.StateSucceeded) && !t.v.compSeen[nv.Name] && nv.Ended != nil {
			ds = append(ds, done{nv.Name, *nv.Ended, i})
		}
	}
	// Reverse completion order (ties: reverse plan order).
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && (ds[j].at.After(ds[j-1].at) || ds[j].at.Equal(ds[j-1].at) && ds[j].i > ds[j-1].i); j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
	left := []string{}
	for _, d := range ds {
		left = append(left, d.name)
	}
	t.v.LeftToUndo = left
}

// snapshot returns the view as redacted JSON and the channel closed at
// the next change.
func (t *tracker) snapshot(extra func(*View)) ([]byte, <-chan struct{}, error) {
	t.mu.Lock()
	v := t.v
	v.Now = time.Now()
	if extra != nil {
		extra(&v)
	}
	b, err := json.Marshal(&v)
	ch := t.changed
	t.mu.Unlock()
	if err != nil {
		return nil, ch, err
	}
	return []byte(t.red.Redact(string(b))), ch, nil
}

// fromRecords builds a view from a run's journal records.
func fromRecords(id string, recs []runbook.Record, plan *runbook.Plan, red *runbook.Redactor) *tracker {
	t := newTracker(id, plan, red)
	for _, e := range eventsFromRecords(recs) {
		t.Observe(e)
	}
	t.mu.Lock()
	// A run the journal shows unfinished may be in progress in another
	// process (or that process died): the page follows the journal.
	t.v.Live = !finished(recs)
	if t.v.Live {
		t.v.Status = "unfinished"
	}
	t.mu.Unlock()
	return t
}

// eventsFromRecords replays records as the events that wrote them, for
// views of runs in a journal.
func eventsFromRecords(recs []runbook.Record) []runbook.Event {
	var out []runbook.Event
	var pendingRollback []string
	rolling := false
	for k, r := range recs {
		h := runbook.Header{Run: r.Run, Node: r.Node, Time: r.Time}
		switch r.Kind {
		case runbook.RecRunStarted:
			out = append(out, runbook.RunStarted{Header: h, Runbook: r.Runbook, PlanHash: r.PlanHash, Mode: r.Mode, StartedBy: r.StartedBy})
		case runbook.RecNodeStarted:
			out = append(out, runbook.NodeStarted{Header: h, Attempt: r.Attempt})
		case runbook.RecNodeSucceeded:
			out = append(out, runbook.NodeSucceeded{Header: h, Attempt: r.Attempt, Outputs: r.Outputs})
		case runbook.RecNodeFailed:
			out = append(out, runbook.NodeFailed{Header: h, Attempt: r.Attempt, Error: r.Error, Final: r.Final})
		case runbook.RecNodeSkipped:
			out = append(out, runbook.NodeSkipped{Header: h})
		case runbook.RecGateSample:
			if r.Sample != nil {
				out = append(out, runbook.GateSampled{Header: h, Sample: *r.Sample})
			}
		case runbook.RecGateDecided:
			if r.Gate != nil && r.Gate.Outcome == engine.OutcomePassed {
				out = append(out, runbook.GatePassed{Header: h, Outcome: r.Gate.Outcome, Decision: r.Gate})
			} else if r.Gate != nil {
				out = append(out, runbook.GateFailed{Header: h, Outcome: r.Gate.Outcome, Decision: r.Gate})
			}
		case runbook.RecDecision:
			if r.Decision != nil {
				d := *r.Decision
				if d.Refused != "" {
					out = append(out, runbook.ApprovalRefused{Header: h, Decision: d, Reason: d.Refused})
				} else {
					out = append(out, runbook.ApprovalDecided{Header: h, Decision: d})
				}
			}
		case runbook.RecCompensating:
			if !rolling {
				rolling = true
				st, err := runbook.Replay(recs[:k])
				if err == nil {
					pendingRollback = st.Pending()
				}
				reason := ""
				if st != nil {
					reason = st.FailedErr
				}
				out = append(out, runbook.RollbackStarted{Header: h, Reason: reason, Pending: pendingRollback})
			}
		case runbook.RecCompensated:
			out = append(out, runbook.StepCompensated{Header: h, Attempt: r.Attempt})
		case runbook.RecCompensationFailed:
			out = append(out, runbook.CompensationFailed{Header: h, Attempt: r.Attempt, Error: r.Error, Final: r.Final})
		case runbook.RecRunFinished:
			out = append(out, runbook.RunFinished{Header: h, Status: r.Status, Error: r.Error})
			rolling = false
		}
	}
	return out
}
