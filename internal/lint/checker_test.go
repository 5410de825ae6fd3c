package lint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingDocsFindsWhatItShould checks the checker itself on a small
// module in a temporary directory.
func TestMissingDocsFindsWhatItShould(t *testing.T) {
	root := t.TempDir()
	write := func(rel, src string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n")
	write("a/a.go", `// Package a is documented.
package a

// Documented is documented.
type Documented struct{}

type Bare struct{}

type hidden struct{}

// M is documented.
func (Documented) M() {}

func (*Bare) N() {}

func (hidden) O() {}

func F() {}

func g() {}

// Group of constants.
const (
	C1 = 1
	C2 = 2
)

const (
	D1 = 1 // D1 has a line comment.
	D2 = 2
	d3 = 3
)

var V = 1

type (
	// T1 is documented.
	T1 int
	T2 int
)

func Generic[K comparable](k K) {}

type List[T any] struct{}

func (l *List[T]) Len() int { return 0 }

// Misplaced says something about something else.
func Elsewhere() {}

// A Article is documented with an article.
type Article int
`)
	write("a/a_test.go", "package a\n\nfunc TestOnly() {}\n")
	write("b/b.go", "package b\n\n// X is documented.\nvar X = 1\n")
	write("b/testdata/c.go", "package c\n\nfunc Ignored() {}\n")
	write("nested/go.mod", "module example.com/nested\n")
	write("nested/n.go", "package nested\n\nfunc Ignored() {}\n")

	got, err := missingDocs(root)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range got {
		lines = append(lines, f.String())
	}
	want := []string{
		"a/a.go:7: type Bare",
		"a/a.go:14: method Bare.N",
		"a/a.go:18: func F",
		"a/a.go:30: const D2",
		"a/a.go:34: var V",
		"a/a.go:39: type T2",
		"a/a.go:42: func Generic",
		"a/a.go:44: type List",
		"a/a.go:46: method List.Len",
		"a/a.go:49: func Elsewhere: the doc comment should start with Elsewhere",
		"b/b.go:1: package b (no package doc comment)",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
