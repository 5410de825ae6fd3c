package main

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/internal/lazyre"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// reportRow is one node of the report's timeline.
type reportRow struct {
	Name, Phase, Kind, GateKind string
	Status                      string
	Budget                      time.Duration
	Start, End                  time.Time
	Attempts                    int
	// Retries holds the times of the attempts that failed and were
	// retried.
	Retries    []time.Time
	Error      string
	CompStart  time.Time
	CompEnd    time.Time
	CompFailed bool
	Samples    []runbook.SampleRecord
	Decisions  []runbook.Decision
	Took       time.Duration
	Over       bool // took longer than its budget
}

// TookText is the time the node took, rounded for people.
func (r reportRow) TookText() string { return fmtDur(r.Took) }

// BudgetText is the node's budget, rounded for people.
func (r reportRow) BudgetText() string { return fmtDur(r.Budget) }

type reportChart struct {
	Gate, Check, Threshold string
	// Why is how the check ended and the rule that decided it, from the
	// gate's recorded decision.
	Why         string
	SVG         template.HTML
	Samples     int
	Breaches    int
	Last        string
	LastVerdict string
}

type reportData struct {
	Run, Runbook, Description, Status, PlanHash string
	Started, Ended                              time.Time
	Duration, Window, Budget                    string
	Cause                                       string
	Failed                                      string
	Interrupted                                 bool
	Timeline                                    template.HTML
	Rows                                        []reportRow
	Charts                                      []reportChart
	Checks                                      []reportChart
	Decisions                                   []reportDecision
	Pending                                     []string
	Compensated                                 []string
	CompensationFailed                          []string
	Inputs                                      []runbook.Input
	StatusClass                                 string
	Counts                                      []reportCount
	Processes                                   []string
	// Versions: the plan versions of a run resumed or rolled back with an
	// edited runbook (or from a node), oldest first.
	Versions []runbook.PlanVersion
	// Rehearsal marks a sandbox run: its banner says nothing real changed.
	Rehearsal bool
	// Progress holds the latest state of each unit steps recorded (the
	// hosts of a fan-out).
	Progress []reportProgress
}

type reportCount struct {
	N     int
	Label string
	Class string
}

type reportDecision struct {
	Node, By, Answer, Comment, Class string
	At                               string
}

// writeReport renders a run's journal (and its plan, when available) as a
// self-contained HTML page: no network, no script.
func writeReport(w io.Writer, recs []runbook.Record, plan *runbook.Plan) error {
	st, err := runbook.Replay(recs)
	if err != nil {
		return err
	}
	d := reportData{Run: st.Run.ID, Runbook: st.Run.Runbook, Status: string(st.Status), PlanHash: st.PlanHash,
		Started: st.Run.StartedAt, Ended: st.LastTime, Pending: st.Pending(), Compensated: st.Compensated,
		CompensationFailed: st.CompensationFailed, Inputs: st.Inputs, Failed: st.Failed, Cause: st.FailedErr}
	if d.Status == "" {
		d.Status = "unfinished"
	}
	if len(st.Versions) > 1 {
		d.Versions = st.Versions
	}
	d.Rehearsal = inputValue(recs, inputSandbox) != ""
	d.Progress = progressRows(recs)
	d.Pending = leftToUndo(st, plan)
	d.StatusClass = map[string]string{"succeeded": "ok", "rolled_back": "warn"}[d.Status]
	if d.StatusClass == "" {
		d.StatusClass = "bad"
	}
	d.Duration = fmtDur(st.LastTime.Sub(st.Run.StartedAt))
	rows := map[string]*reportRow{}
	var order []string
	add := func(name string) *reportRow {
		if r, ok := rows[name]; ok {
			return r
		}
		r := &reportRow{Name: name, Kind: "step"}
		rows[name] = r
		order = append(order, name)
		return r
	}
	if plan != nil {
		d.Description = plan.Description
		d.Window = fmtDur(plan.Window)
		d.Budget = fmtDur(plan.Budget())
		for _, n := range plan.Nodes() {
			r := add(n.Name)
			r.Phase, r.Kind = n.Phase, n.Kind()
			if n.Step != nil {
				r.Budget = n.Step.Budget
			} else {
				r.GateKind = string(n.Gate.Kind)
				if n.Gate.Kind != runbook.GateGuard {
					r.Budget = n.Gate.Budget
					if r.Budget == 0 {
						r.Budget = n.Gate.Duration
					}
				}
			}
		}
	}
	var markers []marker
	for _, rec := range recs {
		if rec.Kind == runbook.RecRunStarted {
			if rec.Mode != "" && rec.Mode != "run" {
				markers = append(markers, marker{At: rec.Time, Label: "handrail " + rec.Mode, Class: "mk-mode"})
				d.Processes = append(d.Processes, fmt.Sprintf("%s at %s", rec.Mode, rec.Time.Format("15:04:05")))
			}
			continue
		}
		if rec.Node == "" {
			continue
		}
		r := add(rec.Node)
		switch rec.Kind {
		case runbook.RecNodeStarted:
			if r.Start.IsZero() {
				r.Start = rec.Time
			}
			r.Attempts = rec.Attempt
			r.Status = "running"
		case runbook.RecNodeSucceeded:
			r.End, r.Status = rec.Time, "succeeded"
		case runbook.RecNodeFailed:
			if rec.Final {
				r.End, r.Status, r.Error = rec.Time, "failed", rec.Error
				if strings.Contains(rec.Error, runbook.ErrCancelled.Error()) {
					// Stopped because the run stopped: interrupted (Ctrl-C)
					// when it is what stopped the run, else stopped by
					// another node's failure.
					r.Status = "stopped"
					if rec.Node == st.Failed {
						r.Status = "interrupted"
						d.Interrupted = true
					}
				}
			} else {
				r.Retries = append(r.Retries, rec.Time)
			}
		case runbook.RecNodeSkipped:
			r.Status = "skipped"
		case runbook.RecGateSample:
			if rec.Sample != nil {
				r.Samples = append(r.Samples, *rec.Sample)
			}
		case runbook.RecCompensating:
			if r.CompStart.IsZero() {
				r.CompStart = rec.Time
			}
		case runbook.RecCompensated:
			r.CompEnd, r.Status = rec.Time, "compensated"
		case runbook.RecCompensationFailed:
			if rec.Final {
				r.CompEnd, r.CompFailed, r.Status = rec.Time, true, "compensation failed"
			}
		case runbook.RecDecision:
			if rec.Decision != nil {
				dec := *rec.Decision
				if dec.At.IsZero() {
					dec.At = rec.Time
				}
				r.Decisions = append(r.Decisions, dec)
				ans, class := "denied", "bad"
				if dec.Approved {
					ans, class = "approved", "ok"
				}
				if dec.Choice != "" {
					ans = dec.Choice
				}
				if dec.TimedOut {
					ans += " (timed out)"
				}
				by := dec.By
				if by == "" {
					by = "approver"
				}
				d.Decisions = append(d.Decisions, reportDecision{Node: rec.Node, By: by, Answer: ans, Comment: dec.Comment,
					At: "T+" + clock(dec.At.Sub(st.Run.StartedAt)), Class: class})
			}
		}
	}
	var nSucceeded, nFailed, nInterrupted, nComp, nSkipped, nNotRun, nRetries, nSamples, nBreaches int
	for _, name := range order {
		r := rows[name]
		if r.Status == "" {
			r.Status = "not run"
		}
		if !r.Start.IsZero() && !r.End.IsZero() {
			r.Took = r.End.Sub(r.Start)
			r.Over = r.Budget > 0 && r.Took > r.Budget
		}
		switch r.Status {
		case "succeeded":
			nSucceeded++
		case "failed", "compensation failed":
			nFailed++
		case "interrupted":
			nInterrupted++
		case "compensated":
			nComp++
		case "skipped":
			nSkipped++
		case "not run":
			nNotRun++
		}
		nRetries += len(r.Retries)
		nSamples += len(r.Samples)
		for _, s := range r.Samples {
			if s.Verdict == engine.VerdictFail {
				nBreaches++
			}
		}
		d.Rows = append(d.Rows, *r)
	}
	for _, c := range []reportCount{
		{nSucceeded, "succeeded", "ok"}, {nComp, "compensated", "comp"}, {nFailed, "failed", "bad"}, {nInterrupted, "interrupted", "warn"},
		{nRetries, "retries", "warn"}, {nSamples, "gate samples", ""}, {nBreaches, "breaches", "bad"},
		{len(d.Decisions), "decisions", ""}, {nSkipped, "skipped", ""}, {nNotRun, "not run", ""},
	} {
		if c.N > 0 || c.Label == "succeeded" || c.Label == "failed" {
			d.Counts = append(d.Counts, c)
		}
	}
	if st.Failed != "" {
		if r, ok := rows[st.Failed]; ok && !r.End.IsZero() {
			label := "✘ " + st.Failed
			if d.Interrupted {
				label = "■ interrupted at " + st.Failed
			}
			markers = append(markers, marker{At: r.End, Label: label, Class: "mk-fail"})
		}
	}
	d.Timeline = template.HTML(timelineSVG(d.Rows, st.Run.StartedAt, st.LastTime, markers))
	d.Charts, d.Checks = sampleCharts(st.Samples, st.Run.StartedAt)
	explainCharts(recs, d.Charts, d.Checks)
	return reportTmpl().Execute(w, d)
}

// marker is a vertical line across the timeline (the failure, a later
// resume or rollback).
type marker struct {
	At           time.Time
	Label, Class string
}

// niceStep picks the timeline's tick interval: about six ticks.
func niceStep(total time.Duration) time.Duration {
	for _, s := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
		30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 12 * time.Hour, 24 * time.Hour} {
		if total/s <= 8 {
			return s
		}
	}
	return total / 6
}

// clock renders a duration as h:mm:ss or m:ss.
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	h := int(d.Hours())
	m := int(d.Minutes()) % 60
	s := int(d.Seconds()) % 60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

func timelineSVG(rows []reportRow, start, end time.Time, markers []marker) string {
	const left, width, right, rowH, phaseH = 250.0, 720.0, 130.0, 22.0, 24.0
	// The axis labels, then one lane per marker label, then the rows.
	top := 26 + 14*float64(len(markers))
	// The scale covers the run, and budgets that end after it up to half
	// the run's length again: a budget far longer than the run would
	// squeeze the run into a sliver. Longer budgets are cut at the edge.
	actual := end.Sub(start)
	total := actual
	for _, r := range rows {
		if !r.Start.IsZero() && r.Budget > 0 {
			if p := r.Start.Sub(start) + r.Budget; p > total {
				total = p
			}
		}
	}
	if limit := actual + actual/2; actual > 0 && total > limit {
		total = limit
	}
	if total <= 0 {
		total = time.Second
	}
	step := niceStep(total)
	total = time.Duration(math.Ceil(float64(total)/float64(step))) * step
	x := func(d time.Duration) float64 { return left + width*float64(d)/float64(total) }
	xt := func(t time.Time) float64 { return x(t.Sub(start)) }
	// Layout: a header row per phase, a row per node.
	type line struct {
		phase string
		row   *reportRow
		y     float64
	}
	var lines []line
	y := top
	phase := "\x00"
	for i := range rows {
		r := &rows[i]
		if r.Phase != phase {
			phase = r.Phase
			if phase != "" {
				lines = append(lines, line{phase: phase, y: y})
				y += phaseH
			}
		}
		lines = append(lines, line{row: r, y: y})
		y += rowH
	}
	h := y + 26
	full := left + width + right
	var b strings.Builder
	svgf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" class="timeline" role="img" aria-label="timeline">`, full, h)
	// Zebra and phase bands first, grid over them.
	for i, l := range lines {
		if l.row == nil {
			svgf(&b, `<rect x="0" y="%.0f" width="%.0f" height="%.0f" class="phaseband"/>`, l.y, full, phaseH)
			svgf(&b, `<text x="8" y="%.0f" class="phase">%s</text>`, l.y+16, strings.ToUpper(l.phase))
			continue
		}
		if i%2 == 0 {
			svgf(&b, `<rect x="0" y="%.0f" width="%.0f" height="%.0f" class="zebra"/>`, l.y, full, rowH)
		}
	}
	tick := clock
	if step < time.Second {
		tick = func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s" }
	}
	for t := time.Duration(0); t <= total; t += step {
		xx := x(t)
		svgf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" class="grid"/>`, xx, top-6, xx, h-22)
		svgf(&b, `<text x="%.1f" y="%.0f" class="tick" text-anchor="middle">T+%s</text>`, xx, 14.0, tick(t))
		svgf(&b, `<text x="%.1f" y="%.0f" class="tick" text-anchor="middle">T+%s</text>`, xx, h-8, tick(t))
	}
	svgf(&b, `<text x="%.0f" y="%.0f" class="tick colhead" text-anchor="end">took / budget</text>`, full-8, 14.0)
	for _, l := range lines {
		if l.row == nil {
			continue
		}
		r, y := l.row, l.y
		cls := "label " + r.Kind
		if r.Status == "not run" || r.Status == "skipped" {
			cls += " faded"
		}
		name := r.Name
		if r.GateKind != "" {
			name = r.GateKind + " · " + r.Name
		}
		svgf(&b, `<text x="%.0f" y="%.0f" class="%s">%s</text>`, 18.0, y+15, cls, ellipsize(name, 34))
		// The budget: a hollow box from the node's actual start (so an
		// overrun shows past its end).
		if r.Budget > 0 && !r.Start.IsZero() {
			x0, x1 := xt(r.Start), xt(r.Start.Add(r.Budget))
			if x1 > left+width {
				// Cut at the edge; an arrow says it goes on.
				x1 = left + width
				svgf(&b, `<path d="M%.1f %.0f l5 7 l-5 7 z" class="cut"/>`, x1, y+4)
			}
			svgf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="14" rx="3" class="planned"><title>%s: budget %s</title></rect>`,
				x0, y+4, math.Max(2, x1-x0), r.Name, fmtDur(r.Budget))
		}
		if !r.Start.IsZero() {
			e := r.End
			if e.IsZero() {
				e = end
			}
			cls := "actual " + strings.ReplaceAll(r.Status, " ", "-")
			tip := fmt.Sprintf("%s: %s at T+%s, took %s", r.Name, r.Status, clock(r.Start.Sub(start)), fmtDur(e.Sub(r.Start)))
			if r.Attempts > 1 {
				tip += fmt.Sprintf(", %d attempts", r.Attempts)
			}
			if r.Error != "" {
				tip += "\n" + r.Error
			}
			x0, x1 := xt(r.Start), xt(e)
			if x1-x0 < 3 {
				// Took (almost) no time at this scale: a diamond.
				svgf(&b, `<path d="M%.1f %.1f l4 4 l-4 4 l-4 -4 z" class="%s"><title>%s</title></path>`, x0, y+7, cls, tip)
			} else {
				svgf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="8" rx="2" class="%s"><title>%s</title></rect>`, x0, y+7, x1-x0, cls, tip)
				if r.Over && r.Budget > 0 {
					ox := xt(r.Start.Add(r.Budget))
					svgf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="8" class="overrun"><title>over budget by %s</title></rect>`, ox, y+7, math.Max(1, x1-ox), fmtDur(r.Took-r.Budget))
				}
			}
			for _, rt := range r.Retries {
				svgf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" class="retrytick"><title>attempt failed, retried</title></line>`, xt(rt), xt(rt), y+3, y+19)
			}
			if r.Attempts > 1 {
				svgf(&b, `<text x="%.1f" y="%.0f" class="retry">↻ %d attempts</text>`, math.Max(x1, x0+4)+6, y+15, r.Attempts)
			}
		}
		for _, s := range r.Samples {
			svgf(&b, `<circle cx="%.1f" cy="%.0f" r="2.2" class="dot v-%s"><title>%s #%d at T+%s: %s → %s</title></circle>`,
				xt(s.Time), y+18, s.Verdict, s.Check, s.Seq, clock(s.Time.Sub(start)), fmtValue(s.Value), s.Verdict)
		}
		if len(r.Decisions) > 0 {
			// One label per row: the last decision, and how many there were.
			dec := r.Decisions[len(r.Decisions)-1]
			glyph, cls := "✔", "dec-ok"
			if !dec.Approved {
				glyph, cls = "✘", "dec-no"
			}
			who := dec.By
			if who == "" {
				who = "approver"
			}
			if n := len(r.Decisions); n > 1 {
				who += fmt.Sprintf(" (%d answers)", n)
			}
			svgf(&b, `<text x="%.1f" y="%.0f" class="%s">%s %s</text>`, xt(dec.At)+7, y+15, cls, glyph, who)
		}
		if !r.CompStart.IsZero() {
			ce := r.CompEnd
			if ce.IsZero() {
				ce = end
			}
			cls := "rollback"
			if r.CompFailed {
				cls += " failed"
			}
			x0, x1 := xt(r.CompStart), xt(ce)
			tip := fmt.Sprintf("rollback of %s at T+%s, took %s", r.Name, clock(r.CompStart.Sub(start)), fmtDur(ce.Sub(r.CompStart)))
			svgf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="12" rx="2" class="%s"><title>%s</title></rect>`, x0, y+5, math.Max(4, x1-x0), cls, tip)
			svgf(&b, `<text x="%.1f" y="%.0f" class="rbglyph">⟲</text>`, math.Max(x1, x0+4)+3, y+15)
		}
		// Right column: took / budget.
		took := ""
		switch {
		case r.Status == "not run" || r.Status == "skipped":
			took = r.Status
		case !r.End.IsZero():
			took = fmtDur(r.Took)
		case !r.Start.IsZero():
			took = "…"
		}
		if r.Budget > 0 {
			took += " / " + fmtDur(r.Budget)
		}
		cls = "took"
		if r.Over {
			cls += " over"
		}
		svgf(&b, `<text x="%.0f" y="%.0f" class="%s" text-anchor="end">%s</text>`, full-8, y+15, cls, took)
	}
	sort.SliceStable(markers, func(i, j int) bool { return markers[i].At.Before(markers[j].At) })
	for i, m := range markers {
		xx := xt(m.At)
		ly := 26 + 14*float64(i) + 8
		svgf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" class="marker %s"/>`, xx, xx, ly-9, h-22, m.Class)
		anchor, lx := "start", xx+4
		if xx > left+width*0.75 {
			anchor, lx = "end", xx-4
		}
		svgf(&b, `<text x="%.1f" y="%.0f" class="mklabel %s" text-anchor="%s">%s</text>`, lx, ly, m.Class, anchor, m.Label)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// ellipsize cuts s to n runes.
func ellipsize(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

var thresholdRe = lazyre.New(`(<=|>=|<|>|==)\s*(-?[0-9.]+(?:e-?[0-9]+)?)`)

// sampleCharts plots each check's numeric samples (two or more) against
// its threshold; the other checks are listed.
// explainCharts gives each chart the recorded decision of its check
// (handrail show RUN -gate NAME has the whole of it).
func explainCharts(recs []runbook.Record, lists ...[]reportChart) {
	why := map[[2]string]string{}
	for _, rec := range recs {
		if rec.Kind != runbook.RecGateDecided || rec.Gate == nil {
			continue
		}
		for _, c := range rec.Gate.Checks {
			text := fmt.Sprintf("%s (%s): %s", c.Outcome, c.Rule, c.Explanation)
			if rec.Gate.Decider == c.Check {
				text = "decided the gate: " + text
			}
			why[[2]string{rec.Node, c.Check}] = text
		}
	}
	for _, l := range lists {
		for i := range l {
			l[i].Why = why[[2]string{l[i].Gate, l[i].Check}]
		}
	}
}

func sampleCharts(samples []runbook.SampleRecord, start time.Time) (charts, others []reportChart) {
	type key struct{ gate, check string }
	groups := map[key][]runbook.SampleRecord{}
	var keys []key
	for _, s := range samples {
		k := key{s.Gate, s.Check}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	for _, k := range keys {
		ss := groups[k]
		c := reportChart{Gate: k.gate, Check: k.check, Threshold: ss[0].Threshold, Samples: len(ss)}
		for _, s := range ss {
			if s.Verdict == engine.VerdictFail {
				c.Breaches++
			}
		}
		last := ss[len(ss)-1]
		c.Last = fmt.Sprintf("%s (%s)", fmtValue(last.Value), last.Verdict)
		c.LastVerdict = string(last.Verdict)
		nums := 0
		for _, s := range ss {
			if _, ok := numeric(s.Value); ok {
				nums++
			}
		}
		if nums < 2 {
			c.Last = fmtValue(last.Value)
			others = append(others, c)
			continue
		}
		c.SVG = template.HTML(chartSVG(ss, start))
		charts = append(charts, c)
	}
	return charts, others
}

func numeric(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// chartSVG plots a check's samples over time against its threshold: the
// failing side of the threshold shaded red, points coloured by verdict.
func chartSVG(ss []runbook.SampleRecord, start time.Time) string {
	const w, h, padL, padR, padT, padB = 520.0, 150.0, 48.0, 14.0, 12.0, 24.0
	lo, hi := math.Inf(1), math.Inf(-1)
	var thr float64
	op := ""
	hasThr := false
	if m := thresholdRe.FindStringSubmatch(ss[0].Threshold); m != nil {
		if f, err := strconv.ParseFloat(m[2], 64); err == nil {
			thr, hasThr, op = f, true, m[1]
			lo, hi = f, f
		}
	}
	n := 0
	for _, s := range ss {
		if f, ok := numeric(s.Value); ok {
			lo, hi = math.Min(lo, f), math.Max(hi, f)
			n++
		}
	}
	t0, t1 := ss[0].Time, ss[len(ss)-1].Time
	span := t1.Sub(t0)
	xOf := func(i int, t time.Time) float64 {
		if span <= 0 {
			return padL + (w-padL-padR)*float64(i+1)/float64(len(ss)+1)
		}
		return padL + (w-padL-padR)*float64(t.Sub(t0))/float64(span)
	}
	var b strings.Builder
	svgf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" class="chart">`, w, h)
	svgf(&b, `<text x="%.0f" y="%.0f" class="tick">T+%s</text><text x="%.0f" y="%.0f" class="tick" text-anchor="end">T+%s</text>`,
		padL, h-6, clock(t0.Sub(start)), w-padR, h-6, clock(t1.Sub(start)))
	if n == 0 {
		// Non-numeric samples: a strip of verdicts.
		for i, s := range ss {
			svgf(&b, `<circle cx="%.1f" cy="%.0f" r="5" class="v-%s"><title>#%d %s → %s</title></circle>`, xOf(i, s.Time), (h-padB)/2, s.Verdict, s.Seq, fmtValue(s.Value), s.Verdict)
		}
		b.WriteString(`</svg>`)
		return b.String()
	}
	if hi == lo {
		d := math.Abs(hi) * 0.5
		if d == 0 {
			d = 1
		}
		hi, lo = hi+d, lo-d
	}
	pad := (hi - lo) * 0.15
	hi += pad
	lo -= pad
	y := func(f float64) float64 { return padT + (h-padT-padB)*(hi-f)/(hi-lo) }
	// Frame and y ticks.
	svgf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" class="plot"/>`, padL, padT, w-padL-padR, h-padT-padB)
	for _, f := range []float64{hi - pad, lo + pad} {
		svgf(&b, `<text x="%.0f" y="%.1f" class="tick" text-anchor="end">%s</text><line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" class="grid"/>`,
			padL-5, y(f)+3, fmtNum(f), padL, w-padR, y(f), y(f))
	}
	if hasThr {
		yt := y(thr)
		// Shade the failing side.
		switch op {
		case "<", "<=":
			svgf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.1f" class="failzone"/>`, padL, padT, w-padL-padR, math.Max(0, yt-padT))
		case ">", ">=":
			svgf(&b, `<rect x="%.0f" y="%.1f" width="%.0f" height="%.1f" class="failzone"/>`, padL, yt, w-padL-padR, math.Max(0, h-padB-yt))
		}
		svgf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" class="threshold"/><text x="%.0f" y="%.1f" class="tick thr">threshold %s %s</text>`,
			padL, w-padR, yt, yt, padL+6, yt-4, op, fmtNum(thr))
	}
	var pts []string
	for i, s := range ss {
		if f, ok := numeric(s.Value); ok {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(i, s.Time), y(f)))
		}
	}
	if len(pts) > 1 {
		svgf(&b, `<polyline points="%s" class="series"/>`, strings.Join(pts, " "))
	}
	for i, s := range ss {
		if f, ok := numeric(s.Value); ok {
			r := 3.0
			if s.Verdict != engine.VerdictPass {
				r = 4.5
			}
			svgf(&b, `<circle cx="%.1f" cy="%.1f" r="%.1f" class="v-%s"><title>#%d at T+%s: %s (%s)</title></circle>`, xOf(i, s.Time), y(f), r, s.Verdict, s.Seq, clock(s.Time.Sub(start)), fmtNum(f), s.Verdict)
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// fmtNum renders a sample value compactly.
func fmtNum(f float64) string {
	return strconv.FormatFloat(f, 'g', 4, 64)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// reportTmpl is parsed on first use (not when the program starts).
var reportTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{"inc": func(i int) int { return i + 1 }}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Handrail run {{.Run}} — {{.Runbook}}</title>
<style>
:root{--ok:#1f9d55;--bad:#d64545;--warn:#d98e04;--comp:#8aa79a;--ink:#1d2733;--mute:#6b7785;--line:#e3e8ee;--bg:#f3f5f8;--blue:#3b7ddd}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 "DejaVu Sans",-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#16202c;color:#fff;padding:22px 32px 18px}header h1{margin:0 0 2px;font-size:24px;font-weight:600;display:flex;align-items:center;gap:12px}
header .desc{color:#cfd8e2;margin:0 0 8px}header .meta{color:#9fb0c2;font-size:13px}header .meta span{margin-right:20px}header code{background:#243244;color:#dfe7ef}
.badge{display:inline-block;padding:3px 10px;border-radius:12px;font-weight:700;font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#fff}
.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}.badge.warn{background:var(--warn)}
main{padding:22px 32px;max-width:1240px}section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin-bottom:18px}
h2{font-size:15px;margin:0 0 12px;color:#2b3a4a}
.cause{border-left:5px solid var(--bad);background:#fff6f6}.cause.warn{border-left-color:var(--warn);background:#fffaf0}.cause p{margin:4px 0}.cause .err{font-family:"DejaVu Sans Mono",monospace;font-size:12.5px;color:#8a2b2b;word-break:break-word}
.counts{display:flex;flex-wrap:wrap;gap:10px;margin:0 0 18px}.count{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:100px}
.count b{display:block;font-size:22px;line-height:1.1}.count span{color:var(--mute);font-size:12px}.count.ok b{color:var(--ok)}.count.bad b{color:var(--bad)}.count.warn b{color:var(--warn)}.count.comp b{color:#4f7d67}
svg.timeline{width:100%;height:auto;display:block}svg .grid{stroke:#e6eaef}svg .tick{font-size:10px;fill:var(--mute)}svg .colhead{font-weight:bold}
svg .zebra{fill:#f8fafc}svg .phaseband{fill:#eef2f7}svg .phase{font-size:11px;font-weight:bold;fill:#44546a;letter-spacing:.08em}
svg .label{font-size:11.5px;fill:var(--ink)}svg .label.gate{fill:#355a8a}svg .label.faded{fill:#a4afbb}
svg .planned{fill:#eef1f5;stroke:#9aa8b6;stroke-dasharray:3 2}svg .cut{fill:#9aa8b6}svg .actual{fill:var(--blue)}svg .actual.succeeded{fill:var(--ok)}
svg .actual.failed,svg .actual.compensation-failed{fill:var(--bad)}svg .actual.compensated{fill:var(--comp)}svg .actual.stopped{fill:#b6bfca}svg .actual.interrupted{fill:var(--warn)}
svg .overrun{fill:var(--warn)}svg .rollback{fill:var(--bad)}svg .rollback.failed{fill:#7a1010}svg .rbglyph{font-size:12px;fill:var(--bad);font-weight:bold}
svg .retry{font-size:10.5px;fill:var(--warn);font-weight:bold}svg .retrytick{stroke:var(--warn);stroke-width:2}
svg .dot{opacity:.9}svg .took{font-size:11px;fill:var(--mute)}svg .took.over{fill:var(--warn);font-weight:bold}
svg .dec-ok{font-size:11px;fill:var(--ok);font-weight:bold}svg .dec-no{font-size:11px;fill:var(--bad);font-weight:bold}
svg .marker{stroke-width:1.5;stroke-dasharray:4 3}svg .marker.mk-fail{stroke:var(--bad)}svg .marker.mk-mode{stroke:#7a5cc7}
svg .mklabel{font-size:11px;font-weight:bold}svg .mklabel.mk-fail{fill:var(--bad)}svg .mklabel.mk-mode{fill:#7a5cc7}
svg.chart{width:100%;height:auto;display:block}svg .plot{fill:#fcfdfe;stroke:var(--line)}svg .failzone{fill:#d64545;opacity:.08}
svg .series{fill:none;stroke:#3b7ddd;stroke-width:1.6}svg .threshold{stroke:var(--bad);stroke-width:1.5;stroke-dasharray:6 3}svg .thr{fill:var(--bad);font-weight:bold}
svg .v-pass{fill:var(--ok)}svg .v-fail{fill:var(--bad)}svg .v-inconclusive,svg .v-error,svg .v-no_data,svg .v-pending{fill:var(--warn)}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--mute);font-weight:600;font-size:11.5px;text-transform:uppercase;letter-spacing:.03em}td.num{text-align:right;white-space:nowrap}
td.st-failed,td.st-compensation-failed,td.bad{color:var(--bad);font-weight:600}td.st-succeeded,td.ok{color:var(--ok);font-weight:600}td.st-compensated{color:#4f7d67}td.st-not-run,td.st-skipped,td.st-stopped{color:var(--mute)}td.st-interrupted{color:var(--warn);font-weight:600}
td.over{color:var(--warn);font-weight:600}td.err{font-family:"DejaVu Sans Mono",monospace;font-size:11.5px;color:#8a2b2b;max-width:420px;word-break:break-word}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:14px}.chartbox{border:1px solid var(--line);border-radius:6px;padding:10px 12px}
.chartbox h3{font-size:13px;margin:0 0 2px}.chartbox .sub{font-size:12px;color:var(--mute);margin:0 0 6px}.chartbox .sub b.bad{color:var(--bad)}
.legend{margin:0 0 8px}.legend span{display:inline-block;margin-right:16px;font-size:12px;color:var(--mute)}.legend i{display:inline-block;width:18px;height:9px;margin-right:5px;vertical-align:middle;border-radius:2px}
.pending{color:var(--bad);font-weight:600}code{font-size:12px;background:#eef2f6;padding:1px 5px;border-radius:4px}
.order{display:flex;flex-wrap:wrap;gap:6px;align-items:center}.order span.step{background:#f1f7f3;border:1px solid #cfe3d6;border-radius:4px;padding:1px 7px;font-size:12.5px}.order span.step.failed{background:#fdeaea;border-color:#f0b8b8}.order .arrow{color:var(--mute)}
.rehearsal{background:#fff4d6;border:1px solid #e8c766;color:#6b5000;font-weight:700;letter-spacing:.04em;padding:6px 12px;border-radius:6px;margin:0 0 10px}
footer{color:var(--mute);font-size:12px;padding:0 32px 24px}
</style></head><body>
<header>{{if .Rehearsal}}<p class="rehearsal">REHEARSAL — a sandbox run against the fakes of every provider on a simulated clock: nothing real was changed</p>{{end}}<h1>{{.Runbook}} <span class="badge {{.StatusClass}}">{{.Status}}</span></h1>
{{if .Description}}<p class="desc">{{.Description}}</p>{{end}}
<div class="meta"><span>run <code>{{.Run}}</code></span><span>started {{.Started.Format "2006-01-02 15:04:05 MST"}}</span><span>took <b>{{.Duration}}</b></span>{{if .Window}}<span>planned {{.Budget}} of a {{.Window}} window</span>{{end}}<span>plan <code>{{printf "%.12s" .PlanHash}}</code></span></div></header>
<main>
{{if .Failed}}<section class="cause {{.StatusClass}}"><h2>{{if .Interrupted}}Interrupted at {{.Failed}}{{else}}Failed at {{.Failed}}{{end}}{{if eq .Status "rolled_back"}} and rolled back{{end}}</h2><p class="err">{{.Cause}}</p>{{if .Compensated}}<p>{{len .Compensated}} step(s) compensated{{if .Pending}}, {{len .Pending}} left to undo{{else}}, nothing left to undo{{end}}.</p>{{end}}</section>{{end}}
<div class="counts">{{range .Counts}}<div class="count {{.Class}}"><b>{{.N}}</b><span>{{.Label}}</span></div>{{end}}</div>
<section><h2>Timeline — planned budget vs actual</h2>
<div class="legend"><span><i style="background:#eef1f5;border:1px dashed #9aa8b6"></i>budget</span><span><i style="background:var(--ok)"></i>succeeded</span><span><i style="background:var(--bad)"></i>failed</span><span><i style="background:var(--warn)"></i>over budget, retries</span><span><i style="background:var(--comp)"></i>later compensated</span><span><i style="background:var(--bad);height:12px"></i>rollback ⟲</span><span><i style="background:var(--ok);border-radius:50%;width:7px;height:7px"></i>gate sample</span></div>
{{.Timeline}}</section>
{{if .Pending}}<section><h2>Left to undo</h2><p class="pending">{{range $i, $p := .Pending}}{{if $i}} → {{end}}{{$p}}{{end}}</p><p>Run <code>handrail rollback {{.Run}}</code> to compensate these, in this order.</p></section>{{end}}
{{if .Compensated}}<section><h2>Rollback — compensations in the order they ran</h2><div class="order">{{range $i, $p := .Compensated}}{{if $i}}<span class="arrow">→</span>{{end}}<span class="step">⟲ {{$p}}</span>{{end}}{{range .CompensationFailed}}<span class="arrow">→</span><span class="step failed">✘ {{.}}</span>{{end}}</div></section>{{end}}
{{if .Charts}}<section><h2>Gate samples against their thresholds</h2><div class="charts">{{range .Charts}}<div class="chartbox"><h3>{{.Gate}} · {{.Check}}</h3><p class="sub">{{if .Threshold}}<code>{{.Threshold}}</code> · {{end}}{{.Samples}} sample(s){{if .Breaches}}, <b class="bad">{{.Breaches}} breach(es)</b>{{end}} · last {{.Last}}</p>{{if .Why}}<p class="sub why">{{.Why}}</p>{{end}}{{.SVG}}</div>{{end}}</div></section>{{end}}
{{if .Checks}}<section><h2>Other checks</h2><table><tr><th>Gate · check</th><th>Condition</th><th class="num">Samples</th><th>Last value</th><th>Verdict</th></tr>{{range .Checks}}<tr><td>{{.Gate}} · {{.Check}}</td><td>{{if .Threshold}}<code>{{.Threshold}}</code>{{end}}</td><td class="num">{{.Samples}}</td><td>{{.Last}}</td><td class="{{if eq .LastVerdict "pass"}}ok{{else}}bad{{end}}">{{.LastVerdict}}{{if .Breaches}} ({{.Breaches}} breaches){{end}}{{if .Why}}<br><span class="sub">{{.Why}}</span>{{end}}</td></tr>{{end}}</table></section>{{end}}
{{if .Decisions}}<section><h2>Approvals and decisions</h2><table><tr><th>Gate</th><th>Answer</th><th>By</th><th>At</th><th>Comment</th></tr>{{range .Decisions}}<tr><td>{{.Node}}</td><td class="{{.Class}}">{{.Answer}}</td><td>{{.By}}</td><td>{{.At}}</td><td>{{.Comment}}</td></tr>{{end}}</table></section>{{end}}
<section><h2>Nodes</h2><table><tr><th>Node</th><th>Kind</th><th>Status</th><th>Attempts</th><th class="num">Budget</th><th class="num">Took</th><th>Error</th></tr>
{{range .Rows}}<tr><td>{{if .Phase}}<span style="color:var(--mute)">{{.Phase}} ›</span> {{end}}{{.Name}}</td><td>{{.Kind}}{{if .GateKind}} ({{.GateKind}}){{end}}</td><td class="st-{{.Status}}">{{.Status}}</td><td>{{if .Attempts}}{{.Attempts}}{{end}}</td><td class="num">{{if .Budget}}{{.BudgetText}}{{end}}</td><td class="num{{if .Over}} over{{end}}">{{if not .End.IsZero}}{{.TookText}}{{end}}</td><td class="err">{{.Error}}</td></tr>{{end}}</table></section>
{{if .Progress}}<section><h2>Per host (fan-outs) and other units, as last recorded</h2><table><tr><th>Step</th><th>Host or unit</th><th>State</th><th>Attempt</th><th>Error</th></tr>
{{range .Progress}}<tr><td>{{.Node}}</td><td>{{.Item}}</td><td class="{{.Class}}">{{.State}}</td><td>{{.Attempt}}</td><td class="err">{{.Error}}</td></tr>{{end}}</table></section>{{end}}
{{if .Versions}}<section><h2>Plan versions — one run across edits of its runbook</h2><table><tr><th>#</th><th>Plan</th><th>How</th><th>By</th><th>At</th><th>Why</th><th>What changed</th></tr>{{range $i, $v := .Versions}}<tr><td class="num">{{inc $i}}</td><td><code>{{printf "%.12s" $v.Hash}}</code></td><td>{{$v.Mode}}{{if $v.From}} from {{$v.From}}{{end}}{{if $v.Forced}} <b class="bad">forced</b>{{end}}</td><td>{{$v.By}}</td><td>{{$v.Time.UTC.Format "2006-01-02 15:04:05 MST"}}</td><td>{{$v.Reason}}</td><td>{{range $v.Changes}}{{.Node}}: {{.Change}}{{if .Edited}} (changed){{end}}{{if .Why}} — {{.Why}}{{end}}<br>{{end}}</td></tr>{{end}}</table></section>{{end}}
{{if .Processes}}<section><h2>Later processes</h2><p>{{range $i, $p := .Processes}}{{if $i}}, {{end}}{{$p}}{{end}}</p></section>{{end}}
{{if .Inputs}}<section><h2>Inputs</h2><table>{{range .Inputs}}<tr><td>{{.Name}}</td><td>{{if .Sensitive}}(sensitive){{else}}{{.Value}}{{end}}</td></tr>{{end}}</table></section>{{end}}
</main><footer>Written by handrail report from the run's journal. Self-contained: no network, no script.</footer></body></html>
`))
})

// svgf writes format to b with every argument that is text (a string, an
// error, a Stringer) escaped for HTML and XML, so that nothing from a run
// (names, messages, values, verdicts read from a journal) can close a tag
// or an attribute. Numbers are written as they are.
func svgf(b *strings.Builder, format string, args ...any) {
	for i, a := range args {
		switch v := a.(type) {
		case error:
			args[i] = template.HTMLEscapeString(v.Error())
		case fmt.Stringer:
			args[i] = template.HTMLEscapeString(v.String())
		default:
			// Named string types (verdicts, kinds) too.
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
				args[i] = template.HTMLEscapeString(rv.String())
			}
		}
	}
	fmt.Fprintf(b, format, args...)
}
