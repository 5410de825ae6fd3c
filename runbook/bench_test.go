package runbook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

const benchSteps = 10_000

// noop is the benchmark's step action: it does nothing, so what is measured
// is the executor.
type noop struct{}

func (noop) Do(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil }
func (noop) ReadOnly() bool                                            { return true }

var benchNames = func() []string {
	n := make([]string, benchSteps)
	for i := range n {
		n[i] = "s" + strconv.Itoa(i)
	}
	return n
}()

func benchPlan(b testing.TB, parallel bool) *runbook.Plan {
	bl := runbook.NewBuilder("bench")
	add := func(bl *runbook.Builder) {
		for i := 0; i < benchSteps; i++ {
			bl.Step(runbook.Step{Name: benchNames[i], Action: noop{}})
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

// BenchmarkSequence runs 10,000 no-op steps in sequence without a journal,
// next to a bare Go loop that makes the same Action.Do calls. ns/step is the
// executor's per-step time; the bare loop is the anchor measured in the same
// run.
func BenchmarkSequence(b *testing.B) {
	p := benchPlan(b, false)
	ctx := context.Background()
	b.Run("executor", func(b *testing.B) {
		ex := &runbook.Executor{}
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			if _, err := ex.Run(ctx, p, runbook.RunOptions{RunID: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
		reportPerStep(b, cpu)
	})
	b.Run("executor-no-inline", func(b *testing.B) {
		// The same without the walk's inline path for a lone ready step.
		ex := &runbook.Executor{}
		runbook.NoInline(ex)
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			if _, err := ex.Run(ctx, p, runbook.RunOptions{RunID: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
		reportPerStep(b, cpu)
	})
	b.Run("bare_loop", func(b *testing.B) {
		actions := make([]runbook.Action, benchSteps)
		for i := range actions {
			actions[i] = p.Nodes()[i].Step.Action
		}
		env := runbook.NewEnv(runbook.EnvConfig{})
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			for _, a := range actions {
				if _, err := a.Do(ctx, env); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportPerStep(b, cpu)
	})
	b.Run("bare_loop_with_context", func(b *testing.B) {
		// The least a runner that honours per-step cancellation must do:
		// a cancellable context and a recover around each call.
		actions := make([]runbook.Action, benchSteps)
		for i := range actions {
			actions[i] = p.Nodes()[i].Step.Action
		}
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			for i, a := range actions {
				sctx, cancel := context.WithCancel(ctx)
				env := runbook.NewEnv(runbook.EnvConfig{Node: benchNames[i], Attempt: 1})
				func() {
					defer func() { _ = recover() }()
					if _, err := a.Do(sctx, env); err != nil {
						b.Fatal(err)
					}
				}()
				cancel()
			}
		}
		reportPerStep(b, cpu)
	})
}

// reportPerStep reports wall and CPU time per step (CPU time includes the
// garbage collector's; it is the steadier figure on a loaded machine).
func reportPerStep(b *testing.B, cpuStart time.Duration) {
	n := float64(b.N) * benchSteps
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/step")
	if c := cpuTime(); c > 0 {
		b.ReportMetric(float64((c-cpuStart).Nanoseconds())/n, "cpu-ns/step")
	}
}

// BenchmarkParallelGroup runs 10,000 independent no-op steps in one
// parallel group (parallelism 10 and 1000).
func BenchmarkParallelGroup(b *testing.B) {
	p := benchPlan(b, true)
	ctx := context.Background()
	for _, par := range []int{10, 1000} {
		b.Run(fmt.Sprintf("parallelism=%d", par), func(b *testing.B) {
			ex := &runbook.Executor{Parallelism: par}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if _, err := ex.Run(ctx, p, runbook.RunOptions{RunID: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			reportPerStep(b, cpu)
		})
	}
}

// BenchmarkBuildAndRun builds and runs a 10,000-step plan (with rollbacks,
// so that the plan is realistic) and reports the bytes allocated per
// build+run and the peak heap in use.
func BenchmarkBuildAndRun(b *testing.B) {
	ctx := context.Background()
	rb := runbook.RollbackFunc(func(context.Context, *runbook.Env) error { return nil })
	do := runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
		return runbook.Outputs{"ok": true}, nil
	})
	var peak uint64
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	b.ReportAllocs()
	for b.Loop() {
		bl := runbook.NewBuilder("bench")
		for i := 0; i < benchSteps; i++ {
			bl.Step(runbook.Step{Name: benchNames[i], Action: do, Rollbacks: []runbook.Rollback{rb}})
		}
		p, err := bl.Build()
		if err != nil {
			b.Fatal(err)
		}
		res, err := (&runbook.Executor{}).Run(ctx, p, runbook.RunOptions{RunID: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > peak {
			peak = ms.HeapAlloc
		}
		runtime.KeepAlive(res)
	}
	b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "peak-heap-MB")
}

// discardJournal takes records and keeps none.
type discardJournal struct{}

func (discardJournal) Append(context.Context, ...runbook.Record) error { return nil }
func (discardJournal) Load(_ context.Context, run string) ([]runbook.Record, error) {
	return nil, fmt.Errorf("%w: %s", runbook.ErrRunNotFound, run)
}

// phaseMark is a point between the phases of a benchmarked run.
type phaseMark struct {
	t      time.Time
	cpu    time.Duration
	allocs uint64
}

func markPhase() phaseMark {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return phaseMark{t: time.Now(), cpu: cpuTime(), allocs: ms.Mallocs}
}

// BenchmarkRollback runs 10,000 steps in sequence, each with a rollback;
// the last one fails, so the run then compensates the 9,999 before it. The
// forward steps and the compensations of the same run are measured apart
// (the failing step's action marks the boundary): wall and CPU time and
// allocations per forward step and per compensation, and comp/fwd, the cost
// of a compensation against a forward step of the same plan. "bare" has no
// journal and no observer; "journal+json" builds and appends every record
// (to a journal that keeps none, so that its storage does not count) and
// writes every event as JSON (to io.Discard), as the CLI does. The file
// journal's figure, fsync included, is BenchmarkRollback in
// journal/filejournal.
func BenchmarkRollback(b *testing.B) {
	ctx := context.Background()
	var mid phaseMark
	rb := runbook.RollbackFunc(func(context.Context, *runbook.Env) error { return nil })
	do := runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil })
	boom := errors.New("boom")
	fail := runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
		mid = markPhase()
		return nil, boom
	})
	bl := runbook.NewBuilder("bench")
	for i := 0; i < benchSteps; i++ {
		a := do
		if i == benchSteps-1 {
			a = fail
		}
		bl.Step(runbook.Step{Name: benchNames[i], Action: a, Rollbacks: []runbook.Rollback{rb}})
	}
	p, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ex   func() *runbook.Executor
	}{
		{"bare", func() *runbook.Executor { return &runbook.Executor{} }},
		{"journal+json", func() *runbook.Executor {
			return &runbook.Executor{Journal: discardJournal{}, Observer: runbook.NewJSONObserver(io.Discard)}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var fwd, comp struct {
				wall, cpu time.Duration
				allocs    uint64
			}
			const n = benchSteps - 1
			for i := 0; i < b.N; i++ {
				ex := tc.ex()
				start := markPhase()
				res, err := ex.Run(ctx, p, runbook.RunOptions{RunID: "bench"})
				end := markPhase()
				if !errors.Is(err, boom) || res.Status != runbook.StatusRolledBack || len(res.Compensated) != n {
					b.Fatalf("want a rollback of %d steps, got %v, %v", n, res.Status, err)
				}
				fwd.wall += mid.t.Sub(start.t)
				fwd.cpu += mid.cpu - start.cpu
				fwd.allocs += mid.allocs - start.allocs
				comp.wall += end.t.Sub(mid.t)
				comp.cpu += end.cpu - mid.cpu
				comp.allocs += end.allocs - mid.allocs
			}
			per := float64(b.N * n)
			fwdNs, compNs := float64(fwd.wall.Nanoseconds())/per, float64(comp.wall.Nanoseconds())/per
			b.ReportMetric(fwdNs, "fwd-ns/step")
			b.ReportMetric(compNs, "comp-ns/step")
			b.ReportMetric(compNs/fwdNs, "comp/fwd")
			if fwd.cpu > 0 {
				b.ReportMetric(float64(fwd.cpu.Nanoseconds())/per, "fwd-cpu-ns/step")
				b.ReportMetric(float64(comp.cpu.Nanoseconds())/per, "comp-cpu-ns/step")
				b.ReportMetric(float64(comp.cpu)/float64(fwd.cpu), "comp/fwd-cpu")
			}
			b.ReportMetric(float64(fwd.allocs)/per, "fwd-allocs/step")
			b.ReportMetric(float64(comp.allocs)/per, "comp-allocs/step")
		})
	}
}
