package engine

import "time"

// Retry defaults: a retried step without a delay waits DefaultRetryDelay
// after its first failed attempt, and without a backoff each further wait
// is DefaultRetryBackoff times the one before.
const (
	DefaultRetryDelay   = time.Second
	DefaultRetryBackoff = 2
)

// Backoff is the wait between the attempts of a retried step or
// compensation: Delay after the first failure, then Factor times the
// previous wait, capped at Max (zero: no cap), then moved by up to Jitter
// of itself either way (a fraction; above 1 counts as 1). A Delay or Factor
// that is zero or negative takes its default. The local executor waits
// [Backoff.After]; the Temporal workflow hands [Backoff.Resolved]'s Delay
// and Factor to Temporal's retry policy.
type Backoff struct {
	Delay  time.Duration
	Factor float64
	Max    time.Duration
	Jitter float64
}

// Resolved returns b with the defaults of Delay and Factor applied.
func (b Backoff) Resolved() Backoff {
	if b.Delay <= 0 {
		b.Delay = DefaultRetryDelay
	}
	if b.Factor <= 0 {
		b.Factor = DefaultRetryBackoff
	}
	return b
}

// After returns the wait before attempt n+1 after attempt n failed (n
// counts from 1). rnd, a number in [0,1), places the wait within the
// jitter: 0.5 is the wait without jitter.
func (b Backoff) After(n int, rnd float64) time.Duration {
	b = b.Resolved()
	f := float64(b.Delay)
	for i := 1; i < n; i++ {
		f *= b.Factor
		if b.Max > 0 && f > float64(b.Max) {
			break
		}
	}
	if b.Max > 0 && f > float64(b.Max) {
		f = float64(b.Max)
	}
	if b.Jitter > 0 {
		j := min(b.Jitter, 1)
		f += f * j * (2*rnd - 1)
	}
	return time.Duration(f)
}
