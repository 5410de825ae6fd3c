package engine_test

import (
	"testing"
	"time"

	"github.com/handrail-dev/handrail/runbook/engine"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// feed observes verdicts one by one, advancing the time by each wait the
// machine asks for, and returns the waits and the 1-based sample that
// ended the check (0: none did).
func feed(c *engine.Check, vs ...engine.Verdict) (waits []time.Duration, at int) {
	now := t0.Add(c.InitialDelay())
	for i, v := range vs {
		done, wait := c.Observe(v, 0.5, "probe down", now)
		if done {
			return waits, i + 1
		}
		waits = append(waits, wait)
		now = now.Add(wait)
	}
	return waits, 0
}

func TestCheckSchedule(t *testing.T) {
	P := engine.VerdictPass
	tests := []struct {
		name      string
		spec      engine.CheckSpec
		vs        []engine.Verdict
		wantWaits []time.Duration
		wantAt    int
		wantRule  string
	}{
		{"soak samples every 30s by default and ends at its duration",
			engine.CheckSpec{Kind: "soak", Duration: 90 * time.Second}, []engine.Verdict{P, P, P, P, P},
			[]time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second}, 4, engine.RuleEnd},
		{"the last wait is cut to the duration's end",
			engine.CheckSpec{Kind: "soak", GateEvery: time.Minute, Duration: 150 * time.Second}, []engine.Verdict{P, P, P, P},
			[]time.Duration{time.Minute, time.Minute, 30 * time.Second}, 4, engine.RuleEnd},
		{"the check's every overrides the gate's",
			engine.CheckSpec{Kind: "soak", Every: 5 * time.Second, GateEvery: time.Minute, Duration: 10 * time.Second}, []engine.Verdict{P, P, P, P},
			[]time.Duration{5 * time.Second, 5 * time.Second}, 3, engine.RuleEnd},
		{"a count ends the soak, not the duration",
			engine.CheckSpec{Kind: "soak", GateCount: 2, GateEvery: time.Minute, Duration: time.Second}, []engine.Verdict{P, P, P},
			[]time.Duration{time.Minute}, 2, engine.RuleEnd},
		{"the check's count overrides the gate's",
			engine.CheckSpec{Kind: "guard", Count: 3, GateCount: 1}, []engine.Verdict{P, P, P, P},
			[]time.Duration{30 * time.Second, 30 * time.Second}, 3, engine.RuleEnd},
		{"a check gate polls every 10s until the first pass",
			engine.CheckSpec{Kind: "check"}, []engine.Verdict{engine.VerdictPending, engine.VerdictPending, P, P},
			[]time.Duration{10 * time.Second, 10 * time.Second}, 3, engine.RuleSuccess},
		{"a guard without a count or duration samples until stopped",
			engine.CheckSpec{Kind: "guard", GateEvery: time.Second}, []engine.Verdict{P, P, P},
			[]time.Duration{time.Second, time.Second, time.Second}, 0, ""},
		{"tolerate 1: the second breach in a row fails",
			engine.CheckSpec{Kind: "soak", GateEvery: time.Second, Limits: engine.Limits{Tolerate: 1}}, []engine.Verdict{engine.VerdictFail, P, engine.VerdictFail, engine.VerdictFail},
			[]time.Duration{time.Second, time.Second, time.Second}, 4, engine.RuleFailureLimit},
		{"a dry run soak never decides before its end",
			engine.CheckSpec{Kind: "soak", GateEvery: time.Second, Duration: 2 * time.Second, Limits: engine.Limits{DryRun: true}}, []engine.Verdict{engine.VerdictFail, engine.VerdictError, engine.VerdictFail},
			[]time.Duration{time.Second, time.Second}, 3, engine.RuleEnd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := engine.NewCheck(tc.spec, t0)
			waits, at := feed(c, tc.vs...)
			if at != tc.wantAt || c.Rule() != tc.wantRule {
				t.Fatalf("ended at sample %d by %q, want %d by %q", at, c.Rule(), tc.wantAt, tc.wantRule)
			}
			if len(waits) != len(tc.wantWaits) {
				t.Fatalf("waits %v, want %v", waits, tc.wantWaits)
			}
			for i := range waits {
				if waits[i] != tc.wantWaits[i] {
					t.Fatalf("waits %v, want %v", waits, tc.wantWaits)
				}
			}
		})
	}
}

func TestCheckDefaults(t *testing.T) {
	c := engine.NewCheck(engine.CheckSpec{Kind: "soak", Index: 1, GateInitialDelay: time.Minute, GateCount: 4}, t0)
	if c.Name() != "check2" || c.Every() != 30*time.Second || c.InitialDelay() != time.Minute || c.Count() != 4 || c.Seq() != 1 {
		t.Fatalf("name %q every %s delay %s count %d seq %d", c.Name(), c.Every(), c.InitialDelay(), c.Count(), c.Seq())
	}
	c = engine.NewCheck(engine.CheckSpec{Kind: "check", Name: "up", InitialDelay: time.Second, GateInitialDelay: time.Hour}, t0)
	if c.Name() != "up" || c.Every() != 10*time.Second || c.InitialDelay() != time.Second {
		t.Fatalf("name %q every %s delay %s", c.Name(), c.Every(), c.InitialDelay())
	}
	if c.Outcome() != engine.OutcomePassed || c.Rule() != "" || c.Reason() != "" {
		t.Fatalf("undecided check: %s %q %q", c.Outcome(), c.Rule(), c.Reason())
	}
}

func TestCheckReasons(t *testing.T) {
	spec := engine.CheckSpec{Kind: "soak", Name: "errors", Threshold: "< 0.1", Message: "too many errors",
		Limits: engine.Limits{InconclusiveLimit: 1, ErrorLimit: 2}}
	tests := []struct {
		name    string
		vs      []engine.Verdict
		outcome engine.Outcome
		rule    string
		reason  string
	}{
		{"breach", []engine.Verdict{engine.VerdictFail}, engine.OutcomeFailed, engine.RuleFailureLimit,
			"check errors breached: value 0.5, want < 0.1: too many errors"},
		{"inconclusive", []engine.Verdict{engine.VerdictInconclusive, engine.VerdictInconclusive}, engine.OutcomeInconclusive, engine.RuleInconclusiveLimit,
			"check errors inconclusive 2 times (limit 1)"},
		{"errors in a row", []engine.Verdict{engine.VerdictError, engine.VerdictError, engine.VerdictError}, engine.OutcomeError, engine.RuleErrorLimit,
			"check errors: probe failed 3 times in a row: probe down"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := engine.NewCheck(spec, t0)
			if _, at := feed(c, tc.vs...); at != len(tc.vs) {
				t.Fatalf("decided at %d, want %d", at, len(tc.vs))
			}
			if c.Outcome() != tc.outcome || c.Rule() != tc.rule || c.Reason() != tc.reason {
				t.Fatalf("got %s %q %q\nwant %s %q %q", c.Outcome(), c.Rule(), c.Reason(), tc.outcome, tc.rule, tc.reason)
			}
		})
	}
	c := engine.NewCheck(engine.CheckSpec{Kind: "soak"}, t0)
	if _, at := feed(c, engine.VerdictFail); at != 1 || c.Reason() != "check check1 breached: value 0.5" {
		t.Fatalf("at %d reason %q", at, c.Reason())
	}
	if engine.DisplayValue(nil) != "(none)" {
		t.Fatal(engine.DisplayValue(nil))
	}
}

func TestCheckStop(t *testing.T) {
	tests := []struct {
		name    string
		spec    engine.CheckSpec
		why     engine.Stop
		outcome engine.Outcome
		rule    string
		reason  string
	}{
		{"a check gate's default timeout", engine.CheckSpec{Kind: "check", Name: "up", Message: "still down"}, engine.StopTimeout,
			engine.OutcomeFailed, engine.RuleTimeout, "check up did not hold within 5m0s: still down"},
		{"a soak's own timeout", engine.CheckSpec{Kind: "soak", Name: "up", Timeout: time.Minute}, engine.StopTimeout,
			engine.OutcomeFailed, engine.RuleTimeout, "check up did not hold within 1m0s"},
		{"a dry run passes at its timeout", engine.CheckSpec{Kind: "check", Limits: engine.Limits{DryRun: true}}, engine.StopTimeout,
			engine.OutcomePassed, engine.RuleDryRun, ""},
		{"another check decided", engine.CheckSpec{Kind: "soak"}, engine.StopDecided, engine.OutcomePassed, engine.RuleStopped, ""},
		{"the guard's span ended", engine.CheckSpec{Kind: "guard"}, engine.StopSpanEnded, engine.OutcomePassed, engine.RuleEnd, ""},
		{"the run stopped", engine.CheckSpec{Kind: "soak", Name: "up"}, engine.StopCancelled, engine.OutcomeError, engine.RuleStopped,
			"check up stopped: interrupt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := engine.NewCheck(tc.spec, t0)
			c.Stop(tc.why, "interrupt")
			if c.Outcome() != tc.outcome || c.Rule() != tc.rule || c.Reason() != tc.reason {
				t.Fatalf("got %s %q %q\nwant %s %q %q", c.Outcome(), c.Rule(), c.Reason(), tc.outcome, tc.rule, tc.reason)
			}
		})
	}
}

func TestGateEnd(t *testing.T) {
	g := engine.NewGateEnd()
	if g.Add(0, engine.OutcomePassed, "") || g.Outcome != engine.OutcomePassed || g.Decider != -1 {
		t.Fatalf("a pass decided: %+v", g)
	}
	if !g.Add(2, engine.OutcomeInconclusive, "flaky") {
		t.Fatal("the first check that does not pass must decide")
	}
	if g.Add(1, engine.OutcomeFailed, "breach") {
		t.Fatal("a later check decided again")
	}
	if g.Outcome != engine.OutcomeInconclusive || g.Reason != "flaky" || g.Decider != 2 {
		t.Fatalf("%+v", g)
	}
}

func TestGateDefaults(t *testing.T) {
	if got := engine.GateTimeout("check", 0); got != 5*time.Minute {
		t.Fatal(got)
	}
	if got := engine.GateTimeout("soak", 0); got != 0 {
		t.Fatal(got)
	}
	if got := engine.GateTimeout("check", time.Second); got != time.Second {
		t.Fatal(got)
	}
	tests := []struct {
		o                 engine.Outcome
		onFail, onInconcl string
		want              string
	}{
		{engine.OutcomeFailed, "", "", "rollback"},
		{engine.OutcomeError, "abort", "continue", "abort"},
		{engine.OutcomeInconclusive, "abort", "", "pause"},
		{engine.OutcomeInconclusive, "", "continue", "continue"},
	}
	for _, tc := range tests {
		if got := engine.FailurePolicy(tc.o, tc.onFail, tc.onInconcl); got != tc.want {
			t.Errorf("FailurePolicy(%s, %q, %q) = %q, want %q", tc.o, tc.onFail, tc.onInconcl, got, tc.want)
		}
	}
}
