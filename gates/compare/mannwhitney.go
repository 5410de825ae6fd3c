// Package compare judges a canary against a baseline: the new version's
// samples of a metric against the old version's over the same interval,
// with the Mann-Whitney U test (the rank test Kayenta's judge uses), a
// direction, an effect-size tolerance and a confidence level.
//
// The statistic follows the textbook definition and SciPy's
// scipy.stats.mannwhitneyu exactly (statistic, alternatives, exact and
// asymptotic p-values, tie and continuity corrections); the package's tests
// compare it with values computed by SciPy and checked in as fixtures.
package compare

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Alternative is the alternative hypothesis of a test about x against y.
type Alternative string

// Alternatives.
const (
	// TwoSided: the distributions of x and y differ.
	TwoSided Alternative = "two-sided"
	// Greater: x is stochastically greater than y.
	Greater Alternative = "greater"
	// Less: x is stochastically less than y.
	Less Alternative = "less"
)

// Method says how the p-value is computed.
type Method string

// Methods.
const (
	// Auto uses Exact when one sample has at most 8 values and there are no
	// ties, Asymptotic otherwise (SciPy's rule).
	Auto Method = "auto"
	// Exact uses the exact null distribution of U (valid without ties).
	Exact Method = "exact"
	// Asymptotic uses the normal approximation with the tie correction and
	// the continuity correction.
	Asymptotic Method = "asymptotic"
)

// ErrTooFewSamples is returned when a sample is empty.
var ErrTooFewSamples = errors.New("compare: each sample needs at least one value")

// ErrNotFinite is returned for a NaN or infinite value.
var ErrNotFinite = errors.New("compare: values must be finite")

// UResult is the outcome of a Mann-Whitney U test of x against y.
type UResult struct {
	// U is the statistic of x: the number of pairs (xi, yj) with xi > yj,
	// ties counting one half.
	U float64
	// P is the p-value under the alternative.
	P float64
	// Method is the method actually used (never Auto).
	Method Method
	// Ties reports whether the pooled sample has ties.
	Ties bool
}

// MannWhitneyU tests x against y. It returns an error for an empty sample
// or a value that is not finite, or for the exact method with ties.
func MannWhitneyU(x, y []float64, alt Alternative, method Method) (UResult, error) {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return UResult{}, ErrTooFewSamples
	}
	switch alt {
	case TwoSided, Greater, Less:
	default:
		return UResult{}, fmt.Errorf("compare: unknown alternative %q (want two-sided, greater or less)", alt)
	}
	pooled := make([]ranked, 0, n1+n2)
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return UResult{}, ErrNotFinite
		}
		pooled = append(pooled, ranked{v: v, x: true})
	}
	for _, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return UResult{}, ErrNotFinite
		}
		pooled = append(pooled, ranked{v: v})
	}
	sort.Slice(pooled, func(i, j int) bool { return pooled[i].v < pooled[j].v })
	// Average ranks over runs of equal values; tieTerm is Σ(t³ − t).
	var r1, tieTerm float64
	for i := 0; i < len(pooled); {
		j := i
		for j < len(pooled) && pooled[j].v == pooled[i].v {
			j++
		}
		rank := float64(i+1+j) / 2 // mean of ranks i+1 .. j
		for k := i; k < j; k++ {
			if pooled[k].x {
				r1 += rank
			}
		}
		if t := float64(j - i); t > 1 {
			tieTerm += t*t*t - t
		}
		i = j
	}
	fn1, fn2 := float64(n1), float64(n2)
	u1 := r1 - fn1*(fn1+1)/2
	u2 := fn1*fn2 - u1
	res := UResult{U: u1, Ties: tieTerm > 0, Method: method}
	if method == Auto || method == "" {
		res.Method = Asymptotic
		if (n1 <= 8 || n2 <= 8) && !res.Ties {
			res.Method = Exact
		}
	}
	// The statistic whose large values speak for the alternative.
	u := u1
	switch alt {
	case Less:
		u = u2
	case TwoSided:
		u = math.Max(u1, u2)
	}
	switch res.Method {
	case Exact:
		if res.Ties {
			return UResult{}, errors.New("compare: the exact method needs samples without ties; use asymptotic")
		}
		res.P = exactSF(u, n1, n2)
	case Asymptotic:
		n := fn1 + fn2
		mu := fn1 * fn2 / 2
		sigma := math.Sqrt(fn1 * fn2 / 12 * ((n + 1) - tieTerm/(n*(n-1))))
		if sigma == 0 {
			// Every value equal: no evidence either way.
			res.P = 1
			return res, nil
		}
		z := (u - mu - 0.5) / sigma
		res.P = normalSF(z)
	default:
		return UResult{}, fmt.Errorf("compare: unknown method %q (want auto, exact or asymptotic)", method)
	}
	if alt == TwoSided {
		res.P *= 2
	}
	res.P = math.Min(1, math.Max(0, res.P))
	return res, nil
}

type ranked struct {
	v float64
	x bool
}

// normalSF is the survival function of the standard normal distribution.
func normalSF(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// exactSF returns P(U ≥ u) under the null hypothesis for samples of sizes m
// and n without ties. The frequencies of U are the coefficients of the
// Gaussian binomial coefficient [m+n choose m]_q = Π_{i=1..m} (1 − q^(n+i)) /
// (1 − q^i); the polynomial is built by multiplying and dividing one factor
// at a time (division by 1 − q^i is a running sum with stride i).
func exactSF(u float64, m, n int) float64 {
	if m > n {
		m, n = n, m
	}
	top := m * n
	c := make([]float64, top+1)
	c[0] = 1
	for i := 1; i <= m; i++ {
		s := n + i
		for k := top; k >= s; k-- {
			c[k] -= c[k-s]
		}
		for k := i; k <= top; k++ {
			c[k] += c[k-i]
		}
	}
	var total, tail float64
	// U takes integer values without ties; u may be x.5 only with ties.
	from := int(math.Ceil(u - 1e-9))
	for k, f := range c {
		total += f
		if k >= from {
			tail += f
		}
	}
	if total == 0 {
		return 1
	}
	return tail / total
}
