package runbooktest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
)

// lb is a load balancer's weights; shift sets them, capturing the previous
// ones for its rollback — in a checkpoint before the change, or (the bug
// the reproduction shows) afresh on every attempt, in its outputs.
type lb struct {
	mu      sync.Mutex
	weights string
	applied int
}

func (l *lb) get() string { l.mu.Lock(); defer l.mu.Unlock(); return l.weights }
func (l *lb) set(w string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.weights = w
	l.applied++
}

func shiftPlan(t *testing.T, l *lb, checkpoint bool, step func(*runbook.Step)) *runbook.Plan {
	t.Helper()
	b := runbook.NewBuilder("shift")
	s := runbook.Step{Name: "shift",
		Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			prev := runbook.Outputs{"previous": l.get()}
			if checkpoint {
				if cp := env.Checkpointed(); cp != nil {
					prev = cp
				} else if err := env.Checkpoint(ctx, prev); err != nil {
					return nil, err
				}
			}
			l.set("90/10")
			return prev, nil
		}),
		Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(_ context.Context, env *runbook.Env) error {
			if p, ok := env.Self()["previous"].(string); ok {
				l.set(p)
			}
			return nil
		})},
		RollbackIdempotent: true,
	}
	if step != nil {
		step(&s)
	}
	b.Step(s)
	b.Step(runbook.Step{Name: "later", Irreversible: true, Uses: []string{"shift"},
		Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil })})
	p, err := b.Build()
	require.NoError(t, err)
	return p
}

// A lost answer, a retry, a later failure: the rollback restores what was
// there before the first attempt — when the step checkpoints. Without a
// checkpoint the retry takes the first attempt's 90/10 for "previous",
// which the injection exposes (a failure before the effect would not).
func TestFailAfterEffectThenRetry(t *testing.T) {
	for _, tc := range []struct {
		checkpoint bool
		want       string
	}{{true, "100/0"}, {false, "90/10"}} {
		l := &lb{weights: "100/0"}
		p := shiftPlan(t, l, tc.checkpoint, func(s *runbook.Step) { s.Retry = runbook.Retry{Attempts: 2, Delay: time.Second} })
		h := runbooktest.Run(t, p, runbooktest.FailAfterEffectAttempt("shift", 1, nil), runbooktest.Fail("later", nil))
		h.AssertStatus(runbook.StatusRolledBack)
		h.AssertCompensated("shift")
		assert.Equal(t, 1, h.Recorder.Retries("shift"))
		assert.Equal(t, tc.want, l.get(), "checkpoint %v", tc.checkpoint)
		assert.Equal(t, 3, l.applied, "two attempts and the rollback reached the load balancer")
	}
}

// Every attempt loses its answer: the step fails without outputs, and its
// own rollback restores from the checkpoint.
func TestFailAfterEffectEveryAttempt(t *testing.T) {
	l := &lb{weights: "100/0"}
	h := runbooktest.Run(t, shiftPlan(t, l, true, nil), runbooktest.FailAfterEffect("shift", nil))
	h.AssertStatus(runbook.StatusRolledBack)
	h.AssertErrorIs(runbooktest.ErrInjected)
	h.AssertExecuted("shift")
	h.AssertCompensated("shift")
	assert.Equal(t, "100/0", l.get())
	assert.Equal(t, 2, l.applied, "the change, then the rollback")
}

// The answer never comes: the step's timeout on the simulated clock ends
// the attempt after the change, and the rollback undoes it.
func TestNoAnswer(t *testing.T) {
	l := &lb{weights: "100/0"}
	p := shiftPlan(t, l, true, func(s *runbook.Step) { s.Timeout = 5 * time.Minute })
	h := runbooktest.Run(t, p, runbooktest.NoAnswer("shift"))
	h.AssertStatus(runbook.StatusRolledBack)
	h.AssertErrorIs(runbook.ErrTimeout)
	h.AssertCompensated("shift")
	assert.Equal(t, 5*time.Minute, h.Elapsed())
	assert.Equal(t, "100/0", l.get())
	assert.Equal(t, 2, l.applied)

	// Without a timeout the wait ends after NoAnswerAfter.
	l = &lb{weights: "100/0"}
	h = runbooktest.Run(t, shiftPlan(t, l, true, nil), runbooktest.NoAnswer("shift"))
	h.AssertErrorIs(runbook.ErrTimeout)
	assert.Equal(t, runbooktest.NoAnswerAfter, h.Elapsed())
	assert.Equal(t, "100/0", l.get())

	// Only the first attempt: the retry answers.
	l = &lb{weights: "100/0"}
	p = shiftPlan(t, l, true, func(s *runbook.Step) {
		s.Timeout = time.Minute
		s.Retry = runbook.Retry{Attempts: 2, Delay: time.Second}
	})
	h = runbooktest.Run(t, p, runbooktest.NoAnswerAttempt("shift", 1))
	h.AssertStatus(runbook.StatusSucceeded)
	assert.Equal(t, "90/10", l.get())
	assert.Equal(t, time.Minute+time.Second, h.Elapsed())
}

// Latency comes before the call: past the step's timeout, nothing changed.
func TestLatency(t *testing.T) {
	l := &lb{weights: "100/0"}
	p := shiftPlan(t, l, true, func(s *runbook.Step) { s.Timeout = 5 * time.Minute })
	h := runbooktest.Run(t, p, runbooktest.Latency("shift", 10*time.Minute))
	h.AssertStatus(runbook.StatusRolledBack)
	h.AssertErrorIs(runbook.ErrTimeout)
	assert.Equal(t, 0, l.applied)

	l = &lb{weights: "100/0"}
	h = runbooktest.Run(t, shiftPlan(t, l, true, nil), runbooktest.Latency("shift", 10*time.Minute))
	h.AssertStatus(runbook.StatusSucceeded)
	assert.Equal(t, 10*time.Minute, h.Elapsed())
}
