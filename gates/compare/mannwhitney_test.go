package compare

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// TestMannWhitneyUMatchesSciPy checks the statistic and p-value of every
// case in testdata/mannwhitney.json, written by SciPy's
// scipy.stats.mannwhitneyu (testdata/mannwhitney.py): ties, small samples,
// every alternative and method.
func TestMannWhitneyUMatchesSciPy(t *testing.T) {
	raw, err := os.ReadFile("testdata/mannwhitney.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			Name        string    `json:"name"`
			X           []float64 `json:"x"`
			Y           []float64 `json:"y"`
			Alternative string    `json:"alternative"`
			Method      string    `json:"method"`
			U           float64   `json:"u"`
			P           float64   `json:"p"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) < 50 {
		t.Fatalf("only %d reference cases", len(ref.Cases))
	}
	for _, c := range ref.Cases {
		got, err := MannWhitneyU(c.X, c.Y, Alternative(c.Alternative), Method(c.Method))
		if err != nil {
			t.Errorf("%s %s %s: %v", c.Name, c.Alternative, c.Method, err)
			continue
		}
		if got.U != c.U {
			t.Errorf("%s %s %s: U = %v, SciPy %v", c.Name, c.Alternative, c.Method, got.U, c.U)
		}
		if !close(got.P, c.P) {
			t.Errorf("%s %s %s: p = %.17g, SciPy %.17g (method used %s)", c.Name, c.Alternative, c.Method, got.P, c.P, got.Method)
		}
	}
}

func close(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1e-12, math.Max(math.Abs(a), math.Abs(b)))
}

// TestMannWhitneyUPublished checks the example of SciPy's documentation
// (after Conover, "Practical Nonparametric Statistics"): U = 17, exact
// two-sided p = 1/9.
func TestMannWhitneyUPublished(t *testing.T) {
	males := []float64{19, 22, 16, 29, 24}
	females := []float64{20, 11, 17, 12}
	r, err := MannWhitneyU(males, females, TwoSided, Auto)
	if err != nil {
		t.Fatal(err)
	}
	if r.U != 17 || r.Method != Exact || math.Abs(r.P-1.0/9) > 1e-15 {
		t.Fatalf("got U=%v p=%v method=%s, want U=17 p=0.1111 exact", r.U, r.P, r.Method)
	}
}

func TestMannWhitneyUErrors(t *testing.T) {
	if _, err := MannWhitneyU(nil, []float64{1}, TwoSided, Auto); err != ErrTooFewSamples {
		t.Errorf("empty x: %v", err)
	}
	if _, err := MannWhitneyU([]float64{math.NaN()}, []float64{1}, TwoSided, Auto); err != ErrNotFinite {
		t.Errorf("NaN: %v", err)
	}
	if _, err := MannWhitneyU([]float64{1, 1}, []float64{1}, TwoSided, Exact); err == nil {
		t.Error("exact with ties: no error")
	}
	if _, err := MannWhitneyU([]float64{1}, []float64{2}, "bigger", Auto); err == nil {
		t.Error("unknown alternative: no error")
	}
}
