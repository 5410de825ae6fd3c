package hcl_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
)

// FuzzLoadSource feeds arbitrary source to the front end: it must never
// panic, and every diagnostic must carry a source range.
func FuzzLoadSource(f *testing.F) {
	for _, dir := range []string{"../testdata/hcl/valid", "../testdata/hcl/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`runbook "x" {}`))
	// The corpus found by earlier fuzzing runs, kept at the repository's
	// testdata/fuzz (Go's own format).
	corpus, _ := filepath.Glob("../testdata/fuzz/FuzzLoadSource/*")
	for _, p := range corpus {
		if b, err := os.ReadFile(p); err == nil {
			if src, ok := parseCorpusEntry(b); ok {
				f.Add(src)
			}
		}
	}
	reg := testprovider.NewWorld().Registry()
	f.Fuzz(func(t *testing.T, src []byte) {
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				_ = os.WriteFile(os.TempDir()+"/hcl-fuzz-hang.txt", append(append([]byte{}, src...), buf[:n]...), 0o644)
			}
		}()
		defer close(done)
		rb, diags := hcl.LoadSource(context.Background(), "fuzz.hcl", src, hcl.Options{Registry: reg, Vars: map[string]string{"version": "1.2.3"}})
		if rb == nil {
			t.Fatal("nil runbook")
		}
		for _, d := range diags {
			if d.Subject == nil {
				t.Fatalf("diagnostic without range: %s: %s", d.Summary, d.Detail)
			}
		}
		if !diags.HasErrors() && rb.Plan() == nil {
			t.Fatal("no errors but no plan")
		}
		if diags.HasErrors() && rb.Plan() != nil {
			t.Fatal("errors but a plan")
		}
		if rb.Plan() != nil {
			_ = rb.Describe()
		}
		_, _ = hcl.Format("fuzz.hcl", src)
	})
}

// parseCorpusEntry reads a "go test fuzz v1" file holding one []byte.
func parseCorpusEntry(b []byte) ([]byte, bool) {
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", 2)
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		return nil, false
	}
	lit := strings.TrimSpace(lines[1])
	if !strings.HasPrefix(lit, "[]byte(") || !strings.HasSuffix(lit, ")") {
		return nil, false
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lit, "[]byte("), ")"))
	if err != nil {
		return nil, false
	}
	return []byte(s), true
}

func TestFuzzCorpusIsReadable(t *testing.T) {
	corpus, _ := filepath.Glob("../testdata/fuzz/FuzzLoadSource/*")
	if len(corpus) == 0 {
		t.Skip("no corpus")
	}
	for _, p := range corpus {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := parseCorpusEntry(b); !ok {
			t.Errorf("%s: not a go test fuzz v1 []byte entry", p)
		}
	}
}
