package main

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/gates"
	"github.com/handrail-dev/handrail/gates/backtest"
	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// rangeFlags collects -good / -bad periods (FROM..TO).
type rangeFlags []backtest.Range

func (r *rangeFlags) String() string { return fmt.Sprint(len(*r), " periods") }

func (r *rangeFlags) Set(v string) error {
	a, b, ok := strings.Cut(v, "..")
	if !ok {
		return fmt.Errorf("want FROM..TO, for example 2026-12-01T10:00:00Z..2026-12-01T13:00:00Z or now-6h..now-3h")
	}
	from, err := parseWhen(a, time.Now())
	if err != nil {
		return err
	}
	to, err := parseWhen(b, time.Now())
	if err != nil {
		return err
	}
	*r = append(*r, backtest.Range{From: from, To: to})
	return nil
}

// parseWhen reads an RFC 3339 time, "now", or "now-DURATION".
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "now":
		return now.UTC(), nil
	case strings.HasPrefix(s, "now-"):
		d, err := time.ParseDuration(strings.TrimPrefix(s, "now-"))
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("%q: want now-DURATION such as now-48h", s)
		}
		return now.Add(-d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2026-12-01T10:00:00Z), now, or now-DURATION (now-48h)", s)
	}
	return t.UTC(), nil
}

// redirect sends every Prometheus API request to one server (-prometheus).
type redirect struct{ base *url.URL }

func (r redirect) Do(req *http.Request) (*http.Response, error) {
	u := *req.URL
	path := u.Path
	if i := strings.Index(path, "/api/v1/"); i >= 0 {
		path = path[i:]
	}
	u.Scheme, u.Host, u.Path, u.RawPath = r.base.Scheme, r.base.Host, strings.TrimRight(r.base.Path, "/")+path, ""
	out := req.Clone(req.Context())
	out.URL, out.Host = &u, r.base.Host
	return http.DefaultClient.Do(out)
}

func (a *app) cmdGateBacktest(ctx context.Context, args []string) int {
	fs := newFlagSet("gate backtest", a.stderr, "gate backtest FILE -gate NAME -prometheus URL -from T -to T [-window D] [-step D] [-good FROM..TO]... [-bad FROM..TO]... [-json] [-html FILE]")
	var vf varFlags
	fs.Var(&vf.vars, "var", "set a variable (name=value); repeatable")
	fs.Var(&vf.varFiles, "var-file", "read variables from a file; repeatable")
	gate := fs.String("gate", "", "the check, soak or guard gate to replay")
	promURL := fs.String("prometheus", "", "the Prometheus server holding the history (every prometheus instance of the runbook asks it)")
	fromS := fs.String("from", "", "start of the history: RFC 3339, or now-DURATION (now-7d is not a duration: now-168h)")
	toS := fs.String("to", "now", "end of the history")
	window := fs.Duration("window", 0, "length of each window (default: the gate's duration, or 15m)")
	step := fs.Duration("step", 0, "distance between window starts (default: the window)")
	var good, bad rangeFlags
	fs.Var(&good, "good", "a period known to be good, FROM..TO; repeatable")
	fs.Var(&bad, "bad", "a period known to be bad, FROM..TO; repeatable")
	asJSON := fs.Bool("json", false, "print JSON")
	htmlOut := fs.String("html", "", "also write an HTML page of the series, thresholds and windows")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	switch {
	case len(pos) != 1:
		a.errorf("gate backtest takes one runbook FILE: handrail gate backtest FILE -gate NAME -prometheus URL -from now-48h")
		return exitInvalid
	case *gate == "":
		a.errorf("-gate NAME is required: the check, soak or guard gate to replay")
		return exitInvalid
	case *promURL == "":
		a.errorf("-prometheus URL is required: the server holding the history, e.g. -prometheus http://prometheus:9090")
		return exitInvalid
	case *fromS == "":
		a.errorf("-from is required: the start of the history, e.g. -from now-48h")
		return exitInvalid
	}
	base, err := url.Parse(*promURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		a.errorf("-prometheus %q: want an absolute http:// or https:// URL", *promURL)
		return exitInvalid
	}
	now := time.Now()
	from, err := parseWhen(*fromS, now)
	if err != nil {
		a.errorf("-from %v", err)
		return exitInvalid
	}
	to, err := parseWhen(*toS, now)
	if err != nil {
		a.errorf("-to %v", err)
		return exitInvalid
	}
	reg, err := realRegistry(&prometheus.Provider{Client: redirect{base: base}})
	if err != nil {
		a.errorf("%v", err)
		return exitInternal
	}
	rb := a.load(ctx, pos[0], &vf, reg)
	if rb == nil {
		return exitInvalid
	}
	defer rb.Close()
	n, ok := rb.Plan().Node(*gate)
	if !ok || n.Gate == nil {
		var names []string
		for _, x := range rb.Plan().Nodes() {
			if x.Gate != nil && x.Gate.Kind != runbook.GateApproval {
				names = append(names, x.Name)
			}
		}
		a.errorf("%s has no check, soak or guard gate %q; its gates: %s", pos[0], *gate, strings.Join(names, ", "))
		return exitInvalid
	}
	rep, err := backtest.Run(ctx, backtest.Config{Gate: *n.Gate, From: from, To: to, Window: *window, Step: *step, Good: good, Bad: bad})
	if err != nil {
		a.errorf("%s", rb.Redactor().Redact(err.Error()))
		return exitInvalid
	}
	if *htmlOut != "" {
		if err := writeBacktestHTML(*htmlOut, rep, n.Gate); err != nil {
			a.errorf("%v", err)
			return exitInvalid
		}
	}
	if *asJSON {
		for i := range rep.Windows {
			rep.Windows[i].Samples = nil
		}
		return a.writeJSON(struct {
			FormatVersion string           `json:"format_version"`
			Report        *backtest.Report `json:"report"`
		}{formatVersion, rep})
	}
	writeBacktestText(a.stdout, rep)
	return exitOK
}

func writeBacktestText(w io.Writer, rep *backtest.Report) {
	fmt.Fprintf(w, "Gate %s over %s .. %s: %d windows of %s, one every %s\n", rep.Gate, rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339),
		len(rep.Windows), rep.Window, rep.Step)
	for _, wn := range rep.Windows {
		line := fmt.Sprintf("  %s  %-12s", wn.Start.Format("2006-01-02 15:04"), wn.Outcome)
		if wn.Label != backtest.Unknown {
			line += fmt.Sprintf(" [%s]", wn.Label)
		}
		if wn.Outcome != engine.OutcomePassed {
			line += fmt.Sprintf(" stopped after %s by %s (%s)", wn.StoppedAt.Sub(wn.Start), wn.Decider, wn.Rule)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "Totals: %d passed, %d failed, %d inconclusive, %d error\n", rep.Totals[engine.OutcomePassed], rep.Totals[engine.OutcomeFailed],
		rep.Totals[engine.OutcomeInconclusive], rep.Totals[engine.OutcomeError])
	if rep.GoodWindows > 0 {
		fmt.Fprintf(w, "False aborts: %d of %d good windows (%.1f%%)\n", rep.FalseAborts, rep.GoodWindows, 100*rep.FalseAbortRate)
	}
	if rep.BadWindows > 0 {
		fmt.Fprintf(w, "Missed regressions: %d of %d bad windows (%.1f%%)\n", rep.MissedRegressions, rep.BadWindows, 100*rep.MissedRegressionRate)
	}
}

// backtestPage is the data of the HTML page; every text goes through
// html/template's escaping.
type backtestPage struct {
	Report *backtest.Report
	Checks []backtestChart
	Text   string
}

type backtestChart struct {
	Name, Threshold string
	Width, Height   int
	Path            string
	Bands           []band
	Stops           []point
	Min, Max        string
}

type band struct {
	X, W        float64
	Class, Tip  string
	LabelClass  string
	HasLabel    bool
	LabelY      float64
	LabelHeight float64
}

type point struct{ X, Y float64 }

func writeBacktestHTML(path string, rep *backtest.Report, g *runbook.Gate) error {
	const width, height = 1200, 220
	span := rep.To.Sub(rep.From).Seconds()
	x := func(t time.Time) float64 { return 40 + float64(width-60)*t.Sub(rep.From).Seconds()/span }
	var sb strings.Builder
	writeBacktestText(&sb, rep)
	page := backtestPage{Report: rep, Text: sb.String()}
	for _, c := range g.Checks {
		ch := backtestChart{Name: c.Name, Threshold: c.Threshold, Width: width, Height: height}
		type pt struct {
			t time.Time
			v float64
		}
		var pts []pt
		lo, hi := 0.0, 0.0
		for _, wn := range rep.Windows {
			for _, s := range wn.Samples {
				if s.Check != c.Name {
					continue
				}
				v, err := gates.Number(s.Value)
				if err != nil {
					continue
				}
				if len(pts) == 0 {
					lo, hi = v, v
				}
				lo, hi = min(lo, v), max(hi, v)
				pts = append(pts, pt{s.Time, v})
			}
		}
		if hi == lo {
			hi = lo + 1
		}
		y := func(v float64) float64 { return float64(height-30) - float64(height-50)*(v-lo)/(hi-lo) }
		var path strings.Builder
		for i, p := range pts {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f,%.1f ", cmd, x(p.t), y(p.v))
		}
		ch.Path = strings.TrimSpace(path.String())
		ch.Min, ch.Max = fmt.Sprintf("%g", lo), fmt.Sprintf("%g", hi)
		for _, wn := range rep.Windows {
			b := band{X: x(wn.Start), W: max(1, x(wn.End)-x(wn.Start)), Class: string(wn.Outcome),
				Tip: fmt.Sprintf("%s: %s %s", wn.Start.Format(time.RFC3339), wn.Outcome, wn.Label)}
			if wn.Label != backtest.Unknown {
				b.HasLabel, b.LabelClass = true, "label-"+string(wn.Label)
			}
			ch.Bands = append(ch.Bands, b)
			if wn.Outcome != engine.OutcomePassed && wn.Decider == c.Name {
				ch.Stops = append(ch.Stops, point{X: x(wn.StoppedAt), Y: 12})
			}
		}
		page.Checks = append(page.Checks, ch)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := backtestTmpl().Execute(f, page); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// backtestTmpl is parsed on first use (not when the program starts).
var backtestTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("backtest").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Backtest of gate {{.Report.Gate}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;max-width:1260px}
h1{font-size:20px} svg{width:100%;height:auto;background:#fafbfc;border:1px solid #dde2ea;border-radius:6px}
.passed{fill:#2e9d5a;opacity:.18}.failed{fill:#d64545;opacity:.35}.inconclusive{fill:#e0a526;opacity:.35}.error{fill:#888;opacity:.35}
.label-good{fill:#2e9d5a}.label-bad{fill:#d64545} .series{fill:none;stroke:#2957c4;stroke-width:1.2}
.stop{fill:#d64545} pre{background:#f3f5f8;padding:12px;border-radius:6px;overflow:auto}
.legend span{display:inline-block;margin-right:14px}
</style></head><body>
<h1>Backtest of gate {{.Report.Gate}}</h1>
<p>{{len .Report.Windows}} windows of {{.Report.Window}}, one every {{.Report.Step}}, from {{.Report.From.Format "2006-01-02 15:04 MST"}} to {{.Report.To.Format "2006-01-02 15:04 MST"}}.</p>
<p class="legend"><span>■ band: the window's outcome (green passed, red failed, amber inconclusive, grey error)</span><span>▼ where a window stopped</span><span>bottom strip: known good (green) / bad (red) periods</span></p>
{{range .Checks}}
<h2>check {{.Name}} — holds when {{.Threshold}}</h2>
<svg viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="samples of check {{.Name}}">
{{range .Bands}}<rect class="{{.Class}}" x="{{printf "%.1f" .X}}" y="20" width="{{printf "%.1f" .W}}" height="170"><title>{{.Tip}}</title></rect>
{{if .HasLabel}}<rect class="{{.LabelClass}}" x="{{printf "%.1f" .X}}" y="200" width="{{printf "%.1f" .W}}" height="6"></rect>{{end}}{{end}}
<path class="series" d="{{.Path}}"></path>
{{range .Stops}}<path class="stop" d="M{{printf "%.1f" .X}},{{printf "%.1f" .Y}} l-5,-9 h10 z"></path>{{end}}
<text x="4" y="30" font-size="11">{{.Max}}</text><text x="4" y="190" font-size="11">{{.Min}}</text>
</svg>
{{end}}
<pre>{{.Text}}</pre>
</body></html>
`))
})
