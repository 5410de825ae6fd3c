// Package filejournal is Handrail's embedded journal: an append-only log per
// run in a state directory (by default .handrail/ next to the runbook).
//
// Every record is framed with its length and a CRC-32C checksum and is
// fsync'ed before Append returns, so the executor never starts a side effect
// before the record announcing it is durable. The directory is fsync'ed when
// a run's file is created. Concurrent appends (parallel steps) are committed
// together (group commit): one write and one fsync per file for all the
// records that arrived while the previous commit was on disk and for the
// callers that commit released if they append again within a quarter of a
// commit's time. After a crash, a torn last
// record is detected by its checksum or length, ignored by Load and cut off
// before the next append; damage anywhere else is reported as [ErrCorrupt],
// never misread.
//
// The journal is also a [runbook.RunLister] (newest run first) and a
// [runbook.Locker]: a lock file per runbook and target keeps a second apply
// out, names the holder (pid, host, start time), is taken over when its
// holder is provably gone (same host, process dead or host rebooted), and can
// be broken deliberately with [Journal.BreakLock]. A lock is a lease
// ([runbook.Lease]) lost when its file is broken or replaced, and a
// [runbook.FencedJournal]: [Journal.AppendFenced] writes only while the lock
// file still holds the lease's token, and stamps records with the lock's
// fencing epoch, which Load checks.
//
// Layout of the state directory:
//
//	runs/<run id>.journal   one log per run
//	locks/<key>.lock        the holder of a run lock (JSON)
//	locks/<key>.guard       flocked while the lock is inspected, changes hands or fences a commit
//	locks/fencing.epoch     the last fencing epoch handed out
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

	"github.com/handrail-dev/handrail/journal"
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
	// LeaseCheck is how often a held run lock's file is checked (default
	// [DefaultLeaseCheck]): a lock broken or taken over is noticed within
	// about this long, and appends are refused at once.
	LeaseCheck time.Duration
}

// Journal is a durable [runbook.Journal] in a directory. It is safe for
// concurrent use. Open it with [Open]; Close it when done.
type Journal struct {
	dir        string
	opts       Options
	host       string
	boot       string
	leaseCheck time.Duration

	commits atomic.Int64
	records atomic.Int64
	appends atomic.Int64
	waits   atomic.Int64
	// commitTime is a moving average of a commit's duration (write and
	// fsync), in nanoseconds: it bounds how long a batch waits for callers.
	commitTime atomic.Int64

	// mu serializes commits and guards the open files; it is held across
	// write and fsync, never while a batch gathers.
	mu     sync.Mutex
	files  map[string]*runFile
	closed bool

	// bmu guards the gathering of batches; it is never held during I/O, so
	// appends join the next batch while a commit is on disk.
	bmu      sync.Mutex
	cur      *batch
	flushing bool
	// timer bounds a leader's wait for callers; only the leader uses it.
	timer *time.Timer
}

var (
	_ runbook.Journal       = (*Journal)(nil)
	_ runbook.RunLister     = (*Journal)(nil)
	_ runbook.Locker        = (*Journal)(nil)
	_ runbook.FencedJournal = (*Journal)(nil)
)

// runFile is an open run log.
type runFile struct {
	f    *os.File
	seq  int64
	size int64
}

type request struct {
	recs  []runbook.Record
	lease *lease // fences the request, if not nil
	err   error
}

// batch is the requests committed together. Its leader, one of its
// callers, commits it; the others wait for done, or for lead if the leader
// hands the next batch to them.
type batch struct {
	reqs []*request
	done chan struct{}
	lead chan struct{}
	// want is how many requests the batch's leader waits for before
	// committing, until a quarter of a commit's time after released, the
	// end of the commit before (0: no wait); full is closed when that many
	// have joined.
	want     int
	released time.Time
	full     chan struct{}
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
	j.boot = journal.BootID()
	j.leaseCheck = j.opts.LeaseCheck
	if j.leaseCheck < 0 {
		return nil, fmt.Errorf("filejournal: negative LeaseCheck %s", j.leaseCheck)
	}
	if j.leaseCheck == 0 {
		j.leaseCheck = DefaultLeaseCheck
	}
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
	// Waits is the number of group commits that waited for the callers
	// released by the commit before them to append again.
	Waits int64
}

// Stats returns the journal's counters.
func (j *Journal) Stats() Stats {
	return Stats{Appends: j.appends.Load(), Records: j.records.Load(), Commits: j.commits.Load(), Waits: j.waits.Load()}
}

// Dir returns the state directory.
func (j *Journal) Dir() string { return j.dir }

// Close closes the open run files, after the commit under way if any.
// Appends after Close fail.
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
// Append is not fenced: a run holding a lease appends with
// [Journal.AppendFenced].
func (j *Journal) Append(ctx context.Context, recs ...runbook.Record) error {
	return j.append(ctx, nil, recs)
}

// append writes recs, fenced by l unless it is nil.
func (j *Journal) append(ctx context.Context, l *lease, recs []runbook.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("filejournal: append: %w", err)
	}
	req := &request{recs: make([]runbook.Record, len(recs)), lease: l}
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
		if l != nil {
			r.Fence = l.epoch
		}
		req.recs[i] = r
	}
	defer func() {
		if req.err == nil {
			j.appends.Add(1)
		}
	}()
	if j.opts.NoGroupCommit {
		j.commit([]*request{req})
		return req.err
	}
	j.bmu.Lock()
	if j.cur == nil {
		j.cur = newBatch()
	}
	b := j.cur
	b.reqs = append(b.reqs, req)
	if b.full != nil && len(b.reqs) >= b.want {
		close(b.full)
		b.full = nil
	}
	if !j.flushing {
		// No commit is under way: lead this batch.
		j.flushing = true
		j.bmu.Unlock()
		j.lead(b)
		return req.err
	}
	j.bmu.Unlock()
	select {
	case <-b.done:
	case <-b.lead:
		j.lead(b)
	}
	return req.err
}

func newBatch() *batch {
	return &batch{done: make(chan struct{}), lead: make(chan struct{}, 1)}
}

// lead commits b, then hands the next batch, which gathered meanwhile, to
// one of its callers.
//
// A commit that releases several callers usually sees most of them append
// again at once (parallel steps record their start, run, record their end),
// but by then the next batch, made of those that arrived during the commit
// (or of the first to come back), would already be on its way to disk: the
// callers would split into cohorts that take turns, each paying an fsync.
// So the batch that follows a commit of several requests waits until it
// holds as many requests as that commit released plus those that were
// already waiting, or until a quarter of a commit's time has passed since
// the release, whichever comes first. A caller that does not append again
// costs the others at most that quarter; a lone caller (a sequence of steps)
// never waits.
func (j *Journal) lead(b *batch) {
	j.bmu.Lock()
	if len(b.reqs) < b.want {
		if wait := time.Until(b.released.Add(time.Duration(j.commitTime.Load() / 4))); wait > 0 {
			full := make(chan struct{})
			b.full = full
			j.bmu.Unlock()
			j.waits.Add(1)
			if j.timer == nil {
				j.timer = time.NewTimer(wait)
			} else {
				j.timer.Reset(wait)
			}
			select {
			case <-full:
				j.timer.Stop()
			case <-j.timer.C:
			}
			j.bmu.Lock()
			b.full = nil
		}
	}
	if j.cur == b {
		j.cur = nil
	}
	j.bmu.Unlock()
	start := time.Now()
	j.commit(b.reqs)
	end := time.Now()
	j.noteCommitTime(end.Sub(start))
	close(b.done)
	j.bmu.Lock()
	next := j.cur
	if next == nil {
		j.flushing = false
		if len(b.reqs) > 1 {
			// Keep the released callers together: the first to append
			// again waits for the others.
			next = newBatch()
			next.want, next.released = len(b.reqs), end
			j.cur = next
		}
		j.bmu.Unlock()
		return
	}
	next.want, next.released = len(b.reqs)+len(next.reqs), end
	j.bmu.Unlock()
	next.lead <- struct{}{}
}

// noteCommitTime folds a commit's duration into the moving average.
func (j *Journal) noteCommitTime(d time.Duration) {
	old := j.commitTime.Load()
	if old == 0 {
		j.commitTime.Store(int64(d))
		return
	}
	j.commitTime.Store((3*old + int64(d)) / 4)
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

// commit writes the records of reqs, one write and one fsync per file,
// under j.mu: commits never overlap, and the run-lock fence of their fenced
// requests is checked and held until their records are on disk.
func (j *Journal) commit(reqs []*request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		for _, r := range reqs {
			r.err = errors.New("filejournal: append after Close")
		}
		return
	}
	// Fenced requests are checked, and their locks kept from changing
	// hands, until their records are on disk.
	unfence := j.fence(reqs)
	defer unfence()
	byRun := map[string]*pending{}
	var order []*pending
	for _, req := range reqs {
		if req.err != nil {
			continue
		}
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
