package runbooktest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
)

// fakeTB records failures instead of failing the test.
type fakeTB struct {
	testing.TB
	errors []string
	fatal  string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	panic(f)
}

func catchFatal(f *fakeTB, fn func()) {
	defer func() {
		if r := recover(); r != nil && r != f {
			panic(r)
		}
	}()
	fn()
}

func TestInjections(t *testing.T) {
	tests := []struct {
		name        string
		opts        []runbooktest.Option
		status      runbook.Status
		errIs       error
		executed    []string
		compensated []string
		elapsed     time.Duration
	}{
		{"happy path", nil, runbook.StatusSucceeded, nil,
			[]string{"maintenance_on", "backup", "migrate", "images", "go_no_go", "shift_50", "soak_50", "maintenance_off"}, nil, 15 * time.Minute},
		{"fail a step", []runbooktest.Option{runbooktest.Fail("images", errors.New("image 0.3.0 is unhealthy"))}, runbook.StatusRolledBack, nil,
			[]string{"maintenance_on", "backup", "migrate", "images"}, []string{"migrate", "backup", "maintenance_on"}, 0},
		{"panic", []runbooktest.Option{runbooktest.Panic("backup", "disk full")}, runbook.StatusRolledBack, runbook.ErrPanic,
			[]string{"maintenance_on", "backup"}, []string{"maintenance_on"}, 0},
		{"delay makes no difference without a timeout", []runbooktest.Option{runbooktest.Delay("backup", 10*time.Minute)}, runbook.StatusSucceeded, nil,
			[]string{"maintenance_on", "backup", "migrate", "images", "go_no_go", "shift_50", "soak_50", "maintenance_off"}, nil, 25 * time.Minute},
		{"breach at minute 9", []runbooktest.Option{runbooktest.BreachAt("soak_50", 9*time.Minute)}, runbook.StatusRolledBack, runbook.ErrGateFailed,
			[]string{"maintenance_on", "backup", "migrate", "images", "go_no_go", "shift_50", "soak_50"}, []string{"shift_50", "images", "migrate", "backup", "maintenance_on"}, 9 * time.Minute},
		{"a rollback that keeps failing", []runbooktest.Option{runbooktest.Fail("shift_50", nil), runbooktest.FailRollback("migrate", 0),
			runbooktest.WithExecutor(func(e *runbook.Executor) { e.RollbackRetry = &runbook.Retry{Attempts: 2} })}, runbook.StatusRollbackIncomplete, runbooktest.ErrInjected,
			[]string{"maintenance_on", "backup", "migrate", "images", "go_no_go", "shift_50"}, []string{"images", "backup", "maintenance_on"}, time.Second},
		{"a rollback that fails once", []runbooktest.Option{runbooktest.Fail("shift_50", nil), runbooktest.FailRollback("migrate", 1)}, runbook.StatusRolledBack, runbooktest.ErrInjected,
			[]string{"maintenance_on", "backup", "migrate", "images", "go_no_go", "shift_50"}, []string{"images", "migrate", "backup", "maintenance_on"}, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := runbooktest.New(t, releasePlan(), tc.opts...)
			h.Run()
			h.AssertStatus(tc.status)
			if tc.errIs != nil {
				h.AssertErrorIs(tc.errIs)
			}
			h.AssertExecuted(tc.executed...)
			h.AssertCompensated(tc.compensated...)
			assert.Equal(t, tc.elapsed, h.Elapsed())
		})
	}
}

func TestRunShorthand(t *testing.T) {
	h := runbooktest.Run(t, releasePlan(), runbooktest.Fail("migrate", nil))
	h.AssertStatus(runbook.StatusRolledBack)
	h.AssertCompensated("backup", "maintenance_on")
}

func TestFailAttemptWithRetry(t *testing.T) {
	b := runbook.NewBuilder("retry")
	s := noop("flaky")
	s.Retry = runbook.Retry{Attempts: 3, Delay: time.Second}
	b.Step(s)
	p, err := b.Build()
	require.NoError(t, err)
	h := runbooktest.New(t, p, runbooktest.FailAttempt("flaky", 1, nil), runbooktest.FailAttempt("flaky", 2, nil))
	h.Run()
	h.AssertStatus(runbook.StatusSucceeded)
	assert.Equal(t, 2, h.Recorder.Retries("flaky"))
	assert.Equal(t, 3*time.Second, h.Elapsed())
	assert.Equal(t, []string{"run_started"}, h.Recorder.Kinds("")[:1])
}

func TestAssertionsReportThroughTB(t *testing.T) {
	f := &fakeTB{TB: t}
	h := runbooktest.New(f, releasePlan(), runbooktest.Fail("backup", nil))
	h.Run()
	assert.False(t, h.AssertStatus(runbook.StatusSucceeded))
	assert.False(t, h.AssertCompensated("backup"))
	assert.True(t, h.AssertCompensated("maintenance_on"))
	assert.False(t, h.AssertExecuted("x"))
	assert.True(t, h.AssertPending())
	assert.Len(t, f.errors, 3)
	assert.Contains(t, f.errors[0], "status = rolled_back, want succeeded")
}

func TestFatalCases(t *testing.T) {
	t.Run("unknown node", func(t *testing.T) {
		f := &fakeTB{TB: t}
		catchFatal(f, func() { runbooktest.New(f, releasePlan(), runbooktest.Fail("bakup", nil)) })
		assert.Contains(t, f.fatal, `unknown node "bakup"`)
	})
	t.Run("step injection on a gate", func(t *testing.T) {
		f := &fakeTB{TB: t}
		catchFatal(f, func() { runbooktest.New(f, releasePlan(), runbooktest.Fail("soak_50", nil)) })
		assert.Contains(t, f.fatal, `"soak_50" is a gate`)
	})
	t.Run("breach on a step", func(t *testing.T) {
		f := &fakeTB{TB: t}
		catchFatal(f, func() { runbooktest.New(f, releasePlan(), runbooktest.BreachAt("backup", time.Minute)) })
		assert.Contains(t, f.fatal, `BreachAt("backup"): not a check, soak or guard gate`)
	})
	t.Run("a run stuck outside the clock", func(t *testing.T) {
		b := runbook.NewBuilder("stuck")
		block := make(chan struct{})
		defer close(block)
		b.Step(runbook.Step{Name: "hang", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			<-block
			return nil, nil
		})})
		p, err := b.Build()
		require.NoError(t, err)
		f := &fakeTB{TB: t}
		catchFatal(f, func() { runbooktest.New(f, p, runbooktest.WallTimeout(50*time.Millisecond)).Run() })
		assert.Contains(t, f.fatal, "did not end within 50ms")
	})
}

func TestResumeThroughHarness(t *testing.T) {
	j := &runbook.MemJournal{}
	p := releasePlan()
	require.NoError(t, j.Append(context.Background(),
		runbook.Record{Run: "r", Kind: runbook.RecRunStarted, Runbook: p.Name, PlanHash: p.Hash()},
		runbook.Record{Run: "r", Kind: runbook.RecNodeSucceeded, Node: "maintenance_on", Compensable: true},
		runbook.Record{Run: "r", Kind: runbook.RecNodeStarted, Node: "backup"},
	))
	approver := runbooktest.NewApprover().Choose("backup", "rerun")
	h := runbooktest.New(t, p, runbooktest.WithJournal(j), runbooktest.WithApprover(approver))
	h.Resume("r")
	h.AssertStatus(runbook.StatusSucceeded)
	h.AssertExecuted("backup", "migrate", "images", "go_no_go", "shift_50", "soak_50", "maintenance_off")
	assert.Equal(t, []string{"backup", "go_no_go"}, approver.AskedNodes())
}
