package runbook_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
)

const secret = "hunter2-db-password"

func TestSecretsStayOutOfEventsLogsJournalAndErrors(t *testing.T) {
	var jsonOut, slogOut bytes.Buffer
	jo := runbook.NewJSONObserver(&jsonOut)
	so := runbook.SlogObserver{Logger: slog.New(slog.NewJSONHandler(&slogOut, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	j := &runbook.MemJournal{}
	p := mustBuild("secrets", func(b *runbook.Builder) {
		b.Step(runbook.Step{Name: "token", Action: readOnlyFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			tok := env.AddSecret("tok-" + secret)
			env.Line("stdout", "got token tok-"+secret)
			env.Emit("token issued", map[string]string{"token": "tok-" + secret})
			env.Logger().Info("issued", "token", "tok-"+secret)
			return runbook.Outputs{"token": tok, "url": "https://user:tok-" + secret + "@host"}, nil
		})})
		b.Step(runbook.Step{Name: "use", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			o, _ := env.Output("token")
			return nil, fmt.Errorf("login with %s failed", o["token"].(runbook.Secret).Reveal())
		})})
	})
	ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j, Observer: runbook.MultiObserver{jo, so},
		Logger: slog.New(slog.NewJSONHandler(&slogOut, nil))}
	res, err := ex.Run(context.Background(), p, runbook.RunOptions{RunID: "r", Inputs: []runbook.Input{{Name: "db_password", Value: secret, Sensitive: true}, {Name: "version", Value: "0.3.0"}}})
	require.Error(t, err)
	require.NoError(t, jo.Err())
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.NotContains(t, err.Error(), secret)
	assert.Contains(t, err.Error(), "login with (sensitive) failed")
	recs, lerr := j.Load(context.Background(), "r")
	require.NoError(t, lerr)
	rb, _ := json.Marshal(recs)
	for what, text := range map[string]string{"events": jsonOut.String(), "slog": slogOut.String(), "journal": string(rb)} {
		assert.NotContains(t, text, secret, what)
		assert.Contains(t, text, "(sensitive)", what)
	}
	assert.Equal(t, []runbook.Input{{Name: "db_password", Sensitive: true}, {Name: "version", Value: "0.3.0"}}, recs[0].Inputs)
	// Every JSON line is one event with its type.
	var kinds []string
	sc := bufio.NewScanner(&jsonOut)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		kinds = append(kinds, m["type"].(string))
	}
	assert.Equal(t, []string{"run_started", "node_started", "output_line", "note", "node_succeeded", "node_started", "node_failed",
		"rollback_started", "run_finished"}, kinds)
}

type readOnlyFunc func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error)

func (f readOnlyFunc) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	return f(ctx, env)
}
func (readOnlyFunc) ReadOnly() bool { return true }

func TestSecretFormatting(t *testing.T) {
	s := runbook.NewSecret(secret)
	for _, text := range []string{fmt.Sprint(s), fmt.Sprintf("%s %v %q %#v %+v", s, s, s, s, s), s.String(), s.GoString()} {
		assert.NotContains(t, text, secret)
	}
	b, err := json.Marshal(map[string]any{"s": s})
	require.NoError(t, err)
	assert.JSONEq(t, `{"s":"(sensitive)"}`, string(b))
	assert.Equal(t, secret, s.Reveal())
	assert.Equal(t, "(sensitive)", s.LogValue().String())
}

func TestJournalFailureStopsTheRun(t *testing.T) {
	w := &world{}
	p := mustBuild("jfail", func(b *runbook.Builder) { b.Step(w.step("a")).Step(w.step("b")).Step(w.step("c")) })
	j := &runbook.MemJournal{FailAfter: 4} // run_started, a started, a succeeded, b started
	res, err := (&runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: j}).Run(context.Background(), p, runbook.RunOptions{})
	require.Error(t, err)
	assert.ErrorContains(t, err, "journal")
	// The journal is gone: compensations that are not idempotent are not
	// run without the record announcing them (a later rollback runs them
	// once), and the run never claims rolled_back.
	assert.Equal(t, []string{"do a", "do b"}, w.log())
	assert.Equal(t, runbook.StatusRollbackIncomplete, res.Status)
	assert.ErrorIs(t, err, runbook.ErrNotRecorded)
	assert.Equal(t, []string{"b", "a"}, res.Pending, "b took effect before its record failed: it is left to undo too")

	// Idempotent compensations run anyway: a second run of them is harmless.
	w2 := &world{}
	idem := with(func(s *runbook.Step) { s.RollbackIdempotent = true })
	p2 := mustBuild("jfail", func(b *runbook.Builder) { b.Step(w2.step("a", idem)).Step(w2.step("b", idem)).Step(w2.step("c", idem)) })
	res, err = (&runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: &runbook.MemJournal{FailAfter: 4}}).Run(context.Background(), p2, runbook.RunOptions{})
	assert.ErrorIs(t, err, runbook.ErrNotRecorded)
	assert.Equal(t, []string{"do a", "do b", "undo b", "undo a"}, w2.log())
	assert.Equal(t, runbook.StatusRollbackIncomplete, res.Status)
}

func TestStopRollbackLeavesTheRestForLater(t *testing.T) {
	w := &world{}
	stop := make(chan struct{})
	p := mustBuild("stop", func(b *runbook.Builder) {
		b.Step(w.step("a")).Step(w.step("b"))
		s := w.step("c")
		inner := s.Rollbacks[0]
		s.Rollbacks[0] = runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
			close(stop) // Ctrl-C a second time, during the first compensation
			return inner.Compensate(ctx, env)
		})
		b.Step(s).Step(w.step("d", fails(errBoom)))
	})
	j := &runbook.MemJournal{}
	h := runbooktest.New(t, p, runbooktest.WithJournal(j), runbooktest.WithRunOptions(runbook.RunOptions{StopRollback: stop}))
	res := h.Run()
	h.AssertStatus(runbook.StatusInterrupted)
	h.AssertCompensated("c")
	h.AssertPending("b", "a")
	assert.ErrorContains(t, h.Err, "rollback stopped by request")

	h2 := runbooktest.New(t, p, runbooktest.WithJournal(j))
	res2 := h2.Rollback(res.Run.ID)
	require.NoError(t, h2.Err)
	assert.Equal(t, runbook.StatusRolledBack, res2.Status)
	assert.Equal(t, []string{"do a", "do b", "do c", "fail d", "undo c", "undo b", "undo a"}, w.log())
}

func TestClocks(t *testing.T) {
	t.Run("sim clock advanced by hand", func(t *testing.T) {
		c := runbook.NewSimClock(t0)
		done := make(chan error, 1)
		go func() { done <- c.Sleep(context.Background(), time.Hour) }()
		require.Eventually(t, func() bool {
			c.Advance(0)
			select {
			case err := <-done:
				require.NoError(t, err)
				return true
			default:
				return false
			}
		}, 2*time.Second, time.Millisecond, "with no runner busy, the sleeper wakes at once")
		assert.Equal(t, t0.Add(time.Hour), c.Now())
		c.Advance(time.Minute)
		assert.Equal(t, t0.Add(61*time.Minute), c.Now())
	})
	t.Run("real clock honours ctx", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.ErrorIs(t, runbook.RealClock{}.Sleep(ctx, time.Hour), context.Canceled)
		assert.NoError(t, runbook.RealClock{}.Sleep(context.Background(), time.Millisecond))
	})
	t.Run("clock timeout", func(t *testing.T) {
		ctx, cancel := runbook.ClockTimeout(context.Background(), runbook.RealClock{}, 10*time.Millisecond)
		defer cancel()
		<-ctx.Done()
		assert.ErrorIs(t, context.Cause(ctx), runbook.ErrTimeout)
		c := runbook.NewSimClock(t0)
		sctx, scancel := runbook.ClockTimeout(context.Background(), c, time.Minute)
		defer scancel()
		assert.NoError(t, sctx.Err())
		c.Advance(time.Minute)
		assert.ErrorIs(t, context.Cause(sctx), runbook.ErrTimeout)
	})
}

func TestNewEnv(t *testing.T) {
	var got []runbook.Event
	env := runbook.NewEnv(runbook.EnvConfig{
		Run: runbook.RunInfo{ID: "r1", Runbook: "rb"}, Node: "n", Attempt: 2, Self: runbook.Outputs{"v": 1},
		Lookup:   func(name string) (runbook.Outputs, bool) { return runbook.Outputs{"of": name}, name == "baseline" },
		Observer: runbook.ObserverFunc(func(e runbook.Event) { got = append(got, e) }),
	})
	assert.Equal(t, "r1", env.Run().ID)
	assert.Equal(t, "n", env.Node())
	assert.Equal(t, 2, env.Attempt())
	assert.Equal(t, runbook.Outputs{"v": 1}, env.Self())
	o, ok := env.Output("baseline")
	assert.True(t, ok)
	assert.Equal(t, "baseline", o["of"])
	env.AddSecret("abcdef")
	env.Line("stderr", "x abcdef y")
	require.Len(t, got, 1)
	assert.Equal(t, "x (sensitive) y", got[0].(runbook.OutputLine).Line)
	assert.Equal(t, "(sensitive)", env.Redact("abcdef"))
	_, err := env.Ask(context.Background(), runbook.ApprovalRequest{Message: "?"})
	assert.ErrorIs(t, err, runbook.ErrNoApprover)
	assert.Nil(t, env.Approver())
	env2 := runbook.NewEnv(runbook.EnvConfig{Node: "m", Approver: runbook.ApproverFunc(func(_ context.Context, r runbook.ApprovalRequest) (runbook.Decision, error) {
		return runbook.Decision{Approved: r.Node == "m"}, nil
	})})
	d, err := env2.Ask(context.Background(), runbook.ApprovalRequest{})
	require.NoError(t, err)
	assert.True(t, d.Approved)
	_, ok = env2.Output("x")
	assert.False(t, ok)
	assert.NotNil(t, env2.Logger())
}

func TestSlogObserverLevels(t *testing.T) {
	var buf bytes.Buffer
	o := runbook.SlogObserver{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	h := runbook.Header{Run: "r", Node: "n", Time: t0}
	for _, e := range []runbook.Event{
		runbook.NodeFailed{Header: h, Error: "x", Final: true},
		runbook.NodeRetrying{Header: h, Delay: time.Second},
		runbook.CompensationFailed{Header: h, Error: "y"},
		runbook.GateFailed{Header: h, Outcome: engine.OutcomeFailed},
		runbook.GateSampled{Header: h, Sample: runbook.SampleRecord{Check: "c", Value: 1.0, Verdict: engine.VerdictPass}},
		runbook.ApprovalDecided{Header: h, Decision: runbook.Decision{Approved: true, By: "alice"}},
		runbook.RollbackStarted{Header: h, Pending: []string{"a"}},
		runbook.RunFinished{Header: h, Status: runbook.StatusRolledBack, Error: "boom"},
		runbook.NodeSkipped{Header: h, Reason: "when"},
	} {
		o.Observe(e)
	}
	out := buf.String()
	for _, want := range []string{"level=ERROR msg=node_failed", "level=WARN msg=node_retrying", "level=ERROR msg=compensation_failed",
		"level=DEBUG msg=gate_sampled", "by=alice", "level=WARN msg=rollback_started", "status=rolled_back", "msg=node_skipped"} {
		assert.Contains(t, out, want)
	}
	assert.Equal(t, 9, strings.Count(out, "\n"))
	runbook.SlogObserver{}.Observe(runbook.RunStarted{Header: h}) // a nil logger discards
}

func TestRunIDIsNotReused(t *testing.T) {
	w := &world{}
	p := mustBuild("ids", func(b *runbook.Builder) { b.Step(w.step("a")) })
	ex := &runbook.Executor{Clock: runbook.NewSimClock(t0), Journal: &runbook.MemJournal{}}
	_, err := ex.Run(context.Background(), p, runbook.RunOptions{RunID: "r1"})
	require.NoError(t, err)
	res, err := ex.Run(context.Background(), p, runbook.RunOptions{RunID: "r1"})
	assert.Nil(t, res)
	assert.ErrorContains(t, err, "run r1 already exists in the journal")
	assert.Equal(t, []string{"do a"}, w.log())
}
