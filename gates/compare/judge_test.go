package compare

import (
	"context"
	"encoding/json"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

func noisy(r *rand.Rand, n int, mean, sd float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = mean + sd*r.NormFloat64()
	}
	return v
}

func TestJudge(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	base := noisy(r, 40, 0.200, 0.005)
	cases := []struct {
		name     string
		canary   []float64
		baseline []float64
		o        Options
		want     Verdict
	}{
		{"twice as slow", noisy(r, 40, 0.400, 0.005), base, Options{Tolerance: 0.1}, Fail},
		{"15% slower, 10% tolerated", noisy(r, 40, 0.230, 0.005), base, Options{Tolerance: 0.1}, Fail},
		{"same, 10% tolerated", noisy(r, 40, 0.200, 0.005), base, Options{Tolerance: 0.1}, Pass},
		{"faster", noisy(r, 40, 0.150, 0.005), base, Options{Tolerance: 0}, Pass},
		{"10% slower, right at the bound", noisy(r, 5, 0.220, 0.05), noisy(r, 5, 0.200, 0.05), Options{Tolerance: 0.1}, Inconclusive},
		{"too few samples", []float64{9, 9}, []float64{1, 1, 1}, Options{}, Inconclusive},
		{"throughput dropped", noisy(r, 30, 500, 5), noisy(r, 30, 1000, 5), Options{Direction: LowerIsWorse, Tolerance: 0.1}, Fail},
		{"throughput held", noisy(r, 30, 990, 5), noisy(r, 30, 1000, 5), Options{Direction: LowerIsWorse, Tolerance: 0.1}, Pass},
	}
	for _, c := range cases {
		j, err := Judge(c.canary, c.baseline, c.o)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if j.Verdict != c.want {
			t.Errorf("%s: verdict %s (%s), want %s", c.name, j.Verdict, j.Reason, c.want)
		}
		if _, err := json.Marshal(j.Value()); err != nil {
			t.Errorf("%s: judgement does not marshal: %v", c.name, err)
		}
	}
}

func TestJudgeBadOptions(t *testing.T) {
	for _, o := range []Options{{Direction: "up"}, {Confidence: 1.5}, {Tolerance: -0.1}, {Tolerance: 1}, {MinSamples: -1}} {
		if _, err := Judge([]float64{1, 2, 3}, []float64{1, 2, 3}, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// TestCheckInAGate runs a compare check through the executor: a canary 30 %
// slower than its baseline fails the soak.
func TestCheckInAGate(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	series := func(ctx context.Context, env *runbook.Env) ([]float64, []float64, error) {
		return noisy(r, 20, 0.26, 0.004), noisy(r, 20, 0.20, 0.004), nil
	}
	b := runbook.NewBuilder("compare")
	b.Gate(runbook.Gate{Name: "soak", Kind: runbook.GateSoak, Count: 2, Checks: []runbook.Check{Check("p95_vs_baseline", series, Options{Tolerance: 0.1})}})
	plan, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ex := &runbook.Executor{Clock: runbook.NewSimClock(time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC))}
	res, err := ex.Run(context.Background(), plan, runbook.RunOptions{RunID: "compare"})
	if err == nil || res.Status != runbook.StatusRolledBack {
		t.Fatalf("status %s, err %v; want rolled_back", res.Status, err)
	}
	if !strings.Contains(err.Error(), "p95_vs_baseline breached") {
		t.Errorf("error %q does not name the breached check", err)
	}
}
