package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/handrail-dev/handrail/sandbox"
)

// matrixFlags are the flags of `handrail test -every-failure`.
type matrixFlags struct {
	every    *bool
	jsonPath *string
	htmlPath *string
	workers  *int
}

func addMatrixFlags(fs interface {
	Bool(name string, value bool, usage string) *bool
	String(name, value, usage string) *string
	Int(name string, value int, usage string) *int
}) matrixFlags {
	return matrixFlags{
		every:    fs.Bool("every-failure", false, "run the rollback matrix instead of the scenarios: every node × every fault mode, each must restore the world"),
		jsonPath: fs.String("json", "", "with -every-failure: write the matrix as JSON to this file"),
		htmlPath: fs.String("html", "", "with -every-failure: write a self-contained HTML page of the matrix to this file"),
		workers:  fs.Int("workers", 0, "with -every-failure: cases run in parallel (default: the number of processors)"),
	}
}

// cmdMatrix runs the rollback matrix of each runbook in paths (a runbook,
// its test file, or a folder holding test files) and prints one verdict
// line per runbook, then the cases that did not restore. Exit 0 when every
// case of every runbook restored.
func (a *app) cmdMatrix(ctx context.Context, paths []string, mf matrixFlags) int {
	var runbooks []string
	for _, p := range paths {
		rbs, err := matrixRunbooks(p)
		if err != nil {
			a.errorf("%v", err)
			return exitInvalid
		}
		runbooks = append(runbooks, rbs...)
	}
	if len(runbooks) == 0 {
		a.errorf("no runbook with a test file (*.test.hcl) in %s", strings.Join(paths, ", "))
		return exitInvalid
	}
	if len(runbooks) > 1 && (*mf.jsonPath != "" || *mf.htmlPath != "") {
		a.errorf("-json and -html take one runbook; %d were found (%s)", len(runbooks), strings.Join(runbooks, ", "))
		return exitInvalid
	}
	failed := false
	for _, rb := range runbooks {
		rep, err := sandbox.RunMatrix(ctx, rb, sandbox.MatrixOptions{Version: version, Workers: *mf.workers})
		if err != nil {
			a.errorf("%v", err)
			fmt.Fprintf(a.stdout, "FAIL\t%s\n", rb)
			failed = true
			continue
		}
		fmt.Fprintln(a.stdout, rep.Verdict())
		for _, c := range rep.Failed() {
			failed = true
			fmt.Fprintf(a.stdout, "--- NOT RESTORED: %s × %s (%s)\n", c.Node, c.Mode, c.Status)
			for _, f := range c.Failures {
				fmt.Fprintf(a.stdout, "    %s\n", f)
			}
			for _, d := range c.Diff {
				fmt.Fprintf(a.stdout, "      %s\n", d)
			}
		}
		if *mf.jsonPath != "" {
			if err := writeReportFile(*mf.jsonPath, rep.WriteJSON); err != nil {
				a.errorf("%v", err)
				return exitInvalid
			}
		}
		if *mf.htmlPath != "" {
			if err := writeReportFile(*mf.htmlPath, rep.WriteHTML); err != nil {
				a.errorf("%v", err)
				return exitInvalid
			}
		}
	}
	if failed {
		fmt.Fprintln(a.stdout, "FAIL")
		return exitInvalid
	}
	fmt.Fprintln(a.stdout, "ok")
	return exitOK
}

func writeReportFile(path string, write func(w io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// matrixRunbooks lists the runbooks of path: a runbook file itself, the
// runbook a test file tests, or those of the test files under a folder.
func matrixRunbooks(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() && !strings.HasSuffix(path, ".test.hcl") {
		if filepath.Ext(path) != ".hcl" {
			return nil, fmt.Errorf("%s is neither a runbook (*.hcl) nor a test file (*.test.hcl)", path)
		}
		return []string{path}, nil
	}
	files, err := testFiles(path)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		tf, err := sandbox.ParseTestFile(f)
		if err != nil {
			return nil, err
		}
		if !seen[tf.Runbook] {
			seen[tf.Runbook] = true
			out = append(out, tf.Runbook)
		}
	}
	sort.Strings(out)
	return out, nil
}
