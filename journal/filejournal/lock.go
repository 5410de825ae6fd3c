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
	"strings"
	"time"

	"github.com/handrail-dev/handrail/journal"
)

// lockHint tells people what to do about a held lock.
const lockHint = "wait for that run to finish; if its process is gone for good (lost machine), break the lock deliberately (Journal.BreakLock, `handrail unlock`)"

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

// guard takes an exclusive flock on the key's guard file, serializing the
// inspection and take-over of its lock file between processes of this host.
func (j *Journal) guard(ctx context.Context, key string) (func(), error) {
	path := filepath.Join(j.dir, "locks", lockName(key)+".guard")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("filejournal: run lock %q: %w", key, err)
	}
	for {
		ok, err := tryFlock(f)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("filejournal: run lock %q: flock %s: %w", key, path, err)
		}
		if ok {
			break
		}
		// Held only for the few microseconds of an inspection.
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("filejournal: run lock %q: %w", key, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	return func() {
		unflock(f)
		_ = f.Close()
	}, nil
}

// Lock takes the run lock of key (one active run per runbook and target).
// If another run holds it, the error wraps [journal.ErrLocked] and is a
// *[journal.LockedError] naming the holder's pid, host and start time. A lock
// whose holder is provably gone — same host and its process has exited, or
// the host rebooted since — is taken over. unlock releases the lock; it is
// safe to call more than once.
func (j *Journal) Lock(ctx context.Context, key string) (unlock func() error, err error) {
	if key == "" {
		return nil, errors.New("filejournal: run lock with an empty key")
	}
	release, err := j.guard(ctx, key)
	if err != nil {
		return nil, err
	}
	defer release()
	path := j.lockPath(key)
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	me := journal.Holder{Key: key, PID: os.Getpid(), Host: j.host, Boot: j.boot, Started: time.Now().UTC(), Token: hex.EncodeToString(tok[:])}
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err == nil {
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
				return nil, fmt.Errorf("filejournal: run lock %q: write %s: %w", key, path, werr)
			}
			return j.unlocker(key, me.Token), nil
		}
		if !errors.Is(err, fs.ErrExist) || attempt > 3 {
			return nil, fmt.Errorf("filejournal: run lock %q: create %s: %w", key, path, err)
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

func (j *Journal) unlocker(key, token string) func() error {
	done := false
	return func() error {
		if done {
			return nil
		}
		release, err := j.guard(context.Background(), key)
		if err != nil {
			return err
		}
		defer release()
		done = true
		path := j.lockPath(key)
		h, err := readHolder(path)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("filejournal: run lock %q was broken while this run held it", key)
		}
		if err != nil {
			return err
		}
		if h.Token != token {
			return fmt.Errorf("filejournal: run lock %q was broken while this run held it; it is now held by %s", key, h)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("filejournal: release run lock %q: %w", key, err)
		}
		return syncDir(filepath.Dir(path))
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

// BreakLock removes key's run lock whoever holds it, and returns who did.
// Use it deliberately, when the holder is known to be gone (its machine was
// lost): the holder, if still alive, is not stopped, and its unlock will
// report that the lock was broken. The broken lock file is kept as
// <key>.lock.broken. Without a lock, the error wraps [journal.ErrNotLocked].
func (j *Journal) BreakLock(ctx context.Context, key string) (journal.Holder, error) {
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
	if err := os.Rename(path, path+".broken"); err != nil {
		return h, fmt.Errorf("filejournal: break run lock %q: %w", key, err)
	}
	return h, syncDir(filepath.Dir(path))
}

// bootID identifies this boot of the host (Linux), or "".
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
