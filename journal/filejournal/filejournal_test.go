package filejournal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/runbook"
)

var t0 = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

func runFile(dir, run string) string { return filepath.Join(dir, "runs", run+".journal") }

// writeRun appends records to a run one at a time and returns the file size
// before the last one.
func writeRun(t *testing.T, dir, run string, n int) (lastStart int64) {
	t.Helper()
	j := open(t, dir, nil)
	for i := 0; i < n; i++ {
		r := runbook.Record{Run: run, Kind: runbook.RecNodeSucceeded, Node: fmt.Sprintf("step-%d", i), Time: t0.Add(time.Duration(i) * time.Second),
			Outputs: runbook.Outputs{"previous": "dcmms/backend:0.2.9", "i": i, "nested": map[string]any{"ok": true}}}
		if i == 0 {
			r.Kind = runbook.RecRunStarted
		}
		if i == n-1 {
			fi, err := os.Stat(runFile(dir, run))
			require.NoError(t, err)
			lastStart = fi.Size()
		}
		require.NoError(t, j.Append(context.Background(), r))
	}
	require.NoError(t, j.Close())
	return lastStart
}

// TestTornLastRecord truncates the journal at every byte offset of its last
// record: Load returns exactly the records before it, never a misread one,
// and the next append follows the last intact record.
func TestTornLastRecord(t *testing.T) {
	src := t.TempDir()
	const n = 6
	lastStart := writeRun(t, src, "run-torn", n)
	whole, err := os.ReadFile(runFile(src, "run-torn"))
	require.NoError(t, err)
	require.Greater(t, int64(len(whole)), lastStart)
	j0 := open(t, src, nil)
	want, err := j0.Load(context.Background(), "run-torn")
	require.NoError(t, err)
	require.Len(t, want, n)
	offsets := 0
	for cut := lastStart; cut < int64(len(whole)); cut++ {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "runs"), 0o750))
		require.NoError(t, os.WriteFile(runFile(dir, "run-torn"), whole[:cut], 0o640))
		j := open(t, dir, nil)
		got, err := j.Load(context.Background(), "run-torn")
		require.NoError(t, err, "cut at %d", cut)
		require.Equal(t, want[:n-1], got, "cut at byte %d of %d", cut, len(whole))
		// Appending cuts the torn tail and continues the numbering.
		require.NoError(t, j.Append(context.Background(), runbook.Record{Run: "run-torn", Kind: runbook.RecRunFinished, Time: t0, Status: runbook.StatusSucceeded}))
		got, err = j.Load(context.Background(), "run-torn")
		require.NoError(t, err)
		require.Len(t, got, n)
		assert.Equal(t, int64(n), got[n-1].Seq)
		assert.Equal(t, runbook.RecRunFinished, got[n-1].Kind)
		offsets++
	}
	t.Logf("torn last record: %d truncation offsets tested", offsets)
}

// TestTornTails covers the other shapes a crash leaves: garbage or zeros in
// place of the last record, a torn file header.
func TestTornTails(t *testing.T) {
	src := t.TempDir()
	lastStart := writeRun(t, src, "run-x", 4)
	whole, err := os.ReadFile(runFile(src, "run-x"))
	require.NoError(t, err)
	flipLast := append([]byte(nil), whole...)
	flipLast[len(flipLast)-3] ^= 0x40
	zeroLast := append([]byte(nil), whole...)
	for i := lastStart + 8; i < int64(len(zeroLast)); i++ {
		zeroLast[i] = 0
	}
	zerosAfter := append(append([]byte(nil), whole...), make([]byte, 4096)...)
	for _, tc := range []struct {
		name string
		data []byte
		want int
	}{
		{"checksum_of_last_record_wrong", flipLast, 3},
		{"last_record_zeroed", zeroLast, 3},
		{"zeros_after_last_record", zerosAfter, 4},
		{"half_header_after_last_record", append(append([]byte(nil), whole...), 0x10, 0x00), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "runs"), 0o750))
			require.NoError(t, os.WriteFile(runFile(dir, "run-x"), tc.data, 0o640))
			got, err := open(t, dir, nil).Load(context.Background(), "run-x")
			require.NoError(t, err)
			assert.Len(t, got, tc.want)
		})
	}
	t.Run("torn_header_is_no_run", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "runs"), 0o750))
		require.NoError(t, os.WriteFile(runFile(dir, "run-x"), whole[:5], 0o640))
		_, err := open(t, dir, nil).Load(context.Background(), "run-x")
		assert.True(t, errors.Is(err, runbook.ErrRunNotFound), "got %v", err)
	})
}

// TestCorruptionIsNotTorn: damage before the last record is reported, never
// skipped or misread.
func TestCorruptionIsNotTorn(t *testing.T) {
	src := t.TempDir()
	writeRun(t, src, "run-c", 5)
	whole, err := os.ReadFile(runFile(src, "run-c"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		mod  func(b []byte)
	}{
		{"payload_bit_flip", func(b []byte) { b[40] ^= 0x01 }},
		{"length_changed", func(b []byte) { b[8] ^= 0x01 }},
		{"bad_magic", func(b []byte) { b[0] = 'X' }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := append([]byte(nil), whole...)
			tc.mod(data)
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "runs"), 0o750))
			require.NoError(t, os.WriteFile(runFile(dir, "run-c"), data, 0o640))
			j := open(t, dir, nil)
			_, err := j.Load(context.Background(), "run-c")
			require.Error(t, err)
			assert.True(t, errors.Is(err, filejournal.ErrCorrupt), "got %v", err)
			assert.Contains(t, err.Error(), "run-c.journal")
			// Appending to a damaged file is refused too.
			err = j.Append(context.Background(), runbook.Record{Run: "run-c", Kind: runbook.RecRunFinished, Time: t0})
			assert.True(t, errors.Is(err, filejournal.ErrCorrupt), "got %v", err)
		})
	}
}

// TestGroupCommit: concurrent appends share write+fsync; without group
// commit each append has its own.
func TestGroupCommit(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *filejournal.Options
	}{{"group", nil}, {"no_group", &filejournal.Options{NoGroupCommit: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			j := open(t, t.TempDir(), tc.opts)
			const width = 100
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < width; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					assert.NoError(t, j.Append(context.Background(), runbook.Record{Run: "run-g", Kind: runbook.RecNodeStarted, Node: fmt.Sprint("step-", i), Time: t0}))
				}(i)
			}
			close(start)
			wg.Wait()
			st := j.Stats()
			assert.Equal(t, int64(width), st.Appends)
			assert.Equal(t, int64(width), st.Records)
			if tc.opts == nil {
				assert.Less(t, st.Commits, int64(width), "concurrent appends coalesce")
			} else {
				assert.Equal(t, int64(width), st.Commits)
			}
			t.Logf("%s: %d appends in %d commits", tc.name, st.Appends, st.Commits)
			recs, err := j.Load(context.Background(), "run-g")
			require.NoError(t, err)
			require.Len(t, recs, width)
		})
	}
}

func TestBadInput(t *testing.T) {
	_, err := filejournal.Open("", nil)
	assert.ErrorContains(t, err, "no state directory")
	j := open(t, t.TempDir(), nil)
	for _, id := range []string{"", "../escape", ".hidden", "a/b", "spaces here"} {
		err := j.Append(context.Background(), runbook.Record{Run: id, Kind: runbook.RecRunStarted, Time: t0})
		assert.Error(t, err, "run id %q", id)
		_, err = j.Load(context.Background(), id)
		assert.True(t, errors.Is(err, runbook.ErrRunNotFound), "load %q: %v", id, err)
	}
	// A state directory that is a file.
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o640))
	_, err = filejournal.Open(f, nil)
	assert.ErrorContains(t, err, "not a directory")
	assert.Equal(t, filepath.Join("ops", ".handrail"), filejournal.DirFor(filepath.Join("ops", "release-2.hcl")))
}

func TestRunsAfterResumeStayOrdered(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	ctx := context.Background()
	require.NoError(t, j.Append(ctx, runbook.Record{Run: "old", Kind: runbook.RecRunStarted, Time: t0}))
	require.NoError(t, j.Append(ctx, runbook.Record{Run: "new", Kind: runbook.RecRunStarted, Time: t0.Add(time.Hour)}))
	require.NoError(t, j.Append(ctx, runbook.Record{Run: "old", Kind: runbook.RecRunStarted, Time: t0.Add(2 * time.Hour), Mode: "resume"}))
	// Another process sees the same.
	runs, err := open(t, dir, nil).Runs(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"new", "old"}, runs)
}
