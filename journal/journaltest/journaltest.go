// Package journaltest is the conformance suite every [runbook.Journal] must
// pass: order and numbering of records, concurrent appends, unknown runs,
// outputs that round-trip as JSON, secrets never stored in plain text,
// listing ([runbook.RunLister]), run locks ([runbook.Locker]), resume and
// rollback-later through a real [runbook.Executor], and a step's progress
// ([runbook.Env.RecordProgress]) read back by a resumed run.
//
// It is intended for use only in test code:
//
//	func TestConformance(t *testing.T) {
//		journaltest.Run(t, func(t *testing.T) runbook.Journal { return openFresh(t) })
//	}
package journaltest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// Factory returns a fresh, empty journal for one subtest; it registers its
// own cleanup with t.
type Factory func(t *testing.T) runbook.Journal

// Suite is the conformance suite with its options. The zero value runs
// every case.
type Suite struct {
	// Skip maps a case name (the subtest path below the suite, e.g.
	// "secrets/sensitive_input") to the reason it is skipped. Skips are
	// reported, never silent.
	Skip map[string]string
}

// Run runs the whole suite against the journals new makes.
func Run(t *testing.T, new Factory) {
	t.Helper()
	Suite{}.Run(t, new)
}

var t0 = time.Date(2026, 11, 26, 2, 0, 0, 123456789, time.UTC)

type tcase struct {
	name string
	fn   func(t *testing.T, s Suite, new Factory)
}

// Run runs the suite.
func (s Suite) Run(t *testing.T, new Factory) {
	t.Helper()
	cases := []tcase{
		{"append_load_order", testOrder},
		{"seq_numbering", testSeq},
		{"concurrent_appends", testConcurrent},
		{"unknown_run", testUnknown},
		{"outputs_round_trip", testOutputs},
		{"secrets", testSecrets},
		{"fields_round_trip", testFields},
		{"large_record", testLarge},
		{"listing", testListing},
		{"locking", testLocking},
		{"executor_resume_and_rollback", testExecutor},
		{"progress_resume", testProgress},
		{"edited_resume", testEdits},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if why, ok := s.Skip[c.name]; ok {
				t.Skipf("skipped by the suite's caller: %s", why)
			}
			c.fn(t, s, new)
		})
	}
}

func (s Suite) skip(t *testing.T, name string) {
	t.Helper()
	if why, ok := s.Skip[name]; ok {
		t.Skipf("skipped by the suite's caller: %s", why)
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func rec(run string, kind runbook.RecordKind, node string, i int) runbook.Record {
	return runbook.Record{Run: run, Kind: kind, Node: node, Time: t0.Add(time.Duration(i) * time.Second), Attempt: 1}
}

func testOrder(t *testing.T, _ Suite, new Factory) {
	j := new(t)
	run := "run-order"
	want := []runbook.Record{
		{Run: run, Kind: runbook.RecRunStarted, Time: t0, Runbook: "release-2", PlanHash: "abc123", Mode: "run"},
		rec(run, runbook.RecNodeStarted, "backup", 1),
		rec(run, runbook.RecNodeSucceeded, "backup", 2),
		rec(run, runbook.RecNodeStarted, "migrate", 3),
		rec(run, runbook.RecNodeFailed, "migrate", 4),
		rec(run, runbook.RecCompensating, "backup", 5),
		rec(run, runbook.RecCompensated, "backup", 6),
		{Run: run, Kind: runbook.RecRunFinished, Time: t0.Add(7 * time.Second), Status: runbook.StatusRolledBack},
	}
	for _, r := range want {
		require.NoError(t, j.Append(ctx(t), r))
	}
	got, err := j.Load(ctx(t), run)
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, int64(i+1), got[i].Seq, "record %d", i)
		assert.Equal(t, want[i].Kind, got[i].Kind, "record %d", i)
		assert.Equal(t, want[i].Node, got[i].Node, "record %d", i)
		assert.Equal(t, run, got[i].Run, "record %d", i)
		assert.True(t, want[i].Time.Equal(got[i].Time), "record %d: time %s, want %s (nanoseconds must survive)", i, got[i].Time, want[i].Time)
	}
	assert.Equal(t, runbook.StatusRolledBack, got[len(got)-1].Status)
	// Load returns copies: changing them changes nothing stored.
	got[0].Kind = "tampered"
	again, err := j.Load(ctx(t), run)
	require.NoError(t, err)
	assert.Equal(t, runbook.RecRunStarted, again[0].Kind)
}

func testSeq(t *testing.T, _ Suite, new Factory) {
	j := new(t)
	// Seq given by the caller is ignored: the journal numbers per run.
	r := rec("run-a", runbook.RecRunStarted, "", 0)
	r.Seq = 99
	require.NoError(t, j.Append(ctx(t), r))
	// One call, several records, two runs.
	require.NoError(t, j.Append(ctx(t),
		rec("run-a", runbook.RecNodeStarted, "s1", 1),
		rec("run-b", runbook.RecRunStarted, "", 1),
		rec("run-a", runbook.RecNodeSucceeded, "s1", 2),
		rec("run-b", runbook.RecNodeStarted, "s1", 2),
	))
	require.NoError(t, j.Append(ctx(t), rec("run-a", runbook.RecRunFinished, "", 3)))
	a, err := j.Load(ctx(t), "run-a")
	require.NoError(t, err)
	b, err := j.Load(ctx(t), "run-b")
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2, 3, 4}, seqs(a))
	assert.Equal(t, []int64{1, 2}, seqs(b))
	assert.Equal(t, []runbook.RecordKind{runbook.RecRunStarted, runbook.RecNodeStarted, runbook.RecNodeSucceeded, runbook.RecRunFinished}, kinds(a))
	assert.Equal(t, []runbook.RecordKind{runbook.RecRunStarted, runbook.RecNodeStarted}, kinds(b))
	// Appending nothing is a no-op.
	require.NoError(t, j.Append(ctx(t)))
}

func seqs(rs []runbook.Record) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

func kinds(rs []runbook.Record) []runbook.RecordKind {
	out := make([]runbook.RecordKind, len(rs))
	for i, r := range rs {
		out[i] = r.Kind
	}
	return out
}

func testConcurrent(t *testing.T, _ Suite, new Factory) {
	j := new(t)
	const writers, each = 40, 8
	require.NoError(t, j.Append(ctx(t), rec("run-par", runbook.RecRunStarted, "", 0)))
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r := rec("run-par", runbook.RecNodeStarted, fmt.Sprintf("step-%02d", w), i)
				r.Attempt = i + 1
				if err := j.Append(ctx(t), r); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := j.Load(ctx(t), "run-par")
	require.NoError(t, err)
	require.Len(t, got, 1+writers*each)
	last := map[string]int{}
	for i, r := range got {
		require.Equal(t, int64(i+1), r.Seq, "seqs must be 1..n without gaps or duplicates")
		if r.Kind != runbook.RecNodeStarted {
			continue
		}
		// Each writer's records keep its order.
		assert.Equal(t, last[r.Node]+1, r.Attempt, "order of %s", r.Node)
		last[r.Node] = r.Attempt
	}
	assert.Len(t, last, writers)
}

func testUnknown(t *testing.T, _ Suite, new Factory) {
	j := new(t)
	_, err := j.Load(ctx(t), "no-such-run")
	require.Error(t, err)
	assert.True(t, errors.Is(err, runbook.ErrRunNotFound), "want ErrRunNotFound, got %v", err)
	require.NoError(t, j.Append(ctx(t), rec("other-run", runbook.RecRunStarted, "", 0)))
	_, err = j.Load(ctx(t), "no-such-run")
	assert.True(t, errors.Is(err, runbook.ErrRunNotFound), "want ErrRunNotFound, got %v", err)
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func testOutputs(t *testing.T, _ Suite, new Factory) {
	j := new(t)
	out := runbook.Outputs{
		"int":      42,
		"int64":    int64(1) << 40,
		"negative": -7,
		"float":    3.25,
		"small":    1e-9,
		"bool":     true,
		"null":     nil,
		"string":   "héllo \"quoted\" \n line ✓",
		"empty":    "",
		"list":     []any{1, "two", 3.5, false, map[string]any{"k": "v"}},
		"strings":  []string{"a", "b"},
		"nested": map[string]any{
			"image":   "dcmms/backend:0.2.9",
			"weights": map[string]any{"blue": 90, "green": 10},
			"deep":    map[string]any{"deeper": []any{map[string]any{"x": 1.5}}},
		},
	}
	r := rec("run-out", runbook.RecNodeSucceeded, "deploy", 1)
	r.Outputs = out
	require.NoError(t, j.Append(ctx(t), rec("run-out", runbook.RecRunStarted, "", 0), r))
	got, err := j.Load(ctx(t), "run-out")
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.JSONEq(t, jsonOf(t, out), jsonOf(t, got[1].Outputs))
	// Rollbacks read the outputs back as plain JSON values.
	nested, ok := got[1].Outputs["nested"].(map[string]any)
	require.True(t, ok, "nested object comes back as map[string]any, got %T", got[1].Outputs["nested"])
	assert.Equal(t, "dcmms/backend:0.2.9", nested["image"])
	assert.EqualValues(t, 42, got[1].Outputs["int"])
	assert.EqualValues(t, int64(1)<<40, got[1].Outputs["int64"])
	assert.EqualValues(t, 3.25, got[1].Outputs["float"])
}

const secretText = "hunter2-s3cr3t-value"

func testSecrets(t *testing.T, s Suite, new Factory) {
	j := new(t)
	start := rec("run-secret", runbook.RecRunStarted, "", 0)
	start.Inputs = []runbook.Input{{Name: "version", Value: "0.3.0"}, {Name: "statuspage_token", Value: secretText, Sensitive: true}}
	done := rec("run-secret", runbook.RecNodeSucceeded, "login", 1)
	done.Outputs = runbook.Outputs{"token": runbook.NewSecret(secretText), "user": "deploy",
		"nested": map[string]any{"password": runbook.NewSecret(secretText)}}
	require.NoError(t, j.Append(ctx(t), start, done))
	got, err := j.Load(ctx(t), "run-secret")
	require.NoError(t, err)
	require.Len(t, got, 2)
	t.Run("secret_output", func(t *testing.T) {
		s.skip(t, "secrets/secret_output")
		assert.NotContains(t, jsonOf(t, got[1]), secretText)
		assert.Equal(t, "(sensitive)", fmt.Sprint(got[1].Outputs["token"]))
		assert.JSONEq(t, `{"token":"(sensitive)","user":"deploy","nested":{"password":"(sensitive)"}}`, jsonOf(t, got[1].Outputs))
	})
	t.Run("sensitive_input", func(t *testing.T) {
		s.skip(t, "secrets/sensitive_input")
		require.Len(t, got[0].Inputs, 2)
		assert.Equal(t, runbook.Input{Name: "version", Value: "0.3.0"}, got[0].Inputs[0])
		assert.Equal(t, runbook.Input{Name: "statuspage_token", Sensitive: true}, got[0].Inputs[1],
			"a sensitive input is stored as given, without its value")
		assert.NotContains(t, jsonOf(t, got), secretText)
	})
}

func testFields(t *testing.T, _ Suite, new Factory) {
	j := new(t)
	run := "run-fields"
	start := runbook.Record{Run: run, Kind: runbook.RecRunStarted, Time: t0, Runbook: "release-2", PlanHash: "9f86d081884c7d65", Mode: "resume",
		Inputs: []runbook.Input{{Name: "version", Value: "0.3.0"}}}
	done := runbook.Record{Run: run, Kind: runbook.RecNodeSucceeded, Time: t0.Add(time.Second), Node: "deploy", Attempt: 1, Compensable: true,
		Outputs: runbook.Outputs{"previous_image": "dcmms/backend:0.2.9"}}
	failed := runbook.Record{Run: run, Kind: runbook.RecNodeFailed, Time: t0.Add(time.Second), Node: "migrate", Attempt: 3, Final: true,
		Error: "migrate: 016_add_index.up.sql line 4: syntax error"}
	sample := runbook.Record{Run: run, Kind: runbook.RecGateSample, Time: t0.Add(2 * time.Second), Node: "soak",
		Sample: &runbook.SampleRecord{Gate: "soak", Check: "error_rate", Seq: 3, Time: t0.Add(2 * time.Second), Value: 0.004, Verdict: engine.VerdictPass, Threshold: "< 0.01"}}
	decision := runbook.Record{Run: run, Kind: runbook.RecDecision, Time: t0.Add(3 * time.Second), Node: "go_no_go",
		Decision: &runbook.Decision{Approved: true, By: "alice", Comment: "go", At: t0.Add(3 * time.Second), Choice: "rerun"}}
	fin := runbook.Record{Run: run, Kind: runbook.RecRunFinished, Time: t0.Add(4 * time.Second), Status: runbook.StatusHalted, Error: "smoke failed"}
	want := []runbook.Record{start, done, failed, sample, decision, fin}
	require.NoError(t, j.Append(ctx(t), want...))
	got, err := j.Load(ctx(t), run)
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want {
		want[i].Seq = int64(i + 1)
		assert.JSONEq(t, jsonOf(t, want[i]), jsonOf(t, got[i]), "record %d", i)
	}
}

func testLarge(t *testing.T, _ Suite, new Factory) {
	j := new(t)
	big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
	r := rec("run-large", runbook.RecNodeSucceeded, "dump", 1)
	r.Outputs = runbook.Outputs{"log": big}
	require.NoError(t, j.Append(ctx(t), rec("run-large", runbook.RecRunStarted, "", 0), r, rec("run-large", runbook.RecRunFinished, "", 2)))
	got, err := j.Load(ctx(t), "run-large")
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, big, got[1].Outputs["log"])
}

func testListing(t *testing.T, _ Suite, new Factory) {
	j := new(t)
	l, ok := j.(runbook.RunLister)
	if !ok {
		t.Skipf("%T does not implement runbook.RunLister", j)
	}
	runs, err := l.Runs(ctx(t))
	require.NoError(t, err)
	assert.Empty(t, runs)
	for i, id := range []string{"20261126T020000Z-aaaa", "20261126T020100Z-bbbb", "20261126T020200Z-cccc"} {
		require.NoError(t, j.Append(ctx(t), rec(id, runbook.RecRunStarted, "", i*60)))
	}
	// More records for the oldest run do not make it newer.
	require.NoError(t, j.Append(ctx(t), rec("20261126T020000Z-aaaa", runbook.RecRunFinished, "", 300)))
	runs, err = l.Runs(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, []string{"20261126T020200Z-cccc", "20261126T020100Z-bbbb", "20261126T020000Z-aaaa"}, runs, "newest first")
	sums, err := journal.List(ctx(t), j, 2)
	require.NoError(t, err)
	require.Len(t, sums, 2)
	assert.Equal(t, "20261126T020200Z-cccc", sums[0].ID)
	assert.Equal(t, journal.StateUnfinished, sums[0].State)
}

func testLocking(t *testing.T, _ Suite, new Factory) {
	j := new(t)
	l, ok := j.(runbook.Locker)
	if !ok {
		t.Skipf("%T does not implement runbook.Locker", j)
	}
	_, fenced := j.(runbook.FencedJournal)
	assert.True(t, fenced, "%T has run locks: its appends must be fenced (runbook.FencedJournal)", j)
	unlock, err := l.Lock(ctx(t), "release-2@production")
	require.NoError(t, err)
	// A second run of the same runbook and target is refused, naming the
	// holder.
	_, err = l.Lock(ctx(t), "release-2@production")
	require.Error(t, err)
	assert.True(t, errors.Is(err, journal.ErrLocked), "want ErrLocked, got %v", err)
	var le *journal.LockedError
	require.True(t, errors.As(err, &le), "want *journal.LockedError, got %T", err)
	assert.Equal(t, os.Getpid(), le.Holder.PID)
	assert.NotEmpty(t, le.Holder.Host)
	assert.False(t, le.Holder.Started.IsZero())
	assert.Contains(t, err.Error(), fmt.Sprint(os.Getpid()))
	// Other keys are independent.
	unlockStaging, err := l.Lock(ctx(t), "release-2@staging")
	require.NoError(t, err)
	require.NoError(t, unlockStaging.Release())
	// The first holder is unharmed: it releases normally, once.
	select {
	case <-unlock.Lost():
		t.Fatalf("the first lease was lost by another's attempt: %v", unlock.Err())
	default:
	}
	require.NoError(t, unlock.Err(), "a lease held is not lost")
	require.NoError(t, unlock.Release())
	require.NoError(t, unlock.Release(), "a second release is a no-op")
	unlock2, err := l.Lock(ctx(t), "release-2@production")
	require.NoError(t, err, "the lock is free again after unlock")
	require.NoError(t, unlock2.Release())

	// The executor takes the lock: a second apply is refused while the
	// first goes on unharmed.
	ex := &runbook.Executor{Journal: j, Clock: runbook.NewSimClock(t0)}
	inside := make(chan struct{})
	release := make(chan struct{})
	b := runbook.NewBuilder("locked")
	b.Step(runbook.Step{Name: "hold", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
		close(inside)
		<-release
		return runbook.Outputs{"ok": true}, nil
	})})
	p, err := b.Build()
	require.NoError(t, err)
	first := make(chan error, 1)
	go func() {
		_, err := ex.Run(context.Background(), p, runbook.RunOptions{RunID: "run-lock-1"})
		first <- err
	}()
	<-inside
	ex2 := &runbook.Executor{Journal: j}
	_, err = ex2.Run(ctx(t), p, runbook.RunOptions{RunID: "run-lock-2"})
	require.Error(t, err)
	assert.True(t, errors.Is(err, journal.ErrLocked), "want ErrLocked, got %v", err)
	close(release)
	require.NoError(t, <-first, "the first run is unharmed")
	_, err = j.Load(ctx(t), "run-lock-2")
	assert.True(t, errors.Is(err, runbook.ErrRunNotFound), "the refused run wrote nothing")
}

// testExecutor runs a plan that fails, then one that succeeds and is rolled
// back later by a second executor sharing nothing but the journal.
func testExecutor(t *testing.T, _ Suite, new Factory) {
	j := new(t)
	var mu sync.Mutex
	var ops []string
	add := func(s string) { mu.Lock(); ops = append(ops, s); mu.Unlock() }
	build := func(failLast bool) *runbook.Plan {
		b := runbook.NewBuilder("conformance")
		for _, name := range []string{"a", "b", "c"} {
			b.Step(runbook.Step{Name: name,
				Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
					add("do " + name)
					return runbook.Outputs{"previous": "old-" + name, "n": 1, "token": env.AddSecret(secretText + name)}, nil
				}),
				Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
					add(fmt.Sprintf("undo %s to %v", name, env.Self()["previous"]))
					return nil
				})}})
		}
		b.Step(runbook.Step{Name: "last", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			if failLast {
				return nil, runbook.Permanent(errors.New("boom"))
			}
			return nil, nil
		})})
		p, err := b.Build()
		require.NoError(t, err)
		return p
	}
	ex := &runbook.Executor{Journal: j, Clock: runbook.NewSimClock(t0)}
	res, err := ex.Run(ctx(t), build(true), runbook.RunOptions{RunID: "run-exec-fail",
		Inputs: []runbook.Input{{Name: "token", Value: secretText, Sensitive: true}}})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	recs, err := j.Load(ctx(t), "run-exec-fail")
	require.NoError(t, err)
	assert.NotContains(t, jsonOf(t, recs), secretText)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusRolledBack, st.Status)
	assert.Equal(t, []string{"a", "b", "c"}, st.Succeeded)
	assert.Equal(t, []string{"c", "b", "a"}, st.Compensated)
	assert.Empty(t, st.Pending())

	ops = nil
	p := build(false)
	_, err = ex.Run(ctx(t), p, runbook.RunOptions{RunID: "run-exec-ok"})
	require.NoError(t, err)
	later := &runbook.Executor{Journal: j, Clock: runbook.NewSimClock(t0.Add(time.Hour))}
	res, err = later.Rollback(ctx(t), p, "run-exec-ok", runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, []string{"do a", "do b", "do c", "undo c to old-c", "undo b to old-b", "undo a to old-a"}, ops,
		"rolled back later from the journal alone, with the outputs it holds")
	sum, err := journal.Show(ctx(t), j, "run-exec-ok", p)
	require.NoError(t, err)
	assert.Equal(t, string(runbook.StatusRolledBack), sum.State)
	assert.Empty(t, sum.LeftToUndo)
	assert.Equal(t, []string{"run", "rollback"}, sum.Modes)
}

// deadJournal stores records until the first one stop matches (which is
// stored), then refuses every append: the journal of a process that died
// right after that record.
type deadJournal struct {
	runbook.Journal
	mu   sync.Mutex
	stop func(runbook.Record) bool
	dead bool
}

func (d *deadJournal) Append(ctx context.Context, recs ...runbook.Record) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return errors.New("the process is dead")
	}
	for i, r := range recs {
		if d.stop(r) {
			d.dead = true
			return d.Journal.Append(ctx, recs[:i+1]...)
		}
	}
	return d.Journal.Append(ctx, recs...)
}

func testProgress(t *testing.T, _ Suite, new Factory) {
	j := new(t)
	var mu sync.Mutex
	var ops []string
	units := []string{"web-1", "web-2", "web-3"}
	b := runbook.NewBuilder("conformance-progress")
	b.Step(runbook.Step{Name: "fleet", Idempotent: true, Irreversible: true,
		Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			done := env.Progress()
			for _, u := range units {
				if v, _ := done[u].(map[string]any); v["state"] == "succeeded" {
					continue
				}
				mu.Lock()
				ops = append(ops, u)
				mu.Unlock()
				item := map[string]any{"state": "succeeded", "attempt": env.Attempt(), "token": env.AddSecret(secretText)}
				if err := env.RecordProgress(ctx, runbook.Outputs{u: item}); err != nil {
					return nil, err
				}
			}
			return nil, nil
		})})
	p, err := b.Build()
	require.NoError(t, err)
	dead := &deadJournal{Journal: j, stop: func(r runbook.Record) bool { return r.Kind == runbook.RecProgress && r.Outputs["web-2"] != nil }}
	_, err = (&runbook.Executor{Journal: dead, Clock: runbook.NewSimClock(t0)}).Run(ctx(t), p, runbook.RunOptions{RunID: "run-progress"})
	require.Error(t, err)
	recs, err := j.Load(ctx(t), "run-progress")
	require.NoError(t, err)
	assert.NotContains(t, jsonOf(t, recs), secretText)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	assert.JSONEq(t, `{"web-1":{"state":"succeeded","attempt":1,"token":"(sensitive)"},"web-2":{"state":"succeeded","attempt":1,"token":"(sensitive)"}}`,
		jsonOf(t, st.Progress["fleet"]))

	ops = nil
	_, err = (&runbook.Executor{Journal: j, Clock: runbook.NewSimClock(t0.Add(time.Minute))}).Resume(ctx(t), p, "run-progress", runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"web-3"}, ops, "the resumed run reads the progress back from the journal")
	recs, err = j.Load(ctx(t), "run-progress")
	require.NoError(t, err)
	st, err = runbook.Replay(recs)
	require.NoError(t, err)
	assert.Empty(t, st.Progress["fleet"], "forgotten once the step succeeded")
}
