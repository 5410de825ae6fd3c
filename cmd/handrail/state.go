package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
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
	// indexed is true when stateDir is in the per-user index, so that a
	// run in it is found without -state-dir.
	indexed bool
}

// register adds -state-dir and -journal to fs.
func (s *stateFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.stateDir, "state-dir", "", "state directory of the file journal (default .handrail next to the runbook)")
	fs.StringVar(&s.journal, "journal", "", "PostgreSQL journal URL (postgres://...) instead of the state directory (default $HANDRAIL_JOURNAL)")
}

// loadRun finds a run by its id or a unique prefix of it (see
// [app.resolveRun]), opens its journal and loads its records. It prints
// what went wrong and returns ok=false. The full id is returned.
func (a *app) loadRun(ctx context.Context, sf stateFlags, id string) (fullID string, recs []runbook.Record, st store, closeFn func(), ok bool) {
	fullID, sf, err := a.resolveRun(ctx, sf, id)
	if err != nil {
		a.errorf("%v", err)
		return "", nil, nil, nil, false
	}
	st, closeFn, err = a.openStore(ctx, sf, "")
	if err != nil {
		a.errorf("%v", err)
		return "", nil, nil, nil, false
	}
	recs, err = st.Load(ctx, fullID)
	if err != nil {
		closeFn()
		a.errorf("%v (list runs with 'handrail runs%s')", err, a.where.flags())
		return "", nil, nil, nil, false
	}
	return fullID, recs, st, closeFn, true
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
		return flagExit(err)
	}
	if sf.journal == "" && sf.stateDir == "" {
		sf.journal = a.env("HANDRAIL_JOURNAL")
	}
	// Without flags: every known state directory.
	var sels []stateFlags
	if sf.journal != "" || sf.stateDir != "" {
		sels = []stateFlags{sf}
	} else {
		for _, d := range a.searchDirs() {
			sels = append(sels, stateFlags{stateDir: d})
		}
	}
	var rows []runRow
	// Plans rebuilt for the undo order, one per runbook file and plan hash.
	plans := map[string]*runbook.Plan{}
	planOf := func(recs []runbook.Record, hash string) *runbook.Plan {
		key := inputValue(recs, inputFile) + "\x00" + hash
		if p, ok := plans[key]; ok {
			return p
		}
		p := a.planForRun(ctx, recs)
		if p != nil && p.Hash() != hash {
			p = nil
		}
		plans[key] = p
		return p
	}
	for _, sel := range sels {
		st, closeFn, err := a.openStore(ctx, sel, "")
		if err != nil {
			a.errorf("%v", err)
			return exitInvalid
		}
		ids, err := st.Runs(ctx)
		if err != nil {
			closeFn()
			a.errorf("listing runs in %s: %v", sel.describe(), err)
			return exitInvalid
		}
		for _, id := range ids {
			if ctx.Err() != nil {
				closeFn()
				a.errorf("interrupted")
				return exitInvalid
			}
			recs, err := st.Load(ctx, id)
			if err != nil {
				a.errorf("reading run %s: %v", id, err)
				continue
			}
			s, err := journal.Summarize(recs, nil)
			if err != nil {
				continue
			}
			rs, _ := runbook.Replay(recs)
			var plan *runbook.Plan
			if len(rs.Pending()) > 1 {
				plan = planOf(recs, s.PlanHash)
			}
			rows = append(rows, runRow{sum: s, undo: leftToUndo(rs, plan), where: a.where, sandbox: inputValue(recs, inputSandbox) != ""})
		}
		closeFn()
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].sum.StartedAt.After(rows[j].sum.StartedAt) })
	if *asJSON {
		doc := runsDoc{FormatVersion: formatVersion, Runs: []runJSON{}}
		for _, r := range rows {
			doc.Runs = append(doc.Runs, r.json())
		}
		return a.writeJSON(doc)
	}
	if len(rows) == 0 {
		fmt.Fprintln(a.stdout, "No runs yet.")
		if len(sels) == 0 {
			fmt.Fprintln(a.stderr, "(no state directory is known: runs are listed from $HANDRAIL_STATE_DIR, ./.handrail and every state directory 'handrail apply' used; or pass -state-dir DIR or -journal URL)")
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tRUNBOOK\tSTATE\tSTARTED\tTOOK\tLEFT TO UNDO\tWHERE")
	for _, r := range rows {
		s := r.sum
		name := s.Runbook
		if r.sandbox {
			name += " (rehearsal)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, name, s.State, s.StartedAt.Format("2006-01-02 15:04"), s.Duration.Round(time.Second), strings.Join(r.undo, ", "), r.where.location())
	}
	_ = tw.Flush()
	return exitOK
}

// runRow is one run of `handrail runs`.
type runRow struct {
	sum     *journal.Summary
	undo    []string
	where   stateFlags
	sandbox bool
}

func (a *app) cmdShow(ctx context.Context, args []string) int {
	fs := newFlagSet("show", a.stderr, "show RUN [-gate NAME] [-state-dir D | -journal URL] [-json]")
	var sf stateFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	gate := fs.String("gate", "", "explain one gate's decision: resolved queries, thresholds, limits, counters, samples")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		a.errorf("show takes one run id (or a unique prefix of one): handrail show RUN (list them with 'handrail runs')")
		return exitInvalid
	}
	id, recs, _, closeFn, ok := a.loadRun(ctx, sf, pos[0])
	if !ok {
		return exitInvalid
	}
	defer closeFn()
	if *gate != "" {
		return a.showGate(id, recs, *gate, *asJSON)
	}
	plan := a.planForRun(ctx, recs)
	s, err := journal.Summarize(recs, plan)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	rs, err := runbook.Replay(recs)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	undo := leftToUndo(rs, plan)
	if *asJSON {
		doc := showDoc{FormatVersion: formatVersion, Run: runRow{sum: s, undo: undo, where: a.where, sandbox: inputValue(recs, inputSandbox) != ""}.json(), Nodes: nodesJSON(s)}
		if len(s.Versions) > 1 {
			doc.PlanVersions = s.Versions
		}
		return a.writeJSON(doc)
	}
	kind := "Run"
	if inputValue(recs, inputSandbox) != "" {
		kind = "Rehearsal (sandbox run)"
	}
	fmt.Fprintf(a.stdout, "%s %s of %q: %s\n", kind, s.ID, s.Runbook, s.State)
	fmt.Fprintf(a.stdout, "  started %s, last record %s (%s), %d records, %d process(es): %s\n",
		s.StartedAt.Format(time.RFC3339), s.LastAt.Format(time.RFC3339), s.Duration.Round(time.Second), s.Records, s.Starts, strings.Join(s.Modes, ", "))
	if s.Error != "" {
		fmt.Fprintf(a.stdout, "  error: %s\n", s.Error)
	}
	writeVersions(a.stdout, s.Versions)
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
	switch {
	case len(undo) == 0:
	case s.Status == runbook.StatusSucceeded:
		fmt.Fprintf(a.stdout, "  it can still be rolled back; compensations would run in this order: %s\n  %s\n", strings.Join(undo, ", "), a.hint("rollback", id))
	default:
		fmt.Fprintf(a.stdout, "  left to undo, in order: %s\n  %s  compensates them\n", strings.Join(undo, ", "), a.hint("rollback", id))
	}
	if s.State == journal.StateUnfinished || s.Status == runbook.StatusInterrupted {
		fmt.Fprintf(a.stdout, "  the run did not finish: '%s' continues it, '%s' undoes it\n", a.hint("resume", id), a.hint("rollback", id))
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
		return flagExit(err)
	}
	if len(pos) != 1 {
		a.errorf("report takes one run id: handrail report RUN -o report.html")
		return exitInvalid
	}
	id, recs, _, closeFn, ok := a.loadRun(ctx, sf, pos[0])
	if !ok {
		return exitInvalid
	}
	defer closeFn()
	plan := a.planForRun(ctx, recs)
	if ctx.Err() != nil {
		a.errorf("interrupted")
		return exitInvalid
	}
	path := *out
	if path == "" {
		path = id + ".html"
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
	BreakLock(ctx context.Context, key string, force bool) (journal.Holder, error)
}

// cmdUnlock breaks the run lock of a runbook whose holder is gone for good
// (a lost machine). It refuses while the holder is a running process of
// this machine, unless -force. It names the holder it removed.
func (a *app) cmdUnlock(ctx context.Context, args []string) int {
	fs := newFlagSet("unlock", a.stderr, "unlock RUNBOOK-NAME [-state-dir D | -journal URL] [-force]")
	var sf stateFlags
	sf.register(fs)
	force := fs.Bool("force", false, "break the lock even if its holder is a process still running on this machine")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
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
	h, err := lb.BreakLock(ctx, pos[0], *force)
	if err != nil {
		a.errorf("%v", err)
		switch {
		case errors.Is(err, journal.ErrNotLocked):
			return exitInvalid
		case errors.Is(err, journal.ErrHolderAlive):
			return exitPerson
		}
		return exitInternal
	}
	fmt.Fprintf(a.stdout, "Broke the lock of %q held by %s.\n", pos[0], h)
	return exitOK
}

// unlockCommand is the `handrail unlock` command line that breaks key's
// lock in the journal where names, with an absolute -state-dir (always
// given: the state directory index finds runs, not locks) so that it works
// pasted from any directory. A password in a -journal URL is left out: the
// command then says to set PGPASSWORD.
func unlockCommand(where stateFlags, key string) string {
	cmd := "handrail unlock " + shellQuote(key)
	if where.journal == "" {
		if where.stateDir == "" {
			return cmd
		}
		dir, err := filepath.Abs(where.stateDir)
		if err != nil {
			dir = where.stateDir
		}
		return cmd + " -state-dir " + shellQuote(dir)
	}
	u, err := url.Parse(where.journal)
	if err != nil {
		return cmd + " -journal URL"
	}
	hidden := false
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.User(u.User.Username())
			hidden = true
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
		hidden = true
	}
	cmd += " -journal " + shellQuote(u.String())
	if hidden {
		cmd = "PGPASSWORD=... " + cmd + "   (the journal URL's password is not shown: give it in PGPASSWORD)"
	}
	return cmd
}

// lockAdvice prints what to do about a run lock held by another run, or
// lost by this one, and reports whether err was one of those.
func (a *app) lockAdvice(err error) bool {
	var held *journal.LockedError
	var lost *journal.LostError
	switch {
	case errors.As(err, &held):
		fmt.Fprintf(a.stderr, "If that process is gone for good (its machine was lost), break the lock with:\n  %s\n", unlockCommand(a.where, held.Holder.Key))
		return true
	case errors.As(err, &lost):
		fmt.Fprintln(a.stderr, "This run lost its run lock and stopped: it started nothing new and compensated nothing, because another process may be acting on the same release.")
		if lost.Holder != nil {
			fmt.Fprintf(a.stderr, "The lock is held by %s. Let that run finish; if that process is gone for good, break the lock with:\n  %s\n", lost.Holder, unlockCommand(a.where, lost.Key))
		} else {
			fmt.Fprintln(a.stderr, "Nobody holds the lock now. Check the run with 'handrail show RUN', then resume or roll it back.")
		}
		return true
	}
	return errors.Is(err, runbook.ErrLockLost)
}
