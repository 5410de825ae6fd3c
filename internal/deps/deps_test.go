package deps_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/internal/deps"
)

// load runs `go list -deps` over the whole module.
func load(t *testing.T) deps.Graph {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "list", "-e", "-deps", "-f", `{{.ImportPath}}|{{.Standard}}|{{join .Deps ","}}`, "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	g := deps.Graph{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 3)
		if len(parts) != 3 {
			continue
		}
		p := &deps.Package{ImportPath: parts[0], Standard: parts[1] == "true"}
		if parts[2] != "" {
			p.Deps = strings.Split(parts[2], ",")
		}
		g[p.ImportPath] = p
	}
	require.NoError(t, sc.Err())
	return g
}

func TestRepositoryFollowsTheDependencyRule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	g := load(t)
	for _, must := range []string{"runbook", "steps", "gates", "provider"} {
		_, ok := g[deps.Module+"/"+must]
		assert.True(t, ok, "package %s not found by go list", must)
	}
	assert.Empty(t, deps.Check(g), "dependency rule (docs/design.md)")
}

func TestCheck(t *testing.T) {
	m := func(p string) string { return deps.Module + "/" + p }
	std := func(paths ...string) []*deps.Package {
		var out []*deps.Package
		for _, p := range paths {
			out = append(out, &deps.Package{ImportPath: p, Standard: true})
		}
		return out
	}
	base := func() deps.Graph {
		g := deps.Graph{}
		for _, p := range std("context", "fmt", "net/http") {
			g[p.ImportPath] = p
		}
		g["github.com/zclconf/go-cty/cty"] = &deps.Package{ImportPath: "github.com/zclconf/go-cty/cty", Deps: []string{"golang.org/x/text/unicode/norm", "fmt"}}
		g["golang.org/x/text/unicode/norm"] = &deps.Package{ImportPath: "golang.org/x/text/unicode/norm"}
		g["github.com/stretchr/testify/assert"] = &deps.Package{ImportPath: "github.com/stretchr/testify/assert"}
		g["github.com/jackc/pgx/v5"] = &deps.Package{ImportPath: "github.com/jackc/pgx/v5"}
		return g
	}
	tests := []struct {
		name string
		pkg  string
		deps []string
		want []string
	}{
		{"runbook on the standard library", "runbook", []string{"context", "fmt"}, nil},
		{"runbooktest on runbook", "runbook/runbooktest", []string{m("runbook"), "fmt"}, nil},
		{"runbook on testify", "runbook", []string{"github.com/stretchr/testify/assert"},
			[]string{m("runbook") + " imports github.com/stretchr/testify/assert: runbook reaches only the standard library"}},
		{"steps on runbook", "steps", []string{m("runbook"), "context"}, nil},
		{"gates on provider", "gates", []string{m("provider")},
			[]string{m("gates") + " imports " + m("provider") + ": gates reaches only runbook and the standard library"}},
		{"provider on go-cty and what it needs", "provider", []string{m("runbook"), "github.com/zclconf/go-cty/cty", "golang.org/x/text/unicode/norm"}, nil},
		{"provider on pgx", "provider", []string{"github.com/jackc/pgx/v5"},
			[]string{m("provider") + " imports github.com/jackc/pgx/v5: provider reaches only runbook, go-cty and the standard library"}},
		{"a provider on its own subpackage and SDK", "providers/postgres", []string{m("providers/postgres/postgresfake"), "github.com/jackc/pgx/v5", m("provider")}, nil},
		{"a provider on another", "providers/docker", []string{m("providers/ssh")},
			[]string{m("providers/docker") + " imports " + m("providers/ssh") + ": provider docker never imports another provider (ssh)"}},
		{"a provider fake on another provider", "providers/docker/dockerfake", []string{m("providers/ssh/sshfake")},
			[]string{m("providers/docker/dockerfake") + " imports " + m("providers/ssh/sshfake") + ": provider docker never imports another provider (ssh)"}},
		{"a provider on hcl", "providers/http", []string{m("hcl")},
			[]string{m("providers/http") + " imports " + m("hcl") + ": a provider never imports hcl"}},
		{"hcl on provider", "hcl", []string{m("provider"), m("runbook")}, nil},
		{"hcl on a provider", "hcl", []string{m("providers/ssh")},
			[]string{m("hcl") + " imports " + m("providers/ssh") + ": hcl never imports a concrete provider: it receives a registry"}},
		{"cmd wires everything", "cmd/handrail", []string{m("providers/ssh"), m("hcl"), m("providers/docker")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := base()
			for _, d := range tc.deps {
				if _, ok := g[d]; !ok {
					g[d] = &deps.Package{ImportPath: d}
				}
			}
			g[m(tc.pkg)] = &deps.Package{ImportPath: m(tc.pkg), Deps: tc.deps}
			assert.Equal(t, tc.want, deps.Check(g))
		})
	}
}
