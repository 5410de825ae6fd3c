// Package filejournal is Handrail's embedded journal: an append-only log per
// run in a state directory (by default .handrail/ next to the runbook).
//
// Every record is framed with its length and a CRC-32C checksum and is
// fsync'ed before Append returns, so the executor never starts a side effect
// before the record announcing it is durable. The directory is fsync'ed when
// a run's file is created. Concurrent appends (parallel steps) are committed
// together: one write and one fsync per file for all the records that
// arrived while the previous commit was on disk. After a crash, a torn last
// record is detected by its checksum or length, ignored by Load and cut off
// before the next append; damage anywhere else is reported as [ErrCorrupt],
// never misread.
//
// The journal is also a [runbook.RunLister] (newest run first) and a
// [runbook.Locker]: a lock file per runbook and target keeps a second apply
// out, names the holder (pid, host, start time), is taken over when its
// holder is provably gone (same host, process dead or host rebooted), and can
// be broken deliberately with [Journal.BreakLock].
//
// Layout of the state directory:
//
//	runs/<run id>.journal   one log per run
//	locks/<key>.lock        the holder of a run lock (JSON)
//
// One process should open a directory once; the run lock keeps processes
// from writing the same run.
package filejournal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// DefaultDir is the name of the state directory created next to a runbook.
const DefaultDir = ".handrail"

// DirFor returns the default state directory of the runbook file at path:
// .handrail/ in the same directory.
func DirFor(runbookPath string) string {
	return filepath.Join(filepath.Dir(runbookPath), DefaultDir)
}

const fileExt = ".journal"

// Options tune a [Journal]. The zero value is the default.
type Options struct {
	// NoGroupCommit makes every Append write and fsync on its own instead
	// of committing concurrent appends together (for comparison).
	NoGroupCommit bool
	// Host names this machine in lock files (default os.Hostname).
	Host string
}

// Journal is a durable [runbook.Journal] in a directory. It is safe for
// concurrent use. Open it with [Open]; Close it when done.
type Journal struct {
	dir  string
	opts Options
	host string
	boot string

	// wmu serializes commits when group commit is off.
	wmu sync.Mutex

	commits atomic.Int64
	records atomic.Int64
	appends atomic.Int64

	mu       sync.Mutex
	files    map[string]*runFile
	cur      *batch
	flushing bool
	closed   bool
}

var (
	_ runbook.Journal   = (*Journal)(nil)
	_ runbook.RunLister = (*Journal)(nil)
	_ runbook.Locker    = (*Journal)(nil)
)

// runFile is an open run log.
type runFile struct {
	f    *os.File
	seq  int64
	size int64
}

type request struct {
	recs []runbook.Record
	err  error
}

type batch struct {
	reqs []*request
	done chan struct{}
	lead chan struct{}
}

// Open opens (creating it if needed) the state directory dir. opts may be
// nil.
func Open(dir string, opts *Options) (*Journal, error) {
	if strings.TrimSpace(dir) == "" {
		return nil, errors.New("filejournal: no state directory given")
	}
	j := &Journal{dir: dir, files: map[string]*runFile{}}
	if opts != nil {
		j.opts = *opts
	}
	j.host = j.opts.Host
	if j.host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("filejournal: host name for the run lock: %w", err)
		}
		j.host = h
	}
	j.boot = bootID()
	for _, sub := range []string{"runs", "locks"} {
		if err := mkdirDurable(filepath.Join(dir, sub)); err != nil {
			return nil, fmt.Errorf("filejournal: state directory %s: %w", dir, err)
		}
	}
	return j, nil
}

// Stats counts a journal's work since Open.
type Stats struct {
	// Appends is the number of Append calls that succeeded.
	Appends int64
	// Records is the number of records written.
	Records int64
	// Commits is the number of write+fsync of a run file: with group
	// commit, concurrent appends share one.
	Commits int64
}

// Stats returns the journal's counters.
func (j *Journal) Stats() Stats {
	return Stats{Appends: j.appends.Load(), Records: j.records.Load(), Commits: j.commits.Load()}
}

// Dir returns the state directory.
func (j *Journal) Dir() string { return j.dir }

// Close closes the open run files. Appends after Close fail.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closed = true
	var errs []error
	for id, rf := range j.files {
		errs = append(errs, rf.f.Close())
		delete(j.files, id)
	}
	return errors.Join(errs...)
}

// mkdirDurable creates dir and its missing parents, fsyncing each parent
// that gained an entry.
func mkdirDurable(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirDurable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// checkRunID refuses run ids that cannot name a file safely.
func checkRunID(id string) error {
	if id == "" {
		return errors.New("filejournal: record without a run id")
	}
	if id[0] == '.' || len(id) > 200 {
		return fmt.Errorf("filejournal: run id %q cannot name a journal file: it must not start with a dot and must be at most 200 characters", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+' || c == '@') {
			return fmt.Errorf("filejournal: run id %q cannot name a journal file: use letters, digits and - _ . + @ only", id)
		}
	}
	return nil
}

func (j *Journal) runPath(id string) string { return filepath.Join(j.dir, "runs", id+fileExt) }

// Append writes recs durably: it returns once they are fsync'ed. Records get
// their Seq here, numbered per run from 1. Concurrent calls are committed
// together unless [Options.NoGroupCommit]. Sensitive inputs are stored
// without their value and [runbook.Secret] outputs as "(sensitive)".
func (j *Journal) Append(ctx context.Context, recs ...runbook.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("filejournal: append: %w", err)
	}
	req := &request{recs: make([]runbook.Record, len(recs))}
	for i, r := range recs {
		if err := checkRunID(r.Run); err != nil {
			return err
		}
		if len(r.Inputs) > 0 {
			in := make([]runbook.Input, len(r.Inputs))
			for k, x := range r.Inputs {
				if x.Sensitive {
					x.Value = ""
				}
				in[k] = x
			}
			r.Inputs = in
		}
		req.recs[i] = r
	}
	defer func() {
		if req.err == nil {
			j.appends.Add(1)
		}
	}()
	if j.opts.NoGroupCommit {
		j.wmu.Lock()
		j.commit([]*request{req})
		j.wmu.Unlock()
		return req.err
	}
	j.mu.Lock()
	if j.cur == nil {
		j.cur = &batch{done: make(chan struct{}), lead: make(chan struct{}, 1)}
	}
	b := j.cur
	b.reqs = append(b.reqs, req)
	if !j.flushing {
		j.flushing = true
		j.cur = nil
		j.mu.Unlock()
		j.lead(b)
		return req.err
	}
	j.mu.Unlock()
	select {
	case <-b.done:
	case <-b.lead:
		j.lead(b)
	}
	return req.err
}

// lead commits b, then hands the next batch to one of its waiters.
func (j *Journal) lead(b *batch) {
	j.mu.Lock()
	if j.cur == b {
		j.cur = nil
	}
	j.mu.Unlock()
	j.commit(b.reqs)
	close(b.done)
	j.mu.Lock()
	next := j.cur
	if next == nil {
		j.flushing = false
		j.mu.Unlock()
		return
	}
	j.mu.Unlock()
	next.lead <- struct{}{}
}

// pending is what one commit writes to one file.
type pending struct {
	id      string
	rf      *runFile
	buf     []byte
	seq     int64
	reqs    []*request
	created bool
	final   bool
}

// commit writes the records of reqs, one write and one fsync per file.
func (j *Journal) commit(reqs []*request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		for _, r := range reqs {
			r.err = errors.New("filejournal: append after Close")
		}
		return
	}
	byRun := map[string]*pending{}
	var order []*pending
	for _, req := range reqs {
		// Encode the whole request first: it is committed all or nothing.
		type enc struct {
			p   *pending
			buf []byte
		}
		var encs []enc
		tentative := map[string]int64{}
		for _, rec := range req.recs {
			p := byRun[rec.Run]
			if p == nil {
				rf, created, err := j.open(rec.Run)
				if err != nil {
					req.err = err
					break
				}
				p = &pending{id: rec.Run, rf: rf, seq: rf.seq, created: created}
				byRun[rec.Run] = p
				order = append(order, p)
			}
			seq, ok := tentative[rec.Run]
			if !ok {
				seq = p.seq
			}
			seq++
			tentative[rec.Run] = seq
			rec.Seq = seq
			buf, err := appendFrame(nil, rec)
			if err != nil {
				req.err = err
				break
			}
			encs = append(encs, enc{p: p, buf: buf})
		}
		if req.err != nil {
			continue
		}
		for _, e := range encs {
			e.p.buf = append(e.p.buf, e.buf...)
		}
		for id, seq := range tentative {
			byRun[id].seq = seq
		}
		touched := map[*pending]bool{}
		for _, e := range encs {
			if !touched[e.p] {
				touched[e.p] = true
				e.p.reqs = append(e.p.reqs, req)
			}
		}
		for _, rec := range req.recs {
			byRun[rec.Run].final = rec.Kind == runbook.RecRunFinished
		}
	}
	syncRuns := false
	for _, p := range order {
		if len(p.buf) == 0 {
			continue
		}
		if err := j.write(p); err != nil {
			for _, r := range p.reqs {
				if r.err == nil {
					r.err = err
				}
			}
			_ = p.rf.f.Close()
			delete(j.files, p.id)
			continue
		}
		if p.created {
			syncRuns = true
		}
	}
	if syncRuns {
		if err := syncDir(filepath.Join(j.dir, "runs")); err != nil {
			for _, p := range order {
				if p.created {
					for _, r := range p.reqs {
						if r.err == nil {
							r.err = fmt.Errorf("filejournal: %w", err)
						}
					}
				}
			}
		}
	}
	for _, p := range order {
		if rf, ok := j.files[p.id]; ok && p.final {
			// A finished run is seldom written again: do not keep its file
			// open (a later resume or rollback reopens it).
			_ = rf.f.Close()
			delete(j.files, p.id)
		}
	}
}

// write appends p.buf to its file and fsyncs it.
func (j *Journal) write(p *pending) error {
	rf := p.rf
	if p.created {
		p.buf = append([]byte(magic), p.buf...)
	}
	if _, err := rf.f.WriteAt(p.buf, rf.size); err != nil {
		_ = rf.f.Truncate(rf.size)
		return fmt.Errorf("filejournal: write run %s: %w", p.id, err)
	}
	if err := rf.f.Sync(); err != nil {
		return fmt.Errorf("filejournal: fsync run %s: %w", p.id, err)
	}
	j.commits.Add(1)
	j.records.Add(p.seq - rf.seq)
	rf.size += int64(len(p.buf))
	rf.seq = p.seq
	return nil
}

// open returns the open file of run id, opening or creating it. A file
// changed behind the journal's back (another process appended to it) is
// scanned again. j.mu is held.
func (j *Journal) open(id string) (*runFile, bool, error) {
	if rf, ok := j.files[id]; ok {
		fi, err := rf.f.Stat()
		if err == nil && fi.Size() == rf.size {
			return rf, rf.size == 0, nil
		}
		_ = rf.f.Close()
		delete(j.files, id)
	}
	path := j.runPath(id)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, false, fmt.Errorf("filejournal: open run %s: %w", id, err)
	}
	data, err := readAll(f)
	if err != nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("filejournal: read run %s: %w", id, err)
	}
	res, err := parse(data, path, 0)
	if err != nil {
		_ = f.Close()
		return nil, false, err
	}
	rf := &runFile{f: f, seq: int64(len(res.recs)), size: res.valid}
	if len(res.recs) == 0 {
		rf.size = 0
	}
	if res.torn || int64(len(data)) != rf.size {
		// Cut off the torn tail so the next record follows the last
		// intact one.
		if err := f.Truncate(rf.size); err != nil {
			_ = f.Close()
			return nil, false, fmt.Errorf("filejournal: cut torn tail of run %s: %w", id, err)
		}
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return nil, false, fmt.Errorf("filejournal: fsync run %s: %w", id, err)
		}
	}
	j.files[id] = rf
	return rf, rf.size == 0, nil
}

func readAll(f *os.File) ([]byte, error) {
	return io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
}

// Load returns the records of run in order. A torn last record is ignored.
// An unknown run gives an error wrapping [runbook.ErrRunNotFound]; a damaged
// file one wrapping [ErrCorrupt].
func (j *Journal) Load(ctx context.Context, run string) ([]runbook.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkRunID(run); err != nil {
		return nil, fmt.Errorf("%w: %s (%v)", runbook.ErrRunNotFound, run, err)
	}
	path := j.runPath(run)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (no journal file %s)", runbook.ErrRunNotFound, run, path)
	}
	if err != nil {
		return nil, fmt.Errorf("filejournal: load run %s: %w", run, err)
	}
	res, err := parse(data, path, 0)
	if err != nil {
		return nil, err
	}
	if len(res.recs) == 0 {
		return nil, fmt.Errorf("%w: %s (journal file %s holds no complete record)", runbook.ErrRunNotFound, run, path)
	}
	for _, r := range res.recs {
		if r.Run != run {
			return nil, fmt.Errorf("%w: %s: record %d belongs to run %q", ErrCorrupt, path, r.Seq, r.Run)
		}
	}
	return res.recs, nil
}

// Runs lists the run ids in the directory, newest first (by the time of
// each run's first record).
func (j *Journal) Runs(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(j.dir, "runs"))
	if err != nil {
		return nil, fmt.Errorf("filejournal: list runs: %w", err)
	}
	type item struct {
		id string
		t  time.Time
	}
	var items []item
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id, ok := strings.CutSuffix(e.Name(), fileExt)
		if !ok || e.IsDir() || checkRunID(id) != nil {
			continue
		}
		t, ok := j.firstTime(id)
		if !ok {
			continue
		}
		items = append(items, item{id, t})
	}
	sort.Slice(items, func(a, b int) bool {
		if !items[a].t.Equal(items[b].t) {
			return items[a].t.After(items[b].t)
		}
		return items[a].id > items[b].id
	})
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.id
	}
	return out, nil
}

// firstTime returns the time of a run's first record; ok is false for a
// file without a complete record.
func (j *Journal) firstTime(id string) (time.Time, bool) {
	f, err := os.Open(j.runPath(id))
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	n, _ := f.ReadAt(buf, 0)
	res, err := parse(buf[:n], id, 1)
	if err == nil && len(res.recs) == 1 {
		return res.recs[0].Time, true
	}
	// The first record is longer than the buffer: read the whole file.
	data, err := os.ReadFile(j.runPath(id))
	if err != nil {
		return time.Time{}, false
	}
	res, err = parse(data, id, 1)
	if err != nil || len(res.recs) == 0 {
		return time.Time{}, false
	}
	return res.recs[0].Time, true
}
