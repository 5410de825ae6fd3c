package filejournal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/journal/internal/watch"
	"github.com/handrail-dev/handrail/runbook"
)

// lockHint tells people what to do about a held lock.
const lockHint = "wait for that run to finish; if its process is gone for good (lost machine), break the lock deliberately (Journal.BreakLock, `handrail unlock`)"

// DefaultLeaseCheck is how often a held lock file is checked unless
// [Options.LeaseCheck] says otherwise.
const DefaultLeaseCheck = 250 * time.Millisecond

// lockName turns a lock key into a file name: letters, digits, '-' and '_'
// are kept, every other byte is escaped as %XX.
func lockName(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (j *Journal) lockPath(key string) string {
	return filepath.Join(j.dir, "locks", lockName(key)+".lock")
}

// flockFile takes an exclusive flock on the file at path (created if
// needed), waiting for it.
func flockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	for {
		ok, err := tryFlock(f)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
		if ok {
			break
		}
		// Held only for an inspection or one commit.
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return func() {
		unflock(f)
		_ = f.Close()
	}, nil
}

// guard takes an exclusive flock on the key's guard file, serializing the
// inspection, take-over and breaking of its lock file, and fenced appends
// under it, between processes of this host.
func (j *Journal) guard(ctx context.Context, key string) (func(), error) {
	release, err := flockFile(ctx, filepath.Join(j.dir, "locks", lockName(key)+".guard"))
	if err != nil {
		return nil, fmt.Errorf("filejournal: run lock %q: %w", key, err)
	}
	return release, nil
}

// nextEpoch returns the state directory's next fencing epoch: greater than
// every epoch it handed out before (kept in locks/epoch), and at least the
// current time in nanoseconds, so that a lost epoch file cannot make an
// epoch go back.
func (j *Journal) nextEpoch(ctx context.Context) (int64, error) {
	// A key's files never hold a '.' before their extension (lockName
	// escapes it): these names cannot collide with them.
	path := filepath.Join(j.dir, "locks", "fencing.epoch")
	release, err := flockFile(ctx, path+".guard")
	if err != nil {
		return 0, err
	}
	defer release()
	var last int64
	if b, err := os.ReadFile(path); err == nil {
		last, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	next := max(last+1, time.Now().UnixNano())
	tmp := path + ".tmp"
	if err := writeDurable(tmp, []byte(strconv.FormatInt(next, 10)+"\n")); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, err
	}
	return next, syncDir(filepath.Dir(path))
}

// writeDurable creates path exclusively (or truncates it when it is a
// temporary file) and writes and fsyncs data.
func writeDurable(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Lock takes the run lock of key (one active run per runbook and target).
// If another run holds it, the error wraps [journal.ErrLocked] and is a
// *[journal.LockedError] naming the holder's pid, host and start time. A lock
// whose holder is provably gone — same host and its process has exited, or
// the host rebooted since — is taken over.
//
// The lock file holds a random token and a fencing epoch. The lease checks
// the file every [Options.LeaseCheck] and is lost when it was removed or
// names another holder (broken with [Journal.BreakLock], or taken over);
// [Journal.AppendFenced] refuses to write once the file no longer holds the
// lease's token, and stamps each record with the epoch so that Load detects
// records written by a holder whose lock had been taken over.
func (j *Journal) Lock(ctx context.Context, key string) (runbook.Lease, error) {
	if key == "" {
		return nil, errors.New("filejournal: run lock with an empty key")
	}
	release, err := j.guard(ctx, key)
	if err != nil {
		return nil, err
	}
	defer release()
	path := j.lockPath(key)
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	me := journal.Holder{Key: key, PID: os.Getpid(), Host: j.host, Boot: j.boot, Started: time.Now().UTC(), Token: hex.EncodeToString(tok[:])}
	for attempt := 0; ; attempt++ {
		if attempt > 3 {
			return nil, fmt.Errorf("filejournal: run lock %q: %s keeps changing: is another program writing the state directory?", key, path)
		}
		_, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			if me.Epoch, err = j.nextEpoch(ctx); err != nil {
				return nil, fmt.Errorf("filejournal: run lock %q: fencing epoch: %w", key, err)
			}
			l, err := j.create(path, me)
			if err == nil {
				return l, nil
			}
			if !errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("filejournal: run lock %q: %w", key, err)
			}
		} else if err != nil {
			return nil, fmt.Errorf("filejournal: run lock %q: %w", key, err)
		}
		h, rerr := readHolder(path)
		if errors.Is(rerr, fs.ErrNotExist) {
			continue
		}
		if rerr == nil && !j.stale(h) {
			return nil, &journal.LockedError{Holder: h, Where: path, Hint: lockHint}
		}
		// Stale (or left half-written by a process that died while taking
		// it, the guard being held meanwhile): keep it for the record and
		// take over.
		if err := os.Rename(path, path+".stale"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("filejournal: run lock %q: take over stale lock %s: %w", key, path, err)
		}
	}
}

// create writes the lock file of me, which must not exist, and starts
// watching it.
func (j *Journal) create(path string, me journal.Holder) (*lease, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(me)
	_, werr := f.Write(append(data, '\n'))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = syncDir(filepath.Dir(path))
	}
	if werr != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("write %s: %w", path, werr)
	}
	l := &lease{j: j, key: me.Key, token: me.Token, epoch: me.Epoch}
	// The lock file is read every LeaseCheck until the lease is released
	// or lost.
	l.Lease = watch.Start(j.leaseCheck, func() error {
		if lerr := l.check(); lerr != nil {
			return lerr
		}
		return nil
	}, nil)
	return l, nil
}

// stale reports whether the holder is provably gone.
func (j *Journal) stale(h journal.Holder) bool {
	if h.Host != j.host {
		return false
	}
	if h.Boot != "" && j.boot != "" && h.Boot != j.boot {
		return true
	}
	return !processAlive(h.PID)
}

// lease is a run lock held as a lock file.
type lease struct {
	j     *Journal
	key   string
	token string
	epoch int64

	*watch.Lease // Lost, Err, MarkLost, Stop
}

var _ runbook.Lease = (*lease)(nil)

// check reads the lock file: nil while it holds this lease's token, else
// the loss.
func (l *lease) check() *journal.LostError {
	path := l.j.lockPath(l.key)
	h, err := readHolder(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &journal.LostError{Key: l.key, Where: path, Reason: "its lock file was removed (the lock was broken)"}
	case err != nil:
		return &journal.LostError{Key: l.key, Where: path, Reason: "its lock file was replaced by one that cannot be read", Cause: err}
	case h.Token != l.token:
		return &journal.LostError{Key: l.key, Where: path, Reason: "its lock file was replaced", Holder: &h}
	}
	return nil
}

// Release releases the lock, once. A lease that was lost reports why.
func (l *lease) Release() error {
	if !l.Stop() {
		return nil
	}
	release, err := l.j.guard(context.Background(), l.key)
	if err != nil {
		return err
	}
	defer release()
	if lerr := l.check(); lerr != nil {
		l.MarkLost(lerr)
		return l.Err()
	}
	path := l.j.lockPath(l.key)
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("filejournal: release run lock %q: %w", l.key, err)
	}
	return syncDir(filepath.Dir(path))
}

// AppendFenced appends recs like [Journal.Append], only while lease (from
// this journal's [Journal.Lock]) still holds its lock: under the key's
// guard flock — which Lock's take-over and BreakLock also take — each commit
// reads the lock file, writes and fsyncs only if it still holds the lease's
// token, and stamps every record with the lease's epoch (Record.Fence). A
// refused append writes nothing, loses the lease and returns a
// [*journal.LostError] naming the lock's new holder.
func (j *Journal) AppendFenced(ctx context.Context, ls runbook.Lease, recs ...runbook.Record) error {
	l, ok := ls.(*lease)
	if !ok || l.j.dir != j.dir {
		return fmt.Errorf("filejournal: append fenced by a lease of another journal (%T)", ls)
	}
	return j.append(ctx, l, recs)
}

// fence takes the guards of the leases of reqs (in key order), and fails
// the requests whose lease no longer holds its lock. release drops the
// guards once the commit is on disk. j.mu is held.
func (j *Journal) fence(reqs []*request) (release func()) {
	byKey := map[string][]*request{}
	for _, r := range reqs {
		if r.lease != nil {
			byKey[r.lease.key] = append(byKey[r.lease.key], r)
		}
	}
	if len(byKey) == 0 {
		return func() {}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var releases []func()
	for _, k := range keys {
		rel, err := j.guard(context.Background(), k)
		if err != nil {
			for _, r := range byKey[k] {
				r.err = err
			}
			continue
		}
		releases = append(releases, rel)
		for _, r := range byKey[k] {
			if lerr := r.lease.check(); lerr != nil {
				lerr.Reason = fmt.Sprintf("an append of %d record(s) was refused: %s", len(r.recs), lerr.Reason)
				r.lease.MarkLost(lerr)
				r.err = lerr
			}
		}
	}
	return func() {
		for _, rel := range releases {
			rel()
		}
	}
}

func readHolder(path string) (journal.Holder, error) {
	var h journal.Holder
	data, err := os.ReadFile(path)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("filejournal: lock file %s: %w", path, err)
	}
	return h, nil
}

// LockHolder returns the holder of key's run lock; ok is false when nobody
// holds it. A stale holder is returned too: see [Journal.BreakLock].
func (j *Journal) LockHolder(key string) (h journal.Holder, ok bool, err error) {
	h, err = readHolder(j.lockPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return h, false, nil
	}
	if err != nil {
		return h, false, err
	}
	return h, true, nil
}

// BreakLock removes key's run lock and returns who held it. Unless force,
// it refuses (with an error wrapping [journal.ErrHolderAlive]) to break the
// lock of a holder known to be alive: a running process of this host and
// boot. Use it deliberately, when the holder is known to be gone (its
// machine was lost): a holder still alive loses its lease within
// [Options.LeaseCheck], and its appends are refused from then on. The broken
// lock file is kept as <key>.lock.broken. Without a lock, the error wraps
// [journal.ErrNotLocked].
func (j *Journal) BreakLock(ctx context.Context, key string, force bool) (journal.Holder, error) {
	release, err := j.guard(ctx, key)
	if err != nil {
		return journal.Holder{}, err
	}
	defer release()
	path := j.lockPath(key)
	h, err := readHolder(path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, fmt.Errorf("%w: %q (no %s)", journal.ErrNotLocked, key, path)
	}
	if !force && err == nil && journal.HolderAlive(h, j.host) {
		return h, fmt.Errorf("%w: %q is held by %s, which is running on this machine; stop that process instead, or break the lock anyway with force (-force)", journal.ErrHolderAlive, key, h)
	}
	if err := os.Rename(path, path+".broken"); err != nil {
		return h, fmt.Errorf("filejournal: break run lock %q: %w", key, err)
	}
	return h, syncDir(filepath.Dir(path))
}
