package handrail_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/sandbox"
)

// snippet is one HCL example from the documentation.
type snippet struct {
	where string
	src   string
}

var fence = regexp.MustCompile("(?s)```hcl\n(.*?)```")

// docSnippets returns every ```hcl block of the repository's Markdown and
// the HCL example of this package's godoc.
func docSnippets(t *testing.T) []snippet {
	var out []snippet
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".md") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range fence.FindAllStringSubmatchIndex(string(b), -1) {
			line := strings.Count(string(b[:m[0]]), "\n") + 1
			out = append(out, snippet{where: path + ":" + strconv.Itoa(line), src: string(b[m[2]:m[3]])})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var hclLines []string
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "// # The same runbook in HCL"):
			in = true
		case in && strings.HasPrefix(l, "// Run it with"):
			in = false
		case in:
			hclLines = append(hclLines, strings.TrimPrefix(strings.TrimPrefix(l, "//"), "\t"))
		}
	}
	out = append(out, snippet{where: "doc.go", src: strings.Join(hclLines, "\n")})
	return out
}

// TestDocSnippetsAreValid loads every HCL example of the documentation with
// the standard providers (their fakes' registry: the same schemas) and
// checks it is valid and fmt-clean. A fragment without a runbook block is
// given one.
func TestDocSnippetsAreValid(t *testing.T) {
	snips := docSnippets(t)
	if len(snips) < 3 {
		t.Fatalf("found only %d HCL snippets: the extraction is broken", len(snips))
	}
	for _, s := range snips {
		t.Run(s.where, func(t *testing.T) {
			src := s.src
			if !regexp.MustCompile(`(?m)^runbook "`).MatchString(src) {
				src = "runbook \"snippet\" {}\n\n" + src
			}
			reg, err := sandbox.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).Registry()
			if err != nil {
				t.Fatal(err)
			}
			rb, diags := hcl.LoadSource(context.Background(), "snippet.hcl", []byte(src), hcl.Options{Registry: reg})
			if diags.HasErrors() {
				t.Fatalf("%s is not a valid runbook:\n%s\n%s", s.where, diags.Error(), s.src)
			}
			_ = rb.Close()
			formatted, fd := hcl.Format(s.where, []byte(s.src))
			if fd.HasErrors() {
				t.Fatalf("%s: %s", s.where, fd.Error())
			}
			if strings.TrimSpace(string(formatted)) != strings.TrimSpace(s.src) {
				t.Errorf("%s is not fmt-clean; handrail fmt writes:\n%s", s.where, formatted)
			}
		})
	}
}
