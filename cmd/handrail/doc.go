package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/handrail-dev/handrail/mddoc"
	"github.com/zclconf/go-cty/cty"
)

// cmdDoc renders a runbook as Markdown.
func (a *app) cmdDoc(_ context.Context, args []string) int {
	fs := newFlagSet("doc", a.stderr, "doc FILE.hcl [-o FILE.md]")
	out := fs.String("o", "", "write the document here (default: stdout)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) != 1 {
		a.errorf("doc takes one runbook FILE")
		return exitInvalid
	}
	src, err := os.ReadFile(pos[0])
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	// The values of *.auto.hclvars next to the runbook, as a run sees them.
	vars := map[string]cty.Value{}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(pos[0]), "*.auto.hclvars"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			a.errorf("%v", err)
			return exitInvalid
		}
		vs, err := mddoc.ReadVars(f, b)
		if err != nil {
			a.errorf("%v", err)
			return exitInvalid
		}
		for k, v := range vs {
			vars[k] = v
		}
	}
	md, err := mddoc.Render(pos[0], src, vars)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	if *out == "" || *out == "-" {
		_, _ = a.stdout.Write(md)
		return exitOK
	}
	if err := os.WriteFile(*out, md, 0o644); err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	fmt.Fprintf(a.stderr, "Wrote %s (%d lines).\n", *out, strings.Count(string(md), "\n"))
	return exitOK
}
