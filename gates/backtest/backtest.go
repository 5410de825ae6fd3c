// Package backtest replays a gate over history before it is enforced: the
// gate's own checks, window by window, on a simulated clock, so that every
// sample asks its probe about the past (a Prometheus query evaluated at the
// simulated time). Each window is a real run of the gate by the executor,
// with its own semantics — every, count, duration, limits, no_data,
// inconclusive — and given periods known to be good or bad, the report
// states the false-abort and missed-regression rates.
package backtest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// Range is a period of time, [From, To).
type Range struct {
	From, To time.Time
}

// Contains reports whether [from, to) lies within r.
func (r Range) Contains(from, to time.Time) bool { return !from.Before(r.From) && !to.After(r.To) }

// Overlaps reports whether [from, to) meets r.
func (r Range) Overlaps(from, to time.Time) bool { return from.Before(r.To) && to.After(r.From) }

// Config is a backtest.
type Config struct {
	// Gate is the gate to replay: a check, soak or guard gate whose probes
	// answer for the time of the run's clock.
	Gate runbook.Gate
	// From and To bound the history; windows start at From, From+Step, ...
	// and end no later than To.
	From, To time.Time
	// Window is each window's length (default: the gate's duration, or
	// 15 minutes). A soak samples for the whole window; a guard too; a
	// check gate has the window as its timeout.
	Window time.Duration
	// Step is the distance between window starts (default Window).
	Step time.Duration
	// Good and Bad are periods known to be good or bad. A window within a
	// good period is good; a window that meets a bad period is bad.
	Good, Bad []Range
	// Parallel is how many windows run at once (default GOMAXPROCS).
	Parallel int
}

// Label says what a window is known to be.
type Label string

// Labels.
const (
	Good    Label = "good"
	Bad     Label = "bad"
	Unknown Label = ""
)

// Window is the gate's outcome over one window.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Label Label     `json:"label,omitempty"`
	// Outcome is passed, failed, inconclusive or error.
	Outcome engine.Outcome `json:"outcome"`
	// StoppedAt is when the gate decided (the window's end when it passed).
	StoppedAt time.Time `json:"stopped_at"`
	Decider   string    `json:"decider,omitempty"`
	Rule      string    `json:"rule,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	// Samples are the window's samples, for plots.
	Samples []runbook.SampleRecord `json:"samples,omitempty"`
}

// Report is a whole backtest.
type Report struct {
	Gate    string                 `json:"gate"`
	From    time.Time              `json:"from"`
	To      time.Time              `json:"to"`
	Window  time.Duration          `json:"window"`
	Step    time.Duration          `json:"step"`
	Windows []Window               `json:"windows"`
	Totals  map[engine.Outcome]int `json:"totals"`
	// GoodWindows and BadWindows count labelled windows; FalseAborts the
	// good ones the gate did not pass, MissedRegressions the bad ones it
	// passed.
	GoodWindows       int `json:"good_windows"`
	BadWindows        int `json:"bad_windows"`
	FalseAborts       int `json:"false_aborts"`
	MissedRegressions int `json:"missed_regressions"`
	// FalseAbortRate is FalseAborts / GoodWindows; MissedRegressionRate
	// is MissedRegressions / BadWindows (0 without such windows).
	FalseAbortRate       float64 `json:"false_abort_rate"`
	MissedRegressionRate float64 `json:"missed_regression_rate"`
}

// Run replays cfg.Gate over every window of cfg.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	g := cfg.Gate
	switch g.Kind {
	case runbook.GateCheck, runbook.GateSoak, runbook.GateGuard:
	default:
		return nil, fmt.Errorf("backtest: gate %s is a %s gate: only check, soak and guard gates sample history", g.Name, g.Kind)
	}
	if len(g.Checks) == 0 {
		return nil, fmt.Errorf("backtest: gate %s has no checks", g.Name)
	}
	if !cfg.To.After(cfg.From) {
		return nil, errors.New("backtest: -to must be after -from")
	}
	win := cfg.Window
	if win <= 0 {
		win = g.Duration
	}
	if win <= 0 {
		win = 15 * time.Minute
	}
	step := cfg.Step
	if step <= 0 {
		step = win
	}
	if cfg.From.Add(win).After(cfg.To) {
		return nil, fmt.Errorf("backtest: the history from %s to %s is shorter than one window (%s)", cfg.From.Format(time.RFC3339), cfg.To.Format(time.RFC3339), win)
	}
	for _, r := range append(append([]Range{}, cfg.Good...), cfg.Bad...) {
		if !r.To.After(r.From) {
			return nil, fmt.Errorf("backtest: period %s..%s ends before it starts", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
		}
	}
	rep := &Report{Gate: g.Name, From: cfg.From, To: cfg.To, Window: win, Step: step, Totals: map[engine.Outcome]int{}}
	for s := cfg.From; !s.Add(win).After(cfg.To); s = s.Add(step) {
		rep.Windows = append(rep.Windows, Window{Start: s, End: s.Add(win), Label: label(cfg, s, s.Add(win))})
	}
	par := cfg.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	errs := make([]error, len(rep.Windows))
	for i := range rep.Windows {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = replay(ctx, g, win, &rep.Windows[i])
		}(i)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, w := range rep.Windows {
		rep.Totals[w.Outcome]++
		switch w.Label {
		case Good:
			rep.GoodWindows++
			if w.Outcome != engine.OutcomePassed {
				rep.FalseAborts++
			}
		case Bad:
			rep.BadWindows++
			if w.Outcome == engine.OutcomePassed {
				rep.MissedRegressions++
			}
		}
	}
	if rep.GoodWindows > 0 {
		rep.FalseAbortRate = float64(rep.FalseAborts) / float64(rep.GoodWindows)
	}
	if rep.BadWindows > 0 {
		rep.MissedRegressionRate = float64(rep.MissedRegressions) / float64(rep.BadWindows)
	}
	return rep, nil
}

func label(cfg Config, from, to time.Time) Label {
	for _, r := range cfg.Bad {
		if r.Overlaps(from, to) {
			return Bad
		}
	}
	for _, r := range cfg.Good {
		if r.Contains(from, to) {
			return Good
		}
	}
	return Unknown
}

// replay runs the gate alone over one window on a simulated clock starting
// at the window's start.
func replay(ctx context.Context, g runbook.Gate, win time.Duration, w *Window) error {
	g.Checks = append([]runbook.Check(nil), g.Checks...)
	g.From, g.Until, g.Uses, g.DependsOn = "", "", nil, nil
	switch g.Kind {
	case runbook.GateCheck:
		g.Timeout = win
	default:
		// A guard replays as a soak over the window: same sampling, same
		// limits, a span of one window.
		g.Kind, g.Duration, g.Timeout = runbook.GateSoak, win, 0
	}
	// Decide, never ask: an inconclusive or failed gate ends the window.
	g.OnFail, g.OnInconclusive = runbook.PolicyAbort, runbook.PolicyAbort
	b := runbook.NewBuilder("backtest")
	b.Gate(g)
	plan, err := b.Build()
	if err != nil {
		return fmt.Errorf("backtest: gate %s: %w", g.Name, err)
	}
	var mu sync.Mutex
	var dec *runbook.GateDecision
	obs := runbook.ObserverFunc(func(ev runbook.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case runbook.GatePassed:
			dec = e.Decision
		case runbook.GateFailed:
			dec = e.Decision
			w.Reason = e.Reason
		case runbook.GateSampled:
			w.Samples = append(w.Samples, e.Sample)
		}
	})
	ex := &runbook.Executor{Clock: runbook.NewSimClock(w.Start), Observer: obs}
	res, runErr := ex.Run(ctx, plan, runbook.RunOptions{RunID: "backtest-" + w.Start.UTC().Format("20060102T150405Z")})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	if dec == nil {
		return fmt.Errorf("backtest: window %s: the gate did not decide: %v", w.Start.Format(time.RFC3339), runErr)
	}
	w.Outcome, w.Decider, w.StoppedAt = dec.Outcome, dec.Decider, dec.Time
	for _, c := range dec.Checks {
		if c.Check == dec.Decider {
			w.Rule = c.Rule
		}
	}
	if res != nil && w.StoppedAt.IsZero() {
		w.StoppedAt = res.End
	}
	return nil
}
