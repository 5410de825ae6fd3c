package engine_test

import (
	"testing"
	"time"

	"github.com/handrail-dev/handrail/runbook/engine"
)

func TestBackoff(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name string
		b    engine.Backoff
		n    int
		rnd  float64
		want time.Duration
	}{
		{"defaults, first wait", engine.Backoff{}, 1, 0.5, s},
		{"defaults double", engine.Backoff{}, 3, 0.5, 4 * s},
		{"negative takes the defaults", engine.Backoff{Delay: -s, Factor: -1}, 2, 0.5, 2 * s},
		{"own delay and factor", engine.Backoff{Delay: 100 * time.Millisecond, Factor: 3}, 3, 0.5, 900 * time.Millisecond},
		{"capped", engine.Backoff{Max: 3 * s}, 5, 0.5, 3 * s},
		{"first wait capped", engine.Backoff{Delay: 10 * s, Max: 2 * s}, 1, 0.5, 2 * s},
		{"a factor below 1 shrinks", engine.Backoff{Delay: 4 * s, Factor: 0.5}, 3, 0.5, s},
		{"jitter down", engine.Backoff{Jitter: 0.5}, 1, 0, 500 * time.Millisecond},
		{"jitter up", engine.Backoff{Jitter: 0.5}, 1, 0.75, 1250 * time.Millisecond},
		{"jitter above 1 counts as 1", engine.Backoff{Jitter: 3}, 1, 0, 0},
	} {
		if got := tc.b.After(tc.n, tc.rnd); got != tc.want {
			t.Errorf("%s: After(%d, %g) = %s, want %s", tc.name, tc.n, tc.rnd, got, tc.want)
		}
	}
	r := engine.Backoff{Max: 5 * s, Jitter: 0.1}.Resolved()
	if r != (engine.Backoff{Delay: engine.DefaultRetryDelay, Factor: engine.DefaultRetryBackoff, Max: 5 * s, Jitter: 0.1}) || r.Delay != s || r.Factor != 2 {
		t.Errorf("Resolved: %+v", r)
	}
}
