package temporal_test

import (
	"math"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/temporal"
)

// TestRetryPolicyWaitsAsTheExecutor: the waits Temporal computes from the
// policy (the first, times the backoff, capped) are the local executor's
// waits without jitter, attempt by attempt.
func TestRetryPolicyWaitsAsTheExecutor(t *testing.T) {
	for _, r := range []runbook.Retry{
		{Attempts: 3},
		{Attempts: 5, Delay: 100 * time.Millisecond, Backoff: 3},
		{Attempts: 6, Delay: time.Second, MaxDelay: 5 * time.Second},
		{Attempts: 3, Delay: 10 * time.Second, MaxDelay: 2 * time.Second},
		{Attempts: 4, Delay: time.Second, Backoff: 1, Jitter: 0.2},
	} {
		p := temporal.RetryPolicy(r)
		if int(p.MaximumAttempts) != r.MaxAttempts() {
			t.Errorf("%+v: %d attempts", r, p.MaximumAttempts)
		}
		for n := 1; n < r.MaxAttempts(); n++ {
			got := time.Duration(float64(p.InitialInterval) * math.Pow(p.BackoffCoefficient, float64(n-1)))
			got = min(got, p.MaximumInterval)
			if want := r.DelayAfter(n); got != want {
				t.Errorf("%+v: wait after attempt %d is %s on Temporal, %s locally", r, n, got, want)
			}
		}
	}
}
