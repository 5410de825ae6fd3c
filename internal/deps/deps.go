package deps

import (
	"fmt"
	"sort"
	"strings"
)

// Module is the module path of the repository.
const Module = "github.com/handrail-dev/handrail"

// Package is one node of the graph `go list -deps` prints.
type Package struct {
	ImportPath string
	Standard   bool
	// Deps are every package it reaches, transitively.
	Deps []string
}

// Graph maps import paths to packages.
type Graph map[string]*Package

// rel returns the path of p inside the module ("runbook/runbooktest"), or
// "" for packages outside it.
func rel(p string) string {
	if p == Module {
		return "."
	}
	if strings.HasPrefix(p, Module+"/") {
		return strings.TrimPrefix(p, Module+"/")
	}
	return ""
}

func under(r, dir string) bool { return r == dir || strings.HasPrefix(r, dir+"/") }

// providerName returns x for providers/x/... paths.
func providerName(r string) string {
	if !under(r, "providers") || r == "providers" {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(r, "providers/"), "/")
	return name
}

// Check applies the dependency rule to every package of the module in g and
// returns one message per violation, sorted.
func Check(g Graph) []string {
	var bad []string
	add := func(pkg, dep, why string) {
		bad = append(bad, fmt.Sprintf("%s imports %s: %s", pkg, dep, why))
	}
	// What go-cty reaches may be imported through it.
	ctyReach := map[string]bool{}
	for path, p := range g {
		if strings.HasPrefix(path, "github.com/zclconf/go-cty/") || path == "github.com/zclconf/go-cty" {
			ctyReach[path] = true
			for _, d := range p.Deps {
				ctyReach[d] = true
			}
		}
	}
	for path, p := range g {
		r := rel(path)
		if r == "" {
			continue
		}
		for _, d := range p.Deps {
			dp, ok := g[d]
			std := ok && dp.Standard
			dr := rel(d)
			switch {
			case under(r, "runbook"):
				if !std && !under(dr, "runbook") {
					add(path, d, "runbook reaches only the standard library")
				}
			case under(r, "steps"), under(r, "gates"):
				if !std && !under(dr, "runbook") {
					add(path, d, r[:strings.IndexByte(r+"/", '/')]+" reaches only runbook and the standard library")
				}
			case under(r, "provider"):
				if std || under(dr, "runbook") || under(dr, "provider") || ctyReach[d] {
					continue
				}
				add(path, d, "provider reaches only runbook, go-cty and the standard library")
			case providerName(r) != "":
				if under(dr, "hcl") {
					add(path, d, "a provider never imports hcl")
				}
				if x, y := providerName(r), providerName(dr); y != "" && y != x {
					add(path, d, fmt.Sprintf("provider %s never imports another provider (%s)", x, y))
				}
			case under(r, "hcl"):
				if providerName(dr) != "" {
					add(path, d, "hcl never imports a concrete provider: it receives a registry")
				}
			}
		}
	}
	sort.Strings(bad)
	return bad
}
