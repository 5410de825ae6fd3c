package lint

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// all includes the packages that are excluded by default (see excluded).
var all = flag.Bool("lint.all", false, "also check the packages in excluded")

// excluded lists module-relative directories (and everything below them)
// whose missing doc comments are known and owned elsewhere. Run
// `go test ./internal/lint -lint.all` to list them.
var excluded = []string{
	"cmd/handrail",
	"hcl",
}

// TestDocComments fails listing every package of the module without a
// package doc comment and every exported identifier (type, function,
// method on an exported type, constant, variable) without a doc comment;
// the doc comment of a type, function or method must start with its name
// (perhaps after "A", "An" or "The").
// It reads the non-test .go files of this module: nested modules (such as
// temporal/) and testdata directories are skipped. Struct fields and
// interface methods are not checked. A constant or variable inside a
// documented group counts as documented.
func TestDocComments(t *testing.T) {
	root := moduleRoot(t)
	missing, err := missingDocs(root)
	if err != nil {
		t.Fatal(err)
	}
	var failures []string
	for _, m := range missing {
		if !*all && isExcluded(m.dir) {
			continue
		}
		failures = append(failures, m.String())
	}
	if len(failures) > 0 {
		t.Errorf("%d missing doc comments (add a comment that says what it does and any contract):\n%s",
			len(failures), strings.Join(failures, "\n"))
	}
}

// finding is one missing doc comment.
type finding struct {
	dir  string // module-relative package directory, slash-separated
	pos  string // file:line, module-relative
	what string // "package foo", "func Foo", "method (*T).M", ...
}

func (f finding) String() string { return f.pos + ": " + f.what }

func isExcluded(dir string) bool {
	for _, e := range excluded {
		if dir == e || strings.HasPrefix(dir, e+"/") {
			return true
		}
	}
	return false
}

// moduleRoot walks up from the working directory to the go.mod of this module.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// missingDocs parses every non-test .go file below root (skipping nested
// modules, testdata and hidden directories) and returns the findings sorted
// by position.
func missingDocs(root string) ([]finding, error) {
	fset := token.NewFileSet()
	type pkgFiles struct {
		name     string
		files    []*ast.File
		paths    []string
		hasDoc   bool
		firstPos string
	}
	pkgs := map[string]*pkgFiles{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root {
				if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return filepath.SkipDir
				}
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // a module of its own
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return fmt.Errorf("parse: %w", err)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		p := pkgs[dir]
		if p == nil {
			p = &pkgFiles{name: f.Name.Name, firstPos: filepath.ToSlash(rel) + ":1"}
			pkgs[dir] = p
		}
		p.files = append(p.files, f)
		p.paths = append(p.paths, filepath.ToSlash(rel))
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			p.hasDoc = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	var out []finding
	for dir, p := range pkgs {
		if !p.hasDoc {
			out = append(out, finding{dir: dir, pos: p.firstPos, what: "package " + p.name + " (no package doc comment)"})
		}
		for i, f := range p.files {
			for _, decl := range f.Decls {
				for _, m := range undocumented(decl) {
					line := fset.Position(m.pos).Line
					out = append(out, finding{dir: dir, pos: fmt.Sprintf("%s:%d", p.paths[i], line), what: m.what})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].dir != out[j].dir {
			return out[i].dir < out[j].dir
		}
		return lessPos(out[i].pos, out[j].pos)
	})
	return out, nil
}

func lessPos(a, b string) bool {
	fa, la, _ := strings.Cut(a, ":")
	fb, lb, _ := strings.Cut(b, ":")
	if fa != fb {
		return fa < fb
	}
	var na, nb int
	fmt.Sscan(la, &na)
	fmt.Sscan(lb, &nb)
	return na < nb
}

type undoc struct {
	pos  token.Pos
	what string
}

func hasText(cg *ast.CommentGroup) bool {
	return cg != nil && strings.TrimSpace(cg.Text()) != ""
}

// undocumented returns the exported names declared by decl that lack a doc
// comment.
func undocumented(decl ast.Decl) []undoc {
	var out []undoc
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() {
			return nil
		}
		what := "func " + d.Name.Name
		if d.Recv != nil {
			recv, ok := receiverType(d.Recv)
			if !ok || !ast.IsExported(recv) {
				return nil
			}
			what = "method " + recv + "." + d.Name.Name
		}
		if !hasText(d.Doc) {
			return []undoc{{d.Pos(), what}}
		}
		if !startsWithName(d.Doc, d.Name.Name) {
			return []undoc{{d.Pos(), what + ": the doc comment should start with " + d.Name.Name}}
		}
		return nil
	case *ast.GenDecl:
		grouped := d.Lparen.IsValid()
		for _, spec := range d.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				if !s.Name.IsExported() {
					continue
				}
				doc := s.Doc
				if !hasText(doc) && !grouped {
					doc = d.Doc
				}
				if !hasText(doc) {
					out = append(out, undoc{s.Pos(), "type " + s.Name.Name})
				} else if !startsWithName(doc, s.Name.Name) {
					out = append(out, undoc{s.Pos(), "type " + s.Name.Name + ": the doc comment should start with " + s.Name.Name})
				}
			case *ast.ValueSpec:
				if hasText(s.Doc) || hasText(d.Doc) || (grouped && hasText(s.Comment)) {
					continue
				}
				for _, n := range s.Names {
					if n.IsExported() {
						out = append(out, undoc{n.Pos(), d.Tok.String() + " " + n.Name})
					}
				}
			}
		}
	}
	return out
}

// startsWithName reports whether a doc comment begins with name, perhaps
// after "A", "An" or "The", as Go's doc comments do ("Foo returns ...",
// "A Foo is ..."). It catches a comment left above the wrong declaration.
func startsWithName(doc *ast.CommentGroup, name string) bool {
	w := strings.Fields(doc.Text())
	if len(w) > 1 && (w[0] == "A" || w[0] == "An" || w[0] == "The") {
		w = w[1:]
	}
	if len(w) == 0 {
		return false
	}
	first := strings.TrimRight(w[0], ".,:;")
	return first == name || strings.HasPrefix(first, name+"(") || strings.HasPrefix(first, name+"'") ||
		strings.HasPrefix(first, "["+name+"]")
}

// receiverType returns the name of the receiver's base type: T for T, *T,
// T[K] and *T[K].
func receiverType(fl *ast.FieldList) (string, bool) {
	if fl == nil || len(fl.List) == 0 {
		return "", false
	}
	expr := fl.List[0].Type
	for {
		switch e := expr.(type) {
		case *ast.StarExpr:
			expr = e.X
		case *ast.IndexExpr:
			expr = e.X
		case *ast.IndexListExpr:
			expr = e.X
		case *ast.ParenExpr:
			expr = e.X
		case *ast.Ident:
			return e.Name, true
		default:
			return "", false
		}
	}
}
