package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"

	"github.com/handrail-dev/handrail/sandbox"
)

// cmdTest runs the scenarios of *.test.hcl files (see package sandbox)
// against the stateful fakes of every provider on a simulated clock, with
// output and exit code like go test: a --- PASS or --- FAIL line per
// scenario (with the reasons of a failure), an ok or FAIL line per file,
// and a last ok or FAIL line; exit 0 when everything passed, 1 otherwise.
func (a *app) cmdTest(ctx context.Context, args []string) int {
	fs := newFlagSet("test", a.stderr, "test [PATH]... [-run REGEXP] | test -init FILE [-var k=v]...")
	run := fs.String("run", "", "run only the scenarios whose name matches this regular expression")
	initFile := fs.Bool("init", false, "write FILE's test file (NAME.test.hcl) with a world skeleton derived from what its plan touches")
	var vf varFlags
	fs.Var(&vf.vars, "var", "with -init: set a variable the runbook needs to load (name=value); repeatable")
	fs.Var(&vf.varFiles, "var-file", "with -init: read variables from a file; repeatable")
	mf := addMatrixFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if *initFile {
		if len(pos) != 1 {
			a.errorf("test -init takes one runbook FILE")
			return exitInvalid
		}
		return a.testInit(ctx, pos[0], &vf)
	}
	if *mf.every {
		if len(pos) == 0 {
			pos = []string{"."}
		}
		return a.cmdMatrix(ctx, pos, mf)
	}
	opts := sandbox.TestOptions{Version: version}
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			a.errorf("invalid -run %q: %v", *run, err)
			return exitInvalid
		}
		opts.Run = re
	}
	if len(pos) == 0 {
		pos = []string{"."}
	}
	var files []string
	for _, p := range pos {
		fl, err := testFiles(p)
		if err != nil {
			a.errorf("%v", err)
			return exitInvalid
		}
		files = append(files, fl...)
	}
	if len(files) == 0 {
		a.errorf("no test files (*.test.hcl) in %s", strings.Join(pos, ", "))
		return exitInvalid
	}
	failed := false
	for _, f := range files {
		if ctx.Err() != nil {
			return exitInterrupted
		}
		start := time.Now()
		results, err := sandbox.RunTestFile(ctx, f, opts)
		if err != nil {
			var diags hhcl.Diagnostics
			if errors.As(err, &diags) {
				fmt.Fprintln(a.stderr, diags.Error())
			} else {
				a.errorf("%v", err)
			}
			fmt.Fprintf(a.stdout, "FAIL\t%s\t%.3fs\n", f, time.Since(start).Seconds())
			failed = true
			continue
		}
		fileFailed := false
		for _, r := range results {
			if r.Passed {
				fmt.Fprintf(a.stdout, "--- PASS: %s (%.2fs, %s simulated)\n", r.Name, r.Wall.Seconds(), r.Simulated)
				continue
			}
			fileFailed = true
			fmt.Fprintf(a.stdout, "--- FAIL: %s (%.2fs, %s simulated)\n", r.Name, r.Wall.Seconds(), r.Simulated)
			for _, msg := range r.Failures {
				fmt.Fprintf(a.stdout, "    %s\n", strings.ReplaceAll(msg, "\n", "\n    "))
			}
		}
		switch {
		case fileFailed:
			failed = true
			fmt.Fprintf(a.stdout, "FAIL\t%s\t%.3fs\n", f, time.Since(start).Seconds())
		case len(results) == 0:
			fmt.Fprintf(a.stdout, "ok  \t%s\t%.3fs [no scenarios to run]\n", f, time.Since(start).Seconds())
		default:
			fmt.Fprintf(a.stdout, "ok  \t%s\t%.3fs\n", f, time.Since(start).Seconds())
		}
	}
	if failed {
		fmt.Fprintln(a.stdout, "FAIL")
		return exitInvalid
	}
	fmt.Fprintln(a.stdout, "ok")
	return exitOK
}

// testFiles lists the *.test.hcl files of FILE|DIR.
func testFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		if !strings.HasSuffix(path, ".test.hcl") {
			return nil, fmt.Errorf("%s is not a test file (*.test.hcl)", path)
		}
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != path && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".test.hcl") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// testInit writes the test file of the runbook at path (NAME.test.hcl
// beside NAME.hcl) with a world skeleton derived from what its plan
// touches (sandbox.Skeleton), so that `apply --sandbox` and `test` start
// from a world that holds it. An existing test file is never overwritten.
func (a *app) testInit(ctx context.Context, path string, vf *varFlags) int {
	if strings.HasSuffix(path, ".test.hcl") {
		a.errorf("%s is a test file: give the runbook it tests", path)
		return exitInvalid
	}
	tf := strings.TrimSuffix(path, filepath.Ext(path)) + ".test.hcl"
	if _, err := os.Stat(tf); err == nil {
		a.errorf("%s exists already and is left as it is: edit its world {} block, or move it away and run 'handrail test -init %s' again", tf, shellQuote(absPath(path)))
		return exitInvalid
	}
	w := sandbox.New(sandbox.DefaultStart)
	w.Dir = filepath.Dir(path)
	reg, err := w.Registry()
	if err != nil {
		a.errorf("%v", err)
		return exitInternal
	}
	rb := a.load(ctx, path, vf, reg)
	if rb == nil {
		return exitInvalid
	}
	defer rb.Close()
	given, _ := vf.values()
	vars := map[string]string{}
	for _, in := range rb.Inputs() {
		if v, ok := given[in.Name]; ok && !in.Sensitive {
			vars[in.Name] = v
		}
	}
	if err := os.WriteFile(tf, sandbox.Skeleton(path, rb.Describe(), vars), 0o644); err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	fmt.Fprintln(a.stdout, tf)
	fmt.Fprintf(a.stderr, "Wrote %s: a world {} block with what the plan of %s touches, and a scenario expecting success.\nMake the values marked TODO what production holds now, then:\n  handrail test %s\n  handrail apply --sandbox %s\n",
		tf, filepath.Base(path), shellQuote(absPath(tf)), shellQuote(absPath(path)))
	return exitOK
}

// absPath is p made absolute (as given when that fails), for commands
// printed to be pasted from any directory.
func absPath(p string) string {
	if q, err := filepath.Abs(p); err == nil {
		return q
	}
	return p
}
