package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/provider"
)

// varFlags are Terraform's -var and -var-file.
type varFlags struct {
	vars     multiFlag
	varFiles multiFlag
}

func (v *varFlags) values() (map[string]string, error) {
	out := map[string]string{}
	for i, kv := range v.vars {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			// Never echo the argument: it may be a secret typed wrong
			// ("-var token:VALUE").
			what := `it has no "="`
			if ok {
				what = `the name before "=" is empty`
			}
			return nil, fmt.Errorf("invalid -var (the %s -var given, %d characters long): %s; use -var name=value (its text is not shown, as it may hold a secret)", ordinal(i+1), len(kv), what)
		}
		out[strings.TrimSpace(k)] = val
	}
	return out, nil
}

// load compiles a runbook with the given registry and prints diagnostics.
// It returns nil when the runbook is invalid (the diagnostics were printed).
func (a *app) load(ctx context.Context, path string, vf *varFlags, reg *provider.Registry) *hcl.Runbook {
	opts := hcl.Options{Registry: reg, Environ: a.environ, Version: version}
	if vf != nil {
		vars, err := vf.values()
		if err != nil {
			a.errorf("%v", err)
			return nil
		}
		opts.Vars = vars
		opts.VarFiles = vf.varFiles
	}
	if a.heapFor != nil {
		if st, err := os.Stat(path); err == nil {
			a.heapFor(st.Size())
		}
	}
	rb, diags := hcl.Load(ctx, path, opts)
	if ctx.Err() != nil {
		// Interrupted while it compiled: the command says so.
		return nil
	}
	if len(diags) > 0 {
		a.writeDiags(rb, diags)
	}
	if diags.HasErrors() {
		return nil
	}
	return rb
}

func (a *app) writeDiags(rb *hcl.Runbook, diags hhcl.Diagnostics) {
	if rb == nil {
		fmt.Fprintln(a.stderr, diags.Error())
		return
	}
	if err := rb.WriteDiagnostics(a.stderr, diags, 100, a.color(a.stderr)); err != nil {
		fmt.Fprintln(a.stderr, diags.Error())
	}
}

// color reports whether w gets colours: a terminal, and NO_COLOR unset.
func (a *app) color(w io.Writer) bool {
	for _, e := range a.environ {
		if strings.HasPrefix(e, "NO_COLOR=") {
			return false
		}
	}
	return a.tty(w)
}

func (a *app) tty(w io.Writer) bool {
	if a.isTTY != nil {
		return *a.isTTY
	}
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

// isTerminal reports whether f is a terminal (not merely a character
// device such as /dev/null).
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

// ttyIn reports whether standard input is a terminal (for prompts).
func (a *app) ttyIn() bool {
	if a.isTTY != nil {
		return *a.isTTY
	}
	f, ok := a.stdin.(*os.File)
	return ok && isTerminal(f)
}

func (a *app) env(name string) string {
	for _, e := range a.environ {
		if k, v, ok := strings.Cut(e, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// runbookFiles lists the runbooks of FILE|DIR: *.hcl files that are not
// test files.
func runbookFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".handrail" || (strings.HasPrefix(d.Name(), ".") && p != path)) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".hcl") && !strings.HasSuffix(p, ".test.hcl") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// hclFiles lists every HCL file of FILE|DIR for fmt: runbooks, test files
// and variable files.
func hclFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != path {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".hcl") || strings.HasSuffix(p, ".hclvars")) {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// ordinal returns "1st", "2nd", "3rd", "4th"...
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}
