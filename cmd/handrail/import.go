package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/handrail-dev/handrail/mdimport"
)

// cmdImport turns a Markdown runbook into an HCL runbook and its
// .auto.hclvars.
func (a *app) cmdImport(_ context.Context, args []string) int {
	fs := newFlagSet("import", a.stderr, "import FILE.md [-o FILE.hcl] [-force]")
	out := fs.String("o", "", "write the runbook here (default: FILE.hcl next to FILE.md; - for stdout)")
	force := fs.Bool("force", false, "overwrite existing files")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) != 1 {
		a.errorf("import takes one Markdown FILE")
		return exitInvalid
	}
	src, err := os.ReadFile(pos[0])
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	res, err := mdimport.Import(filepath.Base(pos[0]), src)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	if *out == "-" {
		_, _ = a.stdout.Write(res.HCL)
		return exitOK
	}
	dst := *out
	if dst == "" {
		dst = strings.TrimSuffix(pos[0], filepath.Ext(pos[0])) + ".hcl"
	}
	varsPath := strings.TrimSuffix(dst, filepath.Ext(dst)) + ".auto.hclvars"
	for _, p := range []string{dst, varsPath} {
		if _, err := os.Stat(p); err == nil && !*force {
			a.errorf("%s exists: choose another -o or add -force to overwrite it", p)
			return exitInvalid
		} else if err != nil && !errors.Is(err, fs2ErrNotExist) {
			a.errorf("%v", err)
			return exitInvalid
		}
	}
	if err := os.WriteFile(dst, res.HCL, 0o644); err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	if err := os.WriteFile(varsPath, res.Vars, 0o644); err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	s := res.Stats
	fmt.Fprintf(a.stderr, "Wrote %s: %d phases, %d steps, %d approvals, %d rollbacks from the document.\nWrote %s: %d variables found in the document.\n",
		dst, s.Phases, s.Steps, s.Approvals, s.Rollbacks, varsPath, s.Variables)
	if s.Placeholders > 0 {
		fmt.Fprintf(a.stderr, "%d steps still need a rollback or irreversible = true (marked TODO(import)); 'handrail validate %s' lists them.\n", s.Placeholders, dst)
	}
	if s.Unmatched > 0 {
		fmt.Fprintf(a.stderr, "%d rollback commands of the document undo no step found; they are listed at the end of %s.\n", s.Unmatched, dst)
	}
	return exitOK
}

var fs2ErrNotExist = fs.ErrNotExist
