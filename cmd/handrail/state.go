package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/runbook"
)

// Reserved input names the CLI records with every run, so that resume and
// rollback can rebuild the plan from the journal alone.
const (
	inputFile    = "handrail:file"
	inputSandbox = "handrail:sandbox"
)

// stateFlags select the journal: a state directory (the default, next to
// the runbook) or a PostgreSQL journal.
type stateFlags struct {
	stateDir string
	journal  string
}

// register adds -state-dir and -journal to fs.
func (s *stateFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.stateDir, "state-dir", "", "state directory of the file journal (default .handrail next to the runbook)")
	fs.StringVar(&s.journal, "journal", "", "PostgreSQL journal URL (postgres://...) instead of the state directory")
}

// loadRun opens the journal the flags select and loads one run's records.
// It prints what went wrong and returns ok=false.
func (a *app) loadRun(ctx context.Context, sf stateFlags, runbookPath, id string) (recs []runbook.Record, st store, closeFn func(), ok bool) {
	st, closeFn, err := a.openStore(ctx, sf, runbookPath)
	if err != nil {
		a.errorf("%v", err)
		return nil, nil, nil, false
	}
	recs, err = st.Load(ctx, id)
	if err != nil {
		closeFn()
		a.errorf("%v (list runs with 'handrail runs')", err)
		return nil, nil, nil, false
	}
	return recs, st, closeFn, true
}

// defaultStateDir is `.handrail/` next to the runbook, or in the current
// directory when no runbook is known.
func defaultStateDir(runbookPath string) string {
	if runbookPath == "" {
		return ".handrail"
	}
	return filepath.Join(filepath.Dir(runbookPath), ".handrail")
}

// store is what the CLI needs of a journal.
type store interface {
	runbook.Journal
	runbook.RunLister
}

func (a *app) cmdRuns(ctx context.Context, args []string) int {
	fs := newFlagSet("runs", a.stderr, "runs [-state-dir D | -journal URL] [-json]")
	var sf stateFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseInterleaved(fs, args); err != nil {
		return exitInvalid
	}
	st, closeFn, err := a.openStore(ctx, sf, "")
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	defer closeFn()
	ids, err := st.Runs(ctx)
	if err != nil {
		a.errorf("listing runs: %v", err)
		return exitInvalid
	}
	var sums []*journal.Summary
	for _, id := range ids {
		recs, err := st.Load(ctx, id)
		if err != nil {
			a.errorf("reading run %s: %v", id, err)
			continue
		}
		s, err := journal.Summarize(recs, nil)
		if err != nil {
			continue
		}
		sums = append(sums, s)
	}
	if *asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sums); err != nil {
			return exitInternal
		}
		return exitOK
	}
	if len(sums) == 0 {
		fmt.Fprintln(a.stdout, "No runs yet.")
		return exitOK
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tRUNBOOK\tSTATE\tSTARTED\tTOOK\tLEFT TO UNDO")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Runbook, s.State, s.StartedAt.Format("2006-01-02 15:04"), s.Duration.Round(time.Second), strings.Join(s.LeftToUndo, ", "))
	}
	_ = tw.Flush()
	return exitOK
}

func (a *app) cmdShow(ctx context.Context, args []string) int {
	fs := newFlagSet("show", a.stderr, "show RUN [-state-dir D | -journal URL] [-json]")
	var sf stateFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) != 1 {
		a.errorf("show takes one run id: handrail show RUN (list them with 'handrail runs')")
		return exitInvalid
	}
	recs, _, closeFn, ok := a.loadRun(ctx, sf, "", pos[0])
	if !ok {
		return exitInvalid
	}
	defer closeFn()
	s, err := journal.Summarize(recs, nil)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	if *asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
		return exitOK
	}
	fmt.Fprintf(a.stdout, "Run %s of %q: %s\n", s.ID, s.Runbook, s.State)
	fmt.Fprintf(a.stdout, "  started %s, last record %s (%s), %d records, %d process(es): %s\n",
		s.StartedAt.Format(time.RFC3339), s.LastAt.Format(time.RFC3339), s.Duration.Round(time.Second), s.Records, s.Starts, strings.Join(s.Modes, ", "))
	if s.Error != "" {
		fmt.Fprintf(a.stdout, "  error: %s\n", s.Error)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tSTATE\tATTEMPTS\tTOOK")
	for _, n := range s.Steps {
		took := ""
		if n.Duration > 0 {
			took = n.Duration.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", n.Name, n.State, n.Attempts, took)
	}
	_ = tw.Flush()
	if len(s.InDoubt) > 0 {
		fmt.Fprintf(a.stdout, "  in doubt (started, never finished): %s\n", strings.Join(s.InDoubt, ", "))
	}
	if len(s.LeftToUndo) > 0 {
		fmt.Fprintf(a.stdout, "  left to undo, in order: %s\n  run 'handrail rollback %s' to compensate them\n", strings.Join(s.LeftToUndo, ", "), s.ID)
	}
	if s.State == journal.StateUnfinished {
		fmt.Fprintf(a.stdout, "  the run did not finish: 'handrail resume %s' continues it, 'handrail rollback %s' undoes it\n", s.ID, s.ID)
	}
	return exitOK
}

func (a *app) cmdReport(ctx context.Context, args []string) int {
	fs := newFlagSet("report", a.stderr, "report RUN -o report.html [-state-dir D | -journal URL]")
	var sf stateFlags
	sf.register(fs)
	out := fs.String("o", "", "output file (default: RUN.html)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) != 1 {
		a.errorf("report takes one run id: handrail report RUN -o report.html")
		return exitInvalid
	}
	recs, _, closeFn, ok := a.loadRun(ctx, sf, "", pos[0])
	if !ok {
		return exitInvalid
	}
	defer closeFn()
	plan := a.planForRun(ctx, recs)
	path := *out
	if path == "" {
		path = pos[0] + ".html"
	}
	f, err := os.Create(path)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	if err := writeReport(f, recs, plan); err != nil {
		_ = f.Close()
		a.errorf("writing report: %v", err)
		return exitInternal
	}
	if err := f.Close(); err != nil {
		a.errorf("%v", err)
		return exitInternal
	}
	fmt.Fprintf(a.stdout, "Wrote %s\n", path)
	return exitOK
}

// inputValue returns a recorded input.
func inputValue(recs []runbook.Record, name string) string {
	for _, r := range recs {
		if r.Kind == runbook.RecRunStarted {
			for _, in := range r.Inputs {
				if in.Name == name {
					return in.Value
				}
			}
			return ""
		}
	}
	return ""
}

var errNoRunbook = errors.New("the journal does not say which runbook file the run used")

// lockBreaker is a journal whose run lock can be broken deliberately.
type lockBreaker interface {
	BreakLock(ctx context.Context, key string) (journal.Holder, error)
}

// cmdUnlock breaks the run lock of a runbook whose holder is gone for good
// (a lost machine). It names the holder it removed.
func (a *app) cmdUnlock(ctx context.Context, args []string) int {
	fs := newFlagSet("unlock", a.stderr, "unlock RUNBOOK-NAME [-state-dir D | -journal URL]")
	var sf stateFlags
	sf.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) != 1 {
		a.errorf("unlock takes the runbook's name (its runbook block label), as the lock error shows it")
		return exitInvalid
	}
	st, closeFn, err := a.openStore(ctx, sf, "")
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	defer closeFn()
	lb, ok := st.(lockBreaker)
	if !ok {
		a.errorf("this journal has no run locks")
		return exitInvalid
	}
	h, err := lb.BreakLock(ctx, pos[0])
	if err != nil {
		a.errorf("%v", err)
		if errors.Is(err, journal.ErrNotLocked) {
			return exitInvalid
		}
		return exitInternal
	}
	fmt.Fprintf(a.stdout, "Broke the lock of %q held by %s.\n", pos[0], h)
	return exitOK
}
