package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/runbook"
)

// A run is found from any directory. `apply FILE` journals in .handrail/
// next to the runbook (or -state-dir, or $HANDRAIL_STATE_DIR) and records
// that directory's absolute path in a small per-user index, one path a
// line. A command given a run id (or a unique prefix of one) and no
// -state-dir or -journal looks in $HANDRAIL_STATE_DIR, ./.handrail and every
// directory of the index, and takes the one run that matches.

// indexFile is the name of the per-user index of state directories.
const indexFile = "state-dirs"

// indexPath returns the per-user index file: $XDG_STATE_HOME/handrail/
// state-dirs, else the platform's per-user state location.
func (a *app) indexPath() (string, error) {
	if d := a.env("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "handrail", indexFile), nil
	}
	home := a.env("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home directory for the index of state directories (set XDG_STATE_HOME): %w", err)
		}
		home = h
	}
	switch runtime.GOOS {
	case "windows":
		if d := a.env("LocalAppData"); d != "" {
			return filepath.Join(d, "handrail", indexFile), nil
		}
		return filepath.Join(home, "AppData", "Local", "handrail", indexFile), nil
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "handrail", indexFile), nil
	default:
		return filepath.Join(home, ".local", "state", "handrail", indexFile), nil
	}
}

// indexedDirs returns the state directories of the index, in the order they
// were added (missing index: none).
func (a *app) indexedDirs() []string {
	p, err := a.indexPath()
	if err != nil {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && filepath.IsAbs(line) {
			out = append(out, line)
		}
	}
	return out
}

// remember adds dir (made absolute) to the per-user index unless it is
// there. An error means the run can only be found with -state-dir.
func (a *app) remember(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for _, d := range a.indexedDirs() {
		if d == abs {
			return nil
		}
	}
	p, err := a.indexPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("index of state directories: %w", err)
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("index of state directories: %w", err)
	}
	// One short line in one write: concurrent runs append whole lines.
	if _, err := f.WriteString(abs + "\n"); err != nil {
		_ = f.Close()
		return fmt.Errorf("index of state directories: %w", err)
	}
	return f.Close()
}

// searchDirs returns the state directories a run is looked for in when no
// -state-dir or -journal is given: $HANDRAIL_STATE_DIR, ./.handrail and the
// index, absolute, without duplicates, existing ones only.
func (a *app) searchDirs() []string {
	var cands []string
	if d := a.env("HANDRAIL_STATE_DIR"); d != "" {
		cands = append(cands, d)
	}
	cands = append(cands, filejournal.DefaultDir)
	cands = append(cands, a.indexedDirs()...)
	seen := map[string]bool{}
	var out []string
	for _, d := range cands {
		abs, err := filepath.Abs(d)
		if err != nil || seen[abs] {
			continue
		}
		seen[abs] = true
		if st, err := os.Stat(filepath.Join(abs, "runs")); err == nil && st.IsDir() {
			out = append(out, abs)
		}
	}
	return out
}

// runIDsIn lists the run ids journaled in a state directory (file names,
// without reading them).
func runIDsIn(dir string) []string {
	entries, err := os.ReadDir(filepath.Join(dir, "runs"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".journal"); ok && !e.IsDir() {
			out = append(out, id)
		}
	}
	return out
}

// matchRun returns the ids of ids equal to id, or else starting with it.
func matchRun(ids []string, id string) []string {
	var prefixed []string
	for _, c := range ids {
		if c == id {
			return []string{c}
		}
		if strings.HasPrefix(c, id) {
			prefixed = append(prefixed, c)
		}
	}
	return prefixed
}

// errAmbiguousRun is returned when a prefix matches several runs.
var errAmbiguousRun = errors.New("ambiguous run id")

// resolveRun finds the run id (or unique prefix) id: in the journal the
// flags name, else in the search directories. It returns the full id and
// flags that select its journal.
func (a *app) resolveRun(ctx context.Context, sf stateFlags, id string) (string, stateFlags, error) {
	if id == "" {
		return "", sf, fmt.Errorf("%w: empty run id", runbook.ErrRunNotFound)
	}
	if sf.journal != "" || sf.stateDir != "" {
		st, closeFn, err := a.openStore(ctx, sf, "")
		if err != nil {
			return "", sf, err
		}
		defer closeFn()
		ids, err := st.Runs(ctx)
		if err != nil {
			return "", sf, fmt.Errorf("listing runs: %w", err)
		}
		m := matchRun(ids, id)
		switch len(m) {
		case 0:
			return "", sf, fmt.Errorf("%w: no run %q in %s (list them with 'handrail runs%s')", runbook.ErrRunNotFound, id, sf.describe(), sf.flags())
		case 1:
			return m[0], sf, nil
		}
		return "", sf, fmt.Errorf("%w %q: it starts %s; give more of it", errAmbiguousRun, id, strings.Join(m, ", "))
	}
	type hit struct{ id, dir string }
	var hits []hit
	dirs := a.searchDirs()
	for _, d := range dirs {
		for _, m := range matchRun(runIDsIn(d), id) {
			hits = append(hits, hit{m, d})
		}
	}
	// An exact match wins over longer ids that start with it.
	var exact []hit
	for _, h := range hits {
		if h.id == id {
			exact = append(exact, h)
		}
	}
	if len(exact) > 0 {
		hits = exact
	}
	switch len(hits) {
	case 0:
		where := "no state directory is known yet"
		if len(dirs) > 0 {
			where = "looked in " + strings.Join(dirs, ", ")
		}
		return "", sf, fmt.Errorf("%w: no run %q (%s; a run kept elsewhere needs -state-dir DIR or -journal URL)", runbook.ErrRunNotFound, id, where)
	case 1:
		return hits[0].id, stateFlags{stateDir: hits[0].dir}, nil
	}
	var names []string
	for _, h := range hits {
		names = append(names, h.id+" in "+h.dir)
	}
	sort.Strings(names)
	return "", sf, fmt.Errorf("%w %q: it matches %s; give more of it, or -state-dir", errAmbiguousRun, id, strings.Join(names, "; "))
}

// describe names the journal the flags select, for messages.
func (s stateFlags) describe() string {
	if s.journal != "" {
		return "the journal " + redactURL(s.journal)
	}
	return "the state directory " + s.stateDir
}

// flags returns the command-line flags that select this journal, with a
// leading space, quoted for a POSIX shell: hints printed with them work
// from any directory. A password in a journal URL is never printed: the
// hint then relies on PGPASSWORD or ~/.pgpass.
func (s stateFlags) flags() string {
	switch {
	case s.journal != "":
		return " -journal " + shellQuote(redactURL(s.journal))
	case s.stateDir != "" && !s.indexed:
		abs, err := filepath.Abs(s.stateDir)
		if err != nil {
			abs = s.stateDir
		}
		return " -state-dir " + shellQuote(abs)
	}
	return ""
}

// redactURL drops the password of a URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); !ok {
		return raw
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
