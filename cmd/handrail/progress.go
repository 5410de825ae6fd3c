package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// progress renders the core's events for people: one plain line per event
// (CI, pipes), or, in a terminal, the same lines plus a live status line
// with the current phase and step, elapsed against budget, and a soak's
// countdown and latest sample.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	plan   *runbook.Plan
	tty    bool
	color  bool
	start  time.Time
	status string
	// running nodes: name -> start time
	running map[string]time.Time
	latest  map[string]runbook.SampleRecord
	verbose bool
	// asking holds the nodes whose approval the terminal is asking; while
	// it is not empty the approver's prompt, not the status line, is the
	// last line on the terminal. prompt is that prompt, redrawn after an
	// event line.
	asking map[string]bool
	prompt string
	// manual holds the message of a manual task or checklist item being
	// asked, printed with its answer on one line.
	manual map[string]string
	// last is the time of the latest event on the run's clock, seen at
	// lastWall on the wall clock: the refresher extrapolates from them.
	last, lastWall time.Time
	// ticking is closed to stop the refresher (at the end of the run).
	ticking chan struct{}
	// over lists the nodes that took longer than their budget ("deploy 8s
	// / 5s"), for the run's last line.
	over []string
}

func newProgress(w io.Writer, plan *runbook.Plan, tty, color bool) *progress {
	return &progress{w: w, plan: plan, tty: tty, color: color, running: map[string]time.Time{}, latest: map[string]runbook.SampleRecord{}, asking: map[string]bool{}}
}

// refreshEvery is how often the terminal's status line is redrawn between
// events (elapsed times and countdowns move on).
const refreshEvery = time.Second

const (
	cReset  = "\x1b[0m"
	cBold   = "\x1b[1m"
	cDim    = "\x1b[2m"
	cRed    = "\x1b[31m"
	cGreen  = "\x1b[32m"
	cYellow = "\x1b[33m"
	cBlue   = "\x1b[34m"
	cCyan   = "\x1b[36m"
)

func (p *progress) paint(code, s string) string {
	if !p.color {
		return s
	}
	return code + s + cReset
}

// Observe implements runbook.Observer.
func (p *progress) Observe(ev runbook.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := ev.EventHeader()
	if p.start.IsZero() {
		p.start = h.Time
	}
	p.last, p.lastWall = h.Time, time.Now()
	line := p.line(ev)
	if !p.tty {
		if line != "" {
			fmt.Fprintf(p.w, "%s %s\n", p.paint(cDim, p.stamp(h.Time)), line)
		}
		return
	}
	asking := len(p.asking) > 0
	p.track(ev)
	// Clear the status line (or the approver's prompt), print the event
	// line, then redraw what was last: the prompt while an approval waits
	// for its answer, else the status line.
	fmt.Fprint(p.w, "\r\x1b[K")
	if line != "" {
		fmt.Fprintf(p.w, "%s %s\n", p.paint(cDim, p.stamp(h.Time)), line)
	}
	switch {
	case len(p.asking) > 0:
		p.status = ""
		if asking {
			// The approver printed its prompt already; it was just cleared.
			fmt.Fprint(p.w, p.prompt)
		}
	default:
		p.status = p.statusLine(h.Time)
		fmt.Fprint(p.w, p.status)
	}
	if _, ok := ev.(runbook.RunFinished); ok {
		if p.ticking != nil {
			close(p.ticking)
			p.ticking = nil
		}
	} else if p.ticking == nil {
		p.ticking = make(chan struct{})
		go p.refresh(p.ticking)
	}
}

// track follows the approvals the terminal is asking.
func (p *progress) track(ev runbook.Event) {
	h := ev.EventHeader()
	switch e := ev.(type) {
	case runbook.ApprovalRequested:
		p.asking[h.Node] = true
		p.prompt = "   Approve? [y/N]: "
		if len(e.Request.Choices) > 0 {
			p.prompt = fmt.Sprintf("   Choose %s: ", strings.Join(e.Request.Choices, " / "))
		}
	case runbook.ApprovalDecided, runbook.NodeSucceeded, runbook.NodeSkipped:
		delete(p.asking, h.Node)
	case runbook.NodeFailed:
		if e.Final {
			delete(p.asking, h.Node)
		}
	case runbook.RunFinished:
		clear(p.asking)
	}
}

// refresh redraws the status line every refreshEvery until stop is
// closed, so that elapsed times and countdowns move between events. The
// run's time is extrapolated from the latest event's.
func (p *progress) refresh(stop <-chan struct{}) {
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		select {
		case <-stop:
			p.mu.Unlock()
			return
		default:
		}
		if len(p.asking) == 0 && len(p.running) > 0 {
			now := p.last.Add(time.Since(p.lastWall))
			if s := p.statusLine(now); s != p.status {
				p.status = s
				fmt.Fprint(p.w, "\r\x1b[K"+s)
			}
		}
		p.mu.Unlock()
	}
}

// stamp renders time relative to the run's start, like the seed's timeline
// (T+1:10).
func (p *progress) stamp(t time.Time) string {
	d := t.Sub(p.start)
	if d < 0 {
		d = 0
	}
	h := int(d.Hours())
	m := int(d.Minutes()) % 60
	s := int(d.Seconds()) % 60
	return fmt.Sprintf("T+%d:%02d:%02d", h, m, s)
}

func (p *progress) budget(node string) time.Duration {
	if p.plan == nil {
		return 0
	}
	n, ok := p.plan.Node(node)
	if !ok {
		return 0
	}
	if n.Step != nil {
		return n.Step.Budget
	}
	if n.Gate.Budget > 0 {
		return n.Gate.Budget
	}
	return n.Gate.Duration
}

func (p *progress) phase(node string) string {
	if p.plan == nil {
		return ""
	}
	if n, ok := p.plan.Node(node); ok {
		return n.Phase
	}
	return ""
}

func (p *progress) line(ev runbook.Event) string {
	h := ev.EventHeader()
	switch e := ev.(type) {
	case runbook.RunStarted:
		verb := "run"
		switch e.Mode {
		case "resume":
			verb = "resuming run"
		case "rollback":
			verb = "rolling back run"
		}
		return p.paint(cBold, fmt.Sprintf("%s %s of %q (plan %.12s)", verb, h.Run, e.Runbook, e.PlanHash))
	case runbook.NodeStarted:
		p.running[h.Node] = h.Time
		where := ""
		if e.Phase != "" {
			where = " [" + e.Phase + "]"
		}
		att := ""
		if e.Attempt > 1 {
			att = fmt.Sprintf(" (attempt %d)", e.Attempt)
		}
		return fmt.Sprintf("%s %s %s%s%s", p.paint(cBlue, "▶"), e.NodeKind, h.Node, where, att)
	case runbook.NodeSucceeded:
		took := ""
		mark := p.paint(cGreen, "✔")
		if st, ok := p.running[h.Node]; ok {
			d := h.Time.Sub(st)
			took = " in " + fmtDur(d)
			if b := p.budget(h.Node); b > 0 {
				took += " (budget " + fmtDur(b) + ")"
				if d > b {
					// Over budget: it succeeded, but not as planned.
					mark = p.paint(cYellow, "⚠")
					took = fmt.Sprintf(" in %s / %s: over budget", fmtDur(d), fmtDur(b))
					p.over = append(p.over, fmt.Sprintf("%s %s / %s", h.Node, fmtDur(d), fmtDur(b)))
				}
			}
		}
		delete(p.running, h.Node)
		delete(p.latest, h.Node)
		return fmt.Sprintf("%s %s%s", mark, h.Node, took)
	case runbook.NodeSkipped:
		delete(p.running, h.Node)
		return fmt.Sprintf("%s %s skipped: %s", p.paint(cDim, "∅"), h.Node, e.Reason)
	case runbook.NodeFailed:
		if !e.Final {
			return fmt.Sprintf("%s %s attempt %d failed: %s", p.paint(cYellow, "!"), h.Node, e.Attempt, e.Error)
		}
		delete(p.running, h.Node)
		delete(p.latest, h.Node)
		if strings.Contains(e.Error, runbook.ErrCancelled.Error()) {
			// Stopped because the run is stopping (another node failed,
			// Ctrl-C): not a failure of its own.
			return fmt.Sprintf("%s %s stopped: the run is stopping", p.paint(cYellow, "■"), h.Node)
		}
		return fmt.Sprintf("%s %s failed: %s", p.paint(cRed, "✘"), h.Node, e.Error)
	case runbook.NodeRetrying:
		return fmt.Sprintf("%s %s retrying in %s", p.paint(cYellow, "↻"), h.Node, fmtDur(e.Delay))
	case runbook.OutputLine:
		if !p.verbose {
			return ""
		}
		return p.paint(cDim, fmt.Sprintf("  %s %s| %s", h.Node, e.Stream, e.Line))
	case runbook.Note:
		return p.paint(cDim, fmt.Sprintf("  %s: %s", h.Node, e.Message))
	case runbook.GateSampled:
		p.latest[h.Node] = e.Sample
		if e.Sample.Verdict == engine.VerdictPass && !p.verbose && !e.Sample.DryRun {
			return ""
		}
		mark := p.paint(cCyan, "·")
		switch e.Sample.Verdict {
		case engine.VerdictFail:
			mark = p.paint(cRed, "×")
		case engine.VerdictError, engine.VerdictInconclusive, engine.VerdictNoData:
			mark = p.paint(cYellow, "?")
		}
		dry := ""
		if e.Sample.DryRun {
			dry = " (dry run)"
		}
		thr := ""
		if e.Sample.Threshold != "" {
			thr = " want " + e.Sample.Threshold
		}
		errText := ""
		if e.Sample.Error != "" {
			errText = ": " + e.Sample.Error
		}
		return fmt.Sprintf("  %s %s/%s #%d = %s%s → %s%s%s", mark, h.Node, e.Sample.Check, e.Sample.Seq, fmtValue(e.Sample.Value), thr, e.Sample.Verdict, dry, errText)
	case runbook.GatePassed:
		return ""
	case runbook.GateFailed:
		return fmt.Sprintf("%s gate %s %s: %s (on_fail %s)", p.paint(cRed, "✘"), h.Node, e.Outcome, e.Reason, e.Policy)
	case runbook.ApprovalRequested:
		if e.Request.Kind == "manual" {
			// A checklist item: printed once, with its answer.
			if p.manual == nil {
				p.manual = map[string]string{}
			}
			p.manual[h.Node] = e.Request.Message
			return ""
		}
		return fmt.Sprintf("%s %s asks: %s", p.paint(cYellow, "?"), h.Node, e.Request.Message)
	case runbook.ApprovalDecided:
		if msg, ok := p.manual[h.Node]; ok {
			delete(p.manual, h.Node)
			mark, verdict := p.paint(cGreen, "☑"), "confirmed"
			if !e.Decision.Approved {
				mark, verdict = p.paint(cRed, "☒"), "NOT confirmed"
			}
			by := e.Decision.By
			if by == "" {
				by = "approver"
			}
			return fmt.Sprintf("  %s %s: %s — %s by %s", mark, h.Node, msg, verdict, by)
		}
		verdict := p.paint(cGreen, "approved")
		if !e.Decision.Approved {
			verdict = p.paint(cRed, "denied")
		}
		if e.Decision.Choice != "" {
			verdict = e.Decision.Choice
		}
		by := e.Decision.By
		if by == "" {
			by = "approver"
		}
		return fmt.Sprintf("  %s %s by %s", h.Node, verdict, by)
	case runbook.RollbackStarted:
		if len(e.Pending) == 0 {
			return p.paint(cRed+cBold, fmt.Sprintf("⟲ stopping (%s): nothing to compensate", e.Reason))
		}
		return p.paint(cRed+cBold, fmt.Sprintf("⟲ rolling back (%s), in this order: %s", e.Reason, strings.Join(e.Pending, ", ")))
	case runbook.StepCompensated:
		return fmt.Sprintf("%s %s compensated", p.paint(cYellow, "⟲"), h.Node)
	case runbook.CompensationFailed:
		if e.Final {
			return fmt.Sprintf("%s %s compensation FAILED: %s", p.paint(cRed, "✘"), h.Node, e.Error)
		}
		return fmt.Sprintf("%s %s compensation attempt %d failed: %s", p.paint(cYellow, "!"), h.Node, e.Attempt, e.Error)
	case runbook.RunFinished:
		col := cGreen
		if e.Status != runbook.StatusSucceeded {
			col = cRed
		}
		s := p.paint(col+cBold, fmt.Sprintf("run %s %s after %s", h.Run, e.Status, fmtDur(h.Time.Sub(p.start))))
		if len(p.over) > 0 {
			s += "\n  " + p.paint(cYellow, "⚠") + fmt.Sprintf(" over budget (%d): %s", len(p.over), strings.Join(p.over, ", "))
		}
		if len(e.Pending) > 0 {
			s += "\n  left to undo: " + strings.Join(e.Pending, ", ")
		}
		return s
	}
	return ""
}

func (p *progress) statusLine(now time.Time) string {
	if len(p.running) == 0 {
		return ""
	}
	var parts []string
	for name, st := range p.running {
		part := name
		if ph := p.phase(name); ph != "" {
			part = ph + "/" + name
		}
		// Whole seconds: the line is redrawn every second.
		el := now.Sub(st).Round(time.Second)
		if b := p.budget(name); b > 0 {
			if el > b {
				// Over budget while it runs, as in the event line.
				part = "⚠ " + part
			}
			part += fmt.Sprintf(" %s/%s", fmtDur(el), fmtDur(b))
			if n, ok := p.plan.Node(name); ok && n.Gate != nil {
				switch {
				case n.Gate.Duration > 0:
					part += fmt.Sprintf(" (%s left)", fmtDur(n.Gate.Duration-el))
				case n.Gate.Kind == runbook.GateCheck && n.Gate.Timeout > 0:
					part += fmt.Sprintf(" (gives up in %s)", fmtDur(n.Gate.Timeout-el))
				}
			}
		} else {
			part += " " + fmtDur(el)
		}
		if s, ok := p.latest[name]; ok {
			part += fmt.Sprintf(" last %s=%s %s", s.Check, fmtValue(s.Value), s.Verdict)
		}
		parts = append(parts, part)
	}
	sort.Strings(parts)
	return p.paint(cCyan, fitWidth("⏳ "+strings.Join(parts, " │ "), p.width()-1))
}

// width is the terminal's width in columns (80 when it cannot be told).
func (p *progress) width() int {
	if f, ok := p.w.(interface{ Fd() uintptr }); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	return 80
}

// fitWidth cuts s to at most cols terminal columns, ending in "…" when it
// was cut: a status line that wrapped could not be erased with \r\x1b[K
// and would stay on the screen.
func fitWidth(s string, cols int) string {
	w := 0
	for i, r := range s {
		rw := runeCols(r)
		if w+rw > cols-1 {
			// Does the rest fit without an ellipsis?
			rest := 0
			for _, r2 := range s[i:] {
				rest += runeCols(r2)
			}
			if w+rest <= cols {
				return s
			}
			return s[:i] + "…"
		}
		w += rw
	}
	return s
}

// runeCols is the number of columns a terminal gives r: two for East Asian
// wide characters and emoji such as ⏳, one otherwise.
func runeCols(r rune) int {
	switch {
	case r == '⏳' || r == '⌛',
		r >= 0x1100 && r <= 0x115f,
		r >= 0x2e80 && r <= 0xa4cf,
		r >= 0xac00 && r <= 0xd7a3,
		r >= 0xf900 && r <= 0xfaff,
		r >= 0xfe30 && r <= 0xfe4f,
		r >= 0xff00 && r <= 0xff60,
		r >= 0xffe0 && r <= 0xffe6,
		r >= 0x1f300 && r <= 0x1faff,
		r >= 0x20000 && r <= 0x3fffd:
		return 2
	}
	return 1
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// fmtValue renders a sample value on one line (an HTTP body's newlines
// and indentation become single spaces), at most 60 characters.
func fmtValue(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return "(none)"
	case float64:
		return fmt.Sprintf("%.4g", x)
	case string:
		s = x
	case map[string]any, []any:
		// A parsed JSON body reads as JSON, not as Go's map[...].
		if b, err := json.Marshal(x); err == nil {
			s = string(b)
		} else {
			s = fmt.Sprint(x)
		}
	default:
		s = fmt.Sprint(x)
	}
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 60 {
		r := []rune(s)
		return string(r[:57]) + "..."
	}
	return s
}
