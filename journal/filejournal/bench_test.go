package filejournal_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	return j.withFloor(func() error { return j.Journal.Append(ctx, recs...) })
}

// AppendFenced is what the executor calls, holding the journal's run lock:
// without it the embedded journal's would be called and no floor measured.
func (j *floorJournal) AppendFenced(ctx context.Context, l runbook.Lease, recs ...runbook.Record) error {
	return j.withFloor(func() error { return j.Journal.AppendFenced(ctx, l, recs...) })
}

func (j *floorJournal) withFloor(appendRecs func() error) error {
	// Alternate which goes first, so that neither always follows the
	// other's file system commit.
	j.n++
	if j.n%2 == 0 {
		if err := appendRecs(); err != nil {
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
		return appendRecs()
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

// BenchmarkParallelGroup runs a parallel group of 100 no-op steps through
// the executor at parallelism 10 (the CLI's default) and 100, with the file
// journal with group commit and without, alternately in one loop next to
// the fsync floor: the 202 records of a run written and fsync'ed one by one
// to a plain file. It reports, per step, the wall and CPU time and the
// commits (write+fsync) of each, the records per commit of group commit, and
// the floor per record.
func BenchmarkParallelGroup(b *testing.B) {
	const n = 100
	p := stepPlan(b, n, true)
	for _, width := range []int{10, 100} {
		b.Run(fmt.Sprintf("width=%d", width), func(b *testing.B) {
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
			exGroup := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: group, Parallelism: width}
			exSingle := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: single, Parallelism: width}
			f, err := os.Create(filepath.Join(dir, "floor"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, frameSize(benchRecord("bench", 0)))
			var tg, ts, tf, cg, cs time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tf += floorLoop(b, f, buf, 2*n+2)
				c := cpuTime()
				tg += runPlan(b, exGroup, p, fmt.Sprint("run-", i))
				c2 := cpuTime()
				ts += runPlan(b, exSingle, p, fmt.Sprint("run-", i))
				cg += c2 - c
				cs += cpuTime() - c2
			}
			steps := float64(b.N * n)
			gs := group.Stats()
			b.ReportMetric(float64(tf.Nanoseconds())/float64(b.N*(2*n+2)), "floor-ns/rec")
			b.ReportMetric(float64(tg.Nanoseconds())/steps, "group-ns/step")
			b.ReportMetric(float64(cg.Nanoseconds())/steps, "group-cpu-ns/step")
			b.ReportMetric(float64(gs.Commits)/steps, "group-fsyncs/step")
			b.ReportMetric(float64(gs.Records)/float64(gs.Commits), "group-recs/fsync")
			b.ReportMetric(float64(ts.Nanoseconds())/steps, "nogroup-ns/step")
			b.ReportMetric(float64(cs.Nanoseconds())/steps, "nogroup-cpu-ns/step")
			b.ReportMetric(float64(single.Stats().Commits)/steps, "nogroup-fsyncs/step")
		})
	}
}

// BenchmarkAppendFenced is the cost of fencing: one AppendFenced (guard
// flock, lock file read, write, fsync) next to one plain Append of the same
// record to another run, alternately in the same loop.
func BenchmarkAppendFenced(b *testing.B) {
	j, err := filejournal.Open(filepath.Join(b.TempDir(), "state"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	lease, err := j.Lock(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer lease.Release()
	for _, run := range []string{"plain", "fenced"} {
		if err := j.Append(ctx, runbook.Record{Run: run, Kind: runbook.RecRunStarted, Time: t0}); err != nil {
			b.Fatal(err)
		}
	}
	var plain, fenced time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < 2; k++ {
			s := time.Now()
			if (i+k)%2 == 0 {
				if err := j.Append(ctx, benchRecord("plain", i)); err != nil {
					b.Fatal(err)
				}
				plain += time.Since(s)
			} else {
				if err := j.AppendFenced(ctx, lease, benchRecord("fenced", i)); err != nil {
					b.Fatal(err)
				}
				fenced += time.Since(s)
			}
		}
	}
	b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "plain-ns/rec")
	b.ReportMetric(float64(fenced.Nanoseconds())/float64(b.N), "fenced-ns/rec")
	b.ReportMetric(float64(fenced)/float64(plain), "ratio")
}

// BenchmarkRollback is the realistic configuration of a rollback: 100
// steps in sequence, each with a rollback, through the executor with the
// file journal and a JSON event observer; the last step fails, so the run
// compensates the 99 before it. The forward steps and the compensations of
// the same run are timed apart (the failing step's action marks the
// boundary), wall and CPU time per step; each is two records, two
// write+fsync, so comp/fwd should be about 1.
func BenchmarkRollback(b *testing.B) {
	const n = 100
	var mid, midCPU = time.Time{}, time.Duration(0)
	boom := errors.New("boom")
	bl := runbook.NewBuilder("bench")
	rb := runbook.RollbackFunc(func(context.Context, *runbook.Env) error { return nil })
	for i := 0; i < n; i++ {
		act := runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			return runbook.Outputs{"previous_image": "dcmms/backend:0.2.9", "image": "dcmms/backend:0.3.0"}, nil
		})
		if i == n-1 {
			act = func(context.Context, *runbook.Env) (runbook.Outputs, error) {
				mid, midCPU = time.Now(), cpuTime()
				return nil, boom
			}
		}
		bl.Step(runbook.Step{Name: fmt.Sprint("s", i), Action: act, Rollbacks: []runbook.Rollback{rb}})
	}
	p, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	fj, err := filejournal.Open(filepath.Join(b.TempDir(), "state"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer fj.Close()
	ex := &runbook.Executor{Journal: fj, Observer: runbook.NewJSONObserver(io.Discard)}
	var fwd, comp, fwdCPU, compCPU time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start, startCPU := time.Now(), cpuTime()
		res, err := ex.Run(context.Background(), p, runbook.RunOptions{RunID: fmt.Sprint("run-", i)})
		end, endCPU := time.Now(), cpuTime()
		if !errors.Is(err, boom) || res.Status != runbook.StatusRolledBack {
			b.Fatalf("want a rollback, got %v, %v", res.Status, err)
		}
		fwd += mid.Sub(start)
		comp += end.Sub(mid)
		fwdCPU += midCPU - startCPU
		compCPU += endCPU - midCPU
	}
	steps := float64(b.N * (n - 1))
	b.ReportMetric(float64(fwd.Nanoseconds())/steps, "fwd-ns/step")
	b.ReportMetric(float64(comp.Nanoseconds())/steps, "comp-ns/step")
	b.ReportMetric(float64(comp)/float64(fwd), "comp/fwd")
	b.ReportMetric(float64(fwdCPU.Nanoseconds())/steps, "fwd-cpu-ns/step")
	b.ReportMetric(float64(compCPU.Nanoseconds())/steps, "comp-cpu-ns/step")
}
