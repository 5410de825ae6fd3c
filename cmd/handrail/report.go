package main

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// reportRow is one node of the report's timeline.
type reportRow struct {
	Name, Phase, Kind string
	Status            string
	Budget            time.Duration
	PlannedStart      time.Duration
	Start, End        time.Time
	Attempts          int
	Error             string
	CompStart         time.Time
	CompEnd           time.Time
	CompFailed        bool
}

type reportChart struct {
	Gate, Check, Threshold string
	SVG                    template.HTML
	Samples                int
	Breaches               int
}

type reportData struct {
	Run, Runbook, Status, PlanHash string
	Started, Ended                 time.Time
	Duration, Window, Budget       string
	Timeline                       template.HTML
	Rows                           []reportRow
	Charts                         []reportChart
	Decisions                      []reportDecision
	Pending                        []string
	Compensated                    []string
	Inputs                         []runbook.Input
	StatusClass                    string
}

type reportDecision struct {
	Node, By, Answer, Comment string
	At                        time.Time
}

// writeReport renders a run's journal (and its plan, when available) as a
// self-contained HTML page: no network, no script.
func writeReport(w io.Writer, recs []runbook.Record, plan *runbook.Plan) error {
	st, err := runbook.Replay(recs)
	if err != nil {
		return err
	}
	d := reportData{Run: st.Run.ID, Runbook: st.Run.Runbook, Status: string(st.Status), PlanHash: st.PlanHash,
		Started: st.Run.StartedAt, Ended: st.LastTime, Pending: st.Pending(), Compensated: st.Compensated, Inputs: st.Inputs}
	if d.Status == "" {
		d.Status = "unfinished"
	}
	d.StatusClass = map[string]string{"succeeded": "ok", "rolled_back": "warn"}[d.Status]
	if d.StatusClass == "" {
		d.StatusClass = "bad"
	}
	d.Duration = st.LastTime.Sub(st.Run.StartedAt).Round(time.Second).String()
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
		d.Window = plan.Window.String()
		d.Budget = plan.Budget().String()
		var cum time.Duration
		for _, n := range plan.Nodes() {
			r := add(n.Name)
			r.Phase, r.Kind = n.Phase, n.Kind()
			r.PlannedStart = cum
			if n.Step != nil {
				r.Budget = n.Step.Budget
			} else if n.Gate.Kind != runbook.GateGuard {
				r.Budget = n.Gate.Budget
				if r.Budget == 0 {
					r.Budget = n.Gate.Duration
				}
			}
			cum += r.Budget
		}
	}
	for _, rec := range recs {
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
			}
		case runbook.RecNodeSkipped:
			r.Status = "skipped"
		case runbook.RecCompensating:
			r.CompStart = rec.Time
		case runbook.RecCompensated:
			r.CompEnd, r.Status = rec.Time, "compensated"
		case runbook.RecCompensationFailed:
			if rec.Final {
				r.CompEnd, r.CompFailed, r.Status = rec.Time, true, "compensation failed"
			}
		case runbook.RecDecision:
			if rec.Decision != nil {
				ans := "denied"
				if rec.Decision.Approved {
					ans = "approved"
				}
				if rec.Decision.Choice != "" {
					ans = rec.Decision.Choice
				}
				if rec.Decision.TimedOut {
					ans += " (timed out)"
				}
				d.Decisions = append(d.Decisions, reportDecision{Node: rec.Node, By: rec.Decision.By, Answer: ans, Comment: rec.Decision.Comment, At: rec.Decision.At})
			}
		}
	}
	for _, name := range order {
		r := rows[name]
		if r.Status == "" {
			r.Status = "not run"
		}
		d.Rows = append(d.Rows, *r)
	}
	d.Timeline = template.HTML(timelineSVG(d.Rows, st.Run.StartedAt, st.LastTime))
	d.Charts = sampleCharts(st.Samples)
	return reportTmpl.Execute(w, d)
}

func timelineSVG(rows []reportRow, start, end time.Time) string {
	const left, width, rowH = 230.0, 760.0, 22.0
	total := end.Sub(start)
	for _, r := range rows {
		if p := r.PlannedStart + r.Budget; p > total {
			total = p
		}
	}
	if total <= 0 {
		total = time.Second
	}
	x := func(d time.Duration) float64 { return left + width*float64(d)/float64(total) }
	h := rowH*float64(len(rows)) + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" class="timeline">`, left+width+20, h)
	// Grid: 8 ticks.
	for i := 0; i <= 8; i++ {
		t := time.Duration(float64(total) * float64(i) / 8)
		xx := x(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="0" x2="%.1f" y2="%.0f" class="grid"/>`, xx, xx, h-20)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" class="tick">T+%s</text>`, xx, h-6, shortDur(t))
	}
	for i, r := range rows {
		y := float64(i) * rowH
		if i%2 == 0 {
			fmt.Fprintf(&b, `<rect x="0" y="%.0f" width="%.0f" height="%.0f" class="zebra"/>`, y, left+width+20, rowH)
		}
		label := r.Name
		if r.Phase != "" {
			label = r.Phase + " › " + r.Name
		}
		fmt.Fprintf(&b, `<text x="6" y="%.0f" class="label %s">%s</text>`, y+15, r.Kind, template.HTMLEscapeString(label))
		if r.Budget > 0 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="6" class="planned"><title>planned %s</title></rect>`, x(r.PlannedStart), y+14, math.Max(1, x(r.PlannedStart+r.Budget)-x(r.PlannedStart)), r.Budget)
		}
		if !r.Start.IsZero() {
			e := r.End
			if e.IsZero() {
				e = end
			}
			cls := "actual " + strings.ReplaceAll(r.Status, " ", "-")
			tip := fmt.Sprintf("%s: %s, took %s", r.Name, r.Status, e.Sub(r.Start).Round(time.Second))
			if r.Attempts > 1 {
				tip += fmt.Sprintf(", %d attempts", r.Attempts)
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="9" rx="2" class="%s"><title>%s</title></rect>`, x(r.Start.Sub(start)), y+4, math.Max(2, x(e.Sub(start))-x(r.Start.Sub(start))), cls, template.HTMLEscapeString(tip))
			if r.Attempts > 1 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" class="retry">↻%d</text>`, x(e.Sub(start))+3, y+12, r.Attempts)
			}
		}
		if !r.CompStart.IsZero() {
			ce := r.CompEnd
			if ce.IsZero() {
				ce = end
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="9" rx="2" class="rollback"><title>rollback of %s</title></rect>`, x(r.CompStart.Sub(start)), y+4, math.Max(3, x(ce.Sub(start))-x(r.CompStart.Sub(start))), template.HTMLEscapeString(r.Name))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

var thresholdRe = regexp.MustCompile(`(<=|>=|<|>|==)\s*(-?[0-9.]+(?:e-?[0-9]+)?)`)

func sampleCharts(samples []runbook.SampleRecord) []reportChart {
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
	var out []reportChart
	for _, k := range keys {
		ss := groups[k]
		c := reportChart{Gate: k.gate, Check: k.check, Threshold: ss[0].Threshold, Samples: len(ss)}
		for _, s := range ss {
			if s.Verdict == runbook.VerdictFail {
				c.Breaches++
			}
		}
		c.SVG = template.HTML(chartSVG(ss))
		out = append(out, c)
	}
	return out
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

func chartSVG(ss []runbook.SampleRecord) string {
	const w, h, pad = 520.0, 120.0, 28.0
	lo, hi := math.Inf(1), math.Inf(-1)
	var thr float64
	hasThr := false
	if m := thresholdRe.FindStringSubmatch(ss[0].Threshold); m != nil {
		if f, err := strconv.ParseFloat(m[2], 64); err == nil {
			thr, hasThr = f, true
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
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" class="chart">`, w, h)
	if n == 0 && !hasThr {
		// Non-numeric samples: a strip of verdicts.
		for i, s := range ss {
			xx := pad + (w-2*pad)*float64(i)/math.Max(1, float64(len(ss)-1))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.0f" r="4" class="v-%s"><title>#%d %s</title></circle>`, xx, h/2, s.Verdict, s.Seq, template.HTMLEscapeString(fmt.Sprint(s.Value)))
		}
		b.WriteString(`</svg>`)
		return b.String()
	}
	if hi == lo {
		hi, lo = hi+1, lo-1
	}
	span := hi - lo
	hi += span * 0.1
	lo -= span * 0.1
	y := func(f float64) float64 { return h - pad - (h-2*pad)*(f-lo)/(hi-lo) }
	xOf := func(i int) float64 { return pad + (w-2*pad)*float64(i)/math.Max(1, float64(len(ss)-1)) }
	fmt.Fprintf(&b, `<text x="2" y="%.0f" class="tick">%.3g</text><text x="2" y="%.0f" class="tick">%.3g</text>`, pad, hi, h-pad, lo)
	if hasThr {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" class="threshold"/><text x="%.0f" y="%.1f" class="tick thr">%s</text>`, pad, w-pad, y(thr), y(thr), w-pad-70, y(thr)-3, template.HTMLEscapeString(ss[0].Threshold))
	}
	var pts []string
	for i, s := range ss {
		if f, ok := numeric(s.Value); ok {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(i), y(f)))
		}
	}
	fmt.Fprintf(&b, `<polyline points="%s" class="series"/>`, strings.Join(pts, " "))
	for i, s := range ss {
		if f, ok := numeric(s.Value); ok {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" class="v-%s"><title>#%d %s = %.4g (%s)</title></circle>`, xOf(i), y(f), s.Verdict, s.Seq, s.Time.Format("15:04:05"), f, s.Verdict)
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func shortDur(d time.Duration) string {
	h := int(d.Hours())
	m := int(d.Minutes()) % 60
	s := int(d.Seconds()) % 60
	if h > 0 {
		return fmt.Sprintf("%d:%02d", h, m)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var reportTmpl = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Handrail run {{.Run}} — {{.Runbook}}</title>
<style>
:root{--ok:#1f9d55;--bad:#d64545;--warn:#d98e04;--ink:#1d2733;--mute:#6b7785;--line:#e3e8ee;--bg:#f7f9fb}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#16202c;color:#fff;padding:22px 32px}header h1{margin:0 0 4px;font-size:22px;font-weight:600}
header .meta{color:#aab6c3;font-size:13px}header .meta span{margin-right:18px}
.badge{display:inline-block;padding:3px 10px;border-radius:12px;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}.badge.warn{background:var(--warn)}
main{padding:24px 32px;max-width:1180px}section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:18px 20px;margin-bottom:20px}
h2{font-size:15px;margin:0 0 12px;color:#2b3a4a}
svg.timeline{width:100%;height:auto}svg .grid{stroke:var(--line)}svg .tick{font-size:10px;fill:var(--mute)}
svg .zebra{fill:#fafbfc}svg .label{font-size:11px;fill:var(--ink)}svg .label.gate{font-style:italic}
svg .planned{fill:none;stroke:#9aa8b6;stroke-dasharray:3 2}svg .actual{fill:#4c8bf5}svg .actual.succeeded{fill:var(--ok)}
svg .actual.failed{fill:var(--bad)}svg .actual.compensated{fill:#7fb89a}svg .rollback{fill:var(--bad);opacity:.85}
svg .retry{font-size:10px;fill:var(--warn)}svg.chart{width:100%;max-width:560px;height:auto;background:#fcfdfe;border:1px solid var(--line);border-radius:6px}
svg .series{fill:none;stroke:#4c8bf5;stroke-width:1.5}svg .threshold{stroke:var(--bad);stroke-dasharray:5 3}svg .thr{fill:var(--bad)}
svg .v-pass{fill:var(--ok)}svg .v-fail{fill:var(--bad)}svg .v-inconclusive,svg .v-error,svg .v-no_data,svg .v-pending{fill:var(--warn)}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--mute);font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em}
td.st-failed,td.st-compensation-failed{color:var(--bad);font-weight:600}td.st-succeeded{color:var(--ok)}td.st-compensated{color:#3b7d5b}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px}.chartbox h3{font-size:13px;margin:0 0 6px}
.legend span{display:inline-block;margin-right:14px;font-size:12px;color:var(--mute)}.legend i{display:inline-block;width:18px;height:8px;margin-right:5px;vertical-align:middle;border-radius:2px}
.pending{color:var(--bad);font-weight:600}code{font-size:12px;background:#eef2f6;padding:1px 5px;border-radius:4px}
</style></head><body>
<header><h1>{{.Runbook}} <span class="badge {{.StatusClass}}">{{.Status}}</span></h1>
<div class="meta"><span>run <code>{{.Run}}</code></span><span>started {{.Started.Format "2006-01-02 15:04:05 MST"}}</span><span>took {{.Duration}}</span>{{if .Window}}<span>window {{.Window}}</span><span>planned {{.Budget}}</span>{{end}}<span>plan {{printf "%.12s" .PlanHash}}</span></div></header>
<main>
<section><h2>Timeline — planned budget vs actual</h2>
<div class="legend"><span><i style="border:1px dashed #9aa8b6"></i>planned</span><span><i style="background:var(--ok)"></i>succeeded</span><span><i style="background:var(--bad)"></i>failed / rollback</span><span><i style="background:#7fb89a"></i>compensated</span></div>
{{.Timeline}}</section>
{{if .Pending}}<section><h2>Left to undo</h2><p class="pending">{{range $i, $p := .Pending}}{{if $i}} ← {{end}}{{$p}}{{end}}</p><p>Run <code>handrail rollback {{.Run}}</code> to compensate these in this order.</p></section>{{end}}
{{if .Charts}}<section><h2>Gate samples against their thresholds</h2><div class="charts">{{range .Charts}}<div class="chartbox"><h3>{{.Gate}} / {{.Check}} {{if .Threshold}}<small>({{.Threshold}})</small>{{end}} — {{.Samples}} samples, {{.Breaches}} breaches</h3>{{.SVG}}</div>{{end}}</div></section>{{end}}
{{if .Decisions}}<section><h2>Approvals and decisions</h2><table><tr><th>Node</th><th>Answer</th><th>By</th><th>At</th><th>Comment</th></tr>{{range .Decisions}}<tr><td>{{.Node}}</td><td>{{.Answer}}</td><td>{{.By}}</td><td>{{.At.Format "15:04:05"}}</td><td>{{.Comment}}</td></tr>{{end}}</table></section>{{end}}
<section><h2>Nodes</h2><table><tr><th>Node</th><th>Kind</th><th>Status</th><th>Attempts</th><th>Budget</th><th>Took</th><th>Error</th></tr>
{{range .Rows}}<tr><td>{{if .Phase}}{{.Phase}} › {{end}}{{.Name}}</td><td>{{.Kind}}</td><td class="st-{{.Status}}">{{.Status}}</td><td>{{if .Attempts}}{{.Attempts}}{{end}}</td><td>{{if .Budget}}{{.Budget}}{{end}}</td><td>{{if not .End.IsZero}}{{.End.Sub .Start}}{{end}}</td><td>{{.Error}}</td></tr>{{end}}</table></section>
{{if .Compensated}}<section><h2>Compensations, in the order they ran</h2><p>{{range $i, $p := .Compensated}}{{if $i}} → {{end}}{{$p}}{{end}}</p></section>{{end}}
{{if .Inputs}}<section><h2>Inputs</h2><table>{{range .Inputs}}<tr><td>{{.Name}}</td><td>{{if .Sensitive}}(sensitive){{else}}{{.Value}}{{end}}</td></tr>{{end}}</table></section>{{end}}
</main></body></html>
`))
