package filejournal_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/runbook"
)

// benchRecord is a typical step record: a succeeded image upgrade with its
// outputs.
func benchRecord(run string, i int) runbook.Record {
	return runbook.Record{Run: run, Kind: runbook.RecNodeSucceeded, Node: fmt.Sprintf("deploy_backend_%d", i), Attempt: 1,
		Time:    t0.Add(time.Duration(i) * time.Millisecond),
		Outputs: runbook.Outputs{"previous_image": "dcmms/backend:0.2.9", "image": "dcmms/backend:0.3.0", "container_id": "3f2a9c0d1e4b"}}
}

// frameSize is the on-disk size of a record's frame.
func frameSize(r runbook.Record) int {
	r.Seq = 1
	b, _ := json.Marshal(r)
	return 8 + len(b)
}

// BenchmarkAppendVsFsyncFloor measures, alternately in one loop on the same
// disk, a file-journal Append of one record and the floor: write+fsync of
// the same number of bytes to a plain file. It reports both and their ratio
// (target ≤ 1.2).
func BenchmarkAppendVsFsyncFloor(b *testing.B) {
	dir := b.TempDir()
	j, err := filejournal.Open(filepath.Join(dir, "state"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	if err := j.Append(ctx, runbook.Record{Run: "bench", Kind: runbook.RecRunStarted, Time: t0}); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "floor"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	size := frameSize(benchRecord("bench", 0))
	buf := make([]byte, size)
	var floor, journal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		binary.LittleEndian.PutUint32(buf, uint32(i))
		// Alternate which goes first, so that neither always follows the
		// other's file system commit.
		for k := 0; k < 2; k++ {
			s := time.Now()
			if (i+k)%2 == 0 {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				floor += time.Since(s)
			} else {
				if err := j.Append(ctx, benchRecord("bench", i)); err != nil {
					b.Fatal(err)
				}
				journal += time.Since(s)
			}
		}
	}
	b.ReportMetric(float64(floor.Nanoseconds())/float64(b.N), "floor-ns/rec")
	b.ReportMetric(float64(journal.Nanoseconds())/float64(b.N), "journal-ns/rec")
	b.ReportMetric(float64(journal)/float64(floor), "ratio")
	b.ReportMetric(float64(size), "bytes/rec")
}

// stepPlan returns a plan of n no-op steps, in sequence or as one parallel
// group.
func stepPlan(b *testing.B, n int, parallel bool) *runbook.Plan {
	bl := runbook.NewBuilder("bench")
	add := func(bl *runbook.Builder) {
		for i := 0; i < n; i++ {
			bl.Step(runbook.Step{Name: fmt.Sprint("s", i), Irreversible: true,
				Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
					return runbook.Outputs{"previous_image": "dcmms/backend:0.2.9", "image": "dcmms/backend:0.3.0"}, nil
				})})
		}
	}
	if parallel {
		bl.Parallel(add)
	} else {
		add(bl)
	}
	p, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// floorLoop writes and fsyncs k buffers to f, the fsync floor.
func floorLoop(b *testing.B, f *os.File, buf []byte, k int) time.Duration {
	s := time.Now()
	for i := 0; i < k; i++ {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(s)
}

func runPlan(b *testing.B, ex *runbook.Executor, p *runbook.Plan, id string) time.Duration {
	s := time.Now()
	if _, err := ex.Run(context.Background(), p, runbook.RunOptions{RunID: id}); err != nil {
		b.Fatal(err)
	}
	return time.Since(s)
}

// floorJournal does one floor write+fsync of the record's size right
// before each append, timing it apart: each journal fsync is measured next
// to a floor fsync under the same disk conditions (the executor calls
// Append from one goroutine at a time for sequential steps).
type floorJournal struct {
	*filejournal.Journal
	f     *os.File
	buf   []byte
	floor time.Duration
	n     int
}

func (j *floorJournal) Append(ctx context.Context, recs ...runbook.Record) error {
	// Alternate which goes first, so that neither always follows the
	// other's file system commit.
	j.n++
	if j.n%2 == 0 {
		if err := j.Journal.Append(ctx, recs...); err != nil {
			return err
		}
	}
	s := time.Now()
	if _, err := j.f.Write(j.buf); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return err
	}
	j.floor += time.Since(s)
	if j.n%2 == 1 {
		return j.Journal.Append(ctx, recs...)
	}
	return nil
}

// BenchmarkExecutorStep measures the per-step cost of runs of 100
// sequential no-op steps through the executor with the file journal against
// the fsync floor of what a step must make durable: two records (started,
// succeeded), each a write+fsync of the same size. The floor is measured
// interleaved, one floor write+fsync right before each journal append, and
// subtracted from the run's time. It reports both per step and their ratio
// (target ≤ 1.2). The executor alone (no journal, in-memory journal) is
// measured for reference.
func BenchmarkExecutorStep(b *testing.B) {
	const n = 100
	p := stepPlan(b, n, false)
	size := frameSize(benchRecord("bench", 0))
	b.Run("file_journal_vs_floor", func(b *testing.B) {
		dir := b.TempDir()
		fj, err := filejournal.Open(filepath.Join(dir, "state"), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer fj.Close()
		f, err := os.Create(filepath.Join(dir, "floor"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		j := &floorJournal{Journal: fj, f: f, buf: make([]byte, size)}
		ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}
		var total time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			total += runPlan(b, ex, p, fmt.Sprint("run-", i))
		}
		steps := float64(b.N * n)
		journal := total - j.floor
		b.ReportMetric(float64(j.floor.Nanoseconds())/steps, "floor-ns/step")
		b.ReportMetric(float64(journal.Nanoseconds())/steps, "journal-ns/step")
		b.ReportMetric(float64(journal)/float64(j.floor), "ratio")
	})
	for _, tc := range []struct {
		name string
		j    func() runbook.Journal
	}{{"no_journal", func() runbook.Journal { return nil }}, {"mem_journal", func() runbook.Journal { return &runbook.MemJournal{} }}} {
		b.Run(tc.name, func(b *testing.B) {
			ex := &runbook.Executor{Clock: runbook.NewSimClock(t0)}
			if j := tc.j(); j != nil {
				ex.Journal = j
			}
			var total time.Duration
			for i := 0; i < b.N; i++ {
				total += runPlan(b, ex, p, fmt.Sprint("run-", i))
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N*n), "ns/step")
		})
	}
}

// BenchmarkParallelGroup runs a 100-wide parallel group (parallelism 100)
// through the executor with the file journal with group commit and without,
// alternately in one loop, next to the fsync floor of the 202 records
// written one by one. It reports the time and the commits (write+fsync) per
// step of each.
func BenchmarkParallelGroup(b *testing.B) {
	const n = 100
	p := stepPlan(b, n, true)
	dir := b.TempDir()
	open := func(name string, opts *filejournal.Options) *filejournal.Journal {
		j, err := filejournal.Open(filepath.Join(dir, name), opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = j.Close() })
		return j
	}
	group, single := open("group", nil), open("single", &filejournal.Options{NoGroupCommit: true})
	exGroup := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: group, Parallelism: n}
	exSingle := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: single, Parallelism: n}
	f, err := os.Create(filepath.Join(dir, "floor"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, frameSize(benchRecord("bench", 0)))
	var tg, ts, tf time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tf += floorLoop(b, f, buf, 2*n+2)
		tg += runPlan(b, exGroup, p, fmt.Sprint("run-", i))
		ts += runPlan(b, exSingle, p, fmt.Sprint("run-", i))
	}
	steps := float64(b.N * n)
	b.ReportMetric(float64(tf.Nanoseconds())/steps, "floor-ns/step")
	b.ReportMetric(float64(tg.Nanoseconds())/steps, "group-ns/step")
	b.ReportMetric(float64(ts.Nanoseconds())/steps, "nogroup-ns/step")
	b.ReportMetric(float64(group.Stats().Commits)/steps, "group-fsyncs/step")
	b.ReportMetric(float64(single.Stats().Commits)/steps, "nogroup-fsyncs/step")
}
