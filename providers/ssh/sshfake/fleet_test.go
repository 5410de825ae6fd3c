package sshfake_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/providers/ssh/sshfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/runbooktest"
)

var fleetT0 = time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)

// ran returns the commands that ran on host (reached it), in order.
func ran(w *sshfake.World, host string) []string {
	var out []string
	for _, c := range w.Calls() {
		if c.Host == host && c.Err == nil {
			out = append(out, c.Command)
		}
	}
	return out
}

// ranEverywhere returns ran for each host.
func ranEverywhere(w *sshfake.World, hosts ...string) map[string][]string {
	out := map[string][]string{}
	for _, h := range hosts {
		out[h] = ran(w, h)
	}
	return out
}

var fleetHosts = []string{"web-1", "web-2", "web-3", "web-4"}

func deployStep(t *testing.T, w *sshfake.World, name string, opts ssh.ExecOptions, step runbook.Step) runbook.Step {
	t.Helper()
	if opts.Command == nil {
		opts.Command = []string{"deploy", "v2"}
	}
	if opts.Hosts == nil {
		opts.Hosts = fleetHosts
	}
	if opts.RollbackCommand == nil {
		opts.RollbackCommand = []string{"undeploy", "v2"}
	}
	ex, err := ssh.NewExec(w.Instance("web", "web-1"), opts)
	require.NoError(t, err)
	step.Name, step.Action = name, ex
	return step
}

func boom() runbook.Step {
	return runbook.Step{Name: "boom", Irreversible: true, Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
		return nil, runbook.Permanent(errors.New("boom"))
	})}
}

func TestFleetRetryRunsOnlyTheHostsThatFailed(t *testing.T) {
	w := sshfake.New()
	// web-2 refuses the connection once, web-3 runs the command and fails
	// once.
	w.On("web-2", "deploy", "...").Fail(fmt.Errorf("%w: connection refused", ssh.ErrConnect)).Times(1)
	w.On("web-3", "deploy", "...").Exit(1).Stderr("disk full").Times(1)
	p, err := runbook.NewBuilder("fleet").
		Step(deployStep(t, w, "deploy", ssh.ExecOptions{MaxParallel: 4}, runbook.Step{Retry: runbook.Retry{Attempts: 2, Delay: time.Second}})).
		Build()
	require.NoError(t, err)
	j := &runbook.MemJournal{}
	res, err := (&runbook.Executor{Clock: runbook.NewSimClock(fleetT0), Journal: j}).Run(context.Background(), p, runbook.RunOptions{RunID: "f1"})
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{
		"web-1": {"deploy v2"},
		"web-2": {"deploy v2"}, // refused the first time: ran once
		"web-3": {"deploy v2", "deploy v2"},
		"web-4": {"deploy v2"},
	}, ranEverywhere(w, fleetHosts...), "the retry ran only on web-2 and web-3, and nothing was undone")
	out := res.Nodes["deploy"].Outputs
	assert.Equal(t, []any{"web-1", "web-2", "web-3", "web-4"}, out["hosts_succeeded"])
	assert.Equal(t, []any{"web-1", "web-2", "web-3", "web-4"}, out["hosts_ran"])
	per := out["hosts"].(map[string]any)
	assert.Equal(t, 1, per["web-1"].(map[string]any)["attempt"], "web-1 kept from the first attempt")
	assert.Equal(t, "succeeded", per["web-1"].(map[string]any)["status"])
	assert.Equal(t, 0, per["web-1"].(map[string]any)["exit_code"])
	assert.Equal(t, 2, per["web-3"].(map[string]any)["attempt"])
	assert.Equal(t, 2, res.Nodes["deploy"].Attempts)
}

func TestFleetCompensatesExactlyTheHostsChangedAcrossAttempts(t *testing.T) {
	w := sshfake.New()
	// web-3: the command fails after connecting (it may have changed the
	// host), then the host is unreachable for the retry; web-4 never
	// starts (max_parallel 1 stops at the failure).
	w.On("web-3", "deploy", "...").Fail(fmt.Errorf("%w: no route to host", ssh.ErrConnect)).Times(1)
	w.On("web-3", "deploy", "...").Exit(1).Times(1)
	p, err := runbook.NewBuilder("fleet").
		Step(deployStep(t, w, "deploy", ssh.ExecOptions{MaxParallel: 1}, runbook.Step{Retry: runbook.Retry{Attempts: 2, Delay: time.Second}})).
		Build()
	require.NoError(t, err)
	res, err := (&runbook.Executor{Clock: runbook.NewSimClock(fleetT0), Journal: &runbook.MemJournal{}}).Run(context.Background(), p, runbook.RunOptions{})
	require.Error(t, err)
	assert.ErrorIs(t, err, ssh.ErrBatchFailed)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, map[string][]string{
		"web-1": {"deploy v2", "undeploy v2"},
		"web-2": {"deploy v2", "undeploy v2"},
		"web-3": {"deploy v2", "undeploy v2"},
		"web-4": nil,
	}, ranEverywhere(w, fleetHosts...), "each host changed in either attempt is undone once, by the step's rollback; web-4 never ran")
	assert.Contains(t, err.Error(), "web-1, web-2, web-3 keep the change")
}

func TestFleetWithoutItsOwnRollbackOnFailureCompensatesTheBatch(t *testing.T) {
	// An explicit rollback that is not idempotent does not run for the
	// failed step: the batch undoes its hosts itself, and a retry then
	// runs everywhere again.
	w := sshfake.New()
	w.On("web-3", "deploy", "...").Exit(1).Times(1)
	rb, err := ssh.NewExec(w.Instance("web", "web-1"), ssh.ExecOptions{Command: []string{"undeploy", "v2"}})
	require.NoError(t, err)
	p, err := runbook.NewBuilder("fleet").
		Step(deployStep(t, w, "deploy", ssh.ExecOptions{MaxParallel: 4}, runbook.Step{Retry: runbook.Retry{Attempts: 2, Delay: time.Second}, Rollbacks: []runbook.Rollback{rb}})).
		Build()
	require.NoError(t, err)
	_, err = (&runbook.Executor{Clock: runbook.NewSimClock(fleetT0), Journal: &runbook.MemJournal{}}).Run(context.Background(), p, runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"deploy v2", "undeploy v2", "deploy v2"}, ran(w, "web-1"))
	assert.Equal(t, []string{"deploy v2", "undeploy v2", "deploy v2"}, ran(w, "web-3"), "failed after connecting: undone too")
}

// deadJournal stores records until the first one stop matches (which is
// stored) and then refuses every append, calling died once: a process
// that died right after that record.
type deadJournal struct {
	runbook.Journal
	mu   sync.Mutex
	stop func(runbook.Record) bool
	died func()
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
			d.died()
			return d.Journal.Append(ctx, recs[:i+1]...)
		}
	}
	return d.Journal.Append(ctx, recs...)
}

// crashAt runs p until the journal records host in state, then "kills" the
// process: nothing after is journaled, and nothing after reaches a host
// (every host is down until the test brings them back).
func crashAt(t *testing.T, w *sshfake.World, p *runbook.Plan, j runbook.Journal, run, host, state string) {
	t.Helper()
	dj := &deadJournal{Journal: j,
		stop: func(r runbook.Record) bool {
			v, _ := r.Outputs[host].(map[string]any)
			return r.Kind == runbook.RecProgress && v["state"] == state
		},
		died: func() {
			for _, h := range fleetHosts {
				w.Down(h, true)
			}
		}}
	_, err := (&runbook.Executor{Clock: runbook.NewSimClock(fleetT0), Journal: dj}).Run(context.Background(), p, runbook.RunOptions{RunID: run})
	require.Error(t, err)
	require.True(t, dj.dead, "the run never recorded %s %s", host, state)
	for _, h := range fleetHosts {
		w.Down(h, false)
	}
}

func TestFleetCrashBetweenHostsThenResume(t *testing.T) {
	for _, tc := range []struct {
		name  string
		step  runbook.Step
		appr  *runbooktest.Approver
		asked []string
	}{
		{"idempotent", runbook.Step{Idempotent: true}, nil, nil},
		{"in doubt, the approver chooses rerun", runbook.Step{}, runbooktest.NewApprover().Choose("deploy", "rerun"), []string{"deploy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := sshfake.New()
			p, err := runbook.NewBuilder("fleet").Step(deployStep(t, w, "deploy", ssh.ExecOptions{MaxParallel: 1}, tc.step)).Build()
			require.NoError(t, err)
			j := &runbook.MemJournal{}
			crashAt(t, w, p, j, "f2", "web-2", "succeeded")
			require.Equal(t, []string{"deploy v2"}, ran(w, "web-2"))
			require.Nil(t, ran(w, "web-3"))

			ex := &runbook.Executor{Clock: runbook.NewSimClock(fleetT0.Add(time.Hour)), Journal: j}
			if tc.appr != nil {
				ex.Approver = tc.appr
			}
			res, err := ex.Resume(context.Background(), p, "f2", runbook.RunOptions{})
			require.NoError(t, err)
			assert.Equal(t, map[string][]string{
				"web-1": {"deploy v2"},
				"web-2": {"deploy v2"},
				"web-3": {"deploy v2"},
				"web-4": {"deploy v2"},
			}, ranEverywhere(w, fleetHosts...), "the resumed run went on from web-3")
			assert.Equal(t, []any{"web-1", "web-2", "web-3", "web-4"}, res.Nodes["deploy"].Outputs["hosts_succeeded"])
			if tc.appr != nil {
				assert.Equal(t, tc.asked, tc.appr.AskedNodes())
			}
		})
	}
}

func TestFleetCrashThenRollbackUndoesOnlyHostsItStarted(t *testing.T) {
	w := sshfake.New()
	p, err := runbook.NewBuilder("fleet").Step(deployStep(t, w, "deploy", ssh.ExecOptions{MaxParallel: 1}, runbook.Step{})).Build()
	require.NoError(t, err)
	j := &runbook.MemJournal{}
	// The process dies once it has recorded that it starts on web-2:
	// whether the command ran there is unknown.
	crashAt(t, w, p, j, "f3", "web-2", "running")
	res, err := (&runbook.Executor{Clock: runbook.NewSimClock(fleetT0.Add(time.Hour)), Journal: j}).Rollback(context.Background(), p, "f3", runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, map[string][]string{
		"web-1": {"deploy v2", "undeploy v2"},
		"web-2": {"undeploy v2"}, // in doubt: undone (rollback commands are idempotent)
		"web-3": nil,
		"web-4": nil,
	}, ranEverywhere(w, fleetHosts...))
	recs, err := j.Load(context.Background(), "f3")
	require.NoError(t, err)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	assert.Equal(t, "compensated", st.Progress["deploy"]["web-1"].(map[string]any)["state"])
	assert.Equal(t, false, st.Progress["deploy"]["web-2"].(map[string]any)["touched"])
}

func TestFleetResumeWithEditedCommandAndHosts(t *testing.T) {
	w := sshfake.New()
	p1, err := runbook.NewBuilder("fleet").Step(deployStep(t, w, "deploy", ssh.ExecOptions{MaxParallel: 1}, runbook.Step{Idempotent: true})).Build()
	require.NoError(t, err)
	j := &runbook.MemJournal{}
	crashAt(t, w, p1, j, "f4", "web-2", "succeeded")
	// The runbook is edited: a new command, and web-1 leaves the fleet.
	p2, err := runbook.NewBuilder("fleet").
		Step(deployStep(t, w, "deploy", ssh.ExecOptions{MaxParallel: 1, Command: []string{"deploy", "v2.1"}, Hosts: []string{"web-2", "web-3", "web-4"}}, runbook.Step{Idempotent: true})).
		Step(boom()).
		Build()
	require.NoError(t, err)
	res, err := (&runbook.Executor{Clock: runbook.NewSimClock(fleetT0.Add(time.Hour)), Journal: j}).Resume(context.Background(), p2, "f4", runbook.RunOptions{By: "oncall", Reason: "v2.1 fixes v2"})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, map[string][]string{
		"web-1": {"deploy v2", "undeploy v2"},                // not listed any more, still undone
		"web-2": {"deploy v2", "deploy v2.1", "undeploy v2"}, // a changed command is not done yet
		"web-3": {"deploy v2.1", "undeploy v2"},
		"web-4": {"deploy v2.1", "undeploy v2"},
	}, ranEverywhere(w, fleetHosts...))
	// The rollback recorded each host it undid, after the step's own
	// progress was forgotten on its success.
	recs, err := j.Load(context.Background(), "f4")
	require.NoError(t, err)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	require.Len(t, st.Progress["deploy"], 4)
	for _, h := range fleetHosts {
		assert.Equal(t, "compensated", st.Progress["deploy"][h].(map[string]any)["state"], h)
	}
}

func TestFleetReadOnlyRunsEverywhereAgain(t *testing.T) {
	w := sshfake.New()
	w.On("web-3", "check", "...").Exit(1).Times(1)
	ex, err := ssh.NewExec(w.Instance("web", "web-1"), ssh.ExecOptions{Command: []string{"check"}, Hosts: fleetHosts, ReadOnly: true})
	require.NoError(t, err)
	p, err := runbook.NewBuilder("fleet").Step(runbook.Step{Name: "check", Action: ex, Retry: runbook.Retry{Attempts: 2}}).Build()
	require.NoError(t, err)
	j := &runbook.MemJournal{}
	_, err = (&runbook.Executor{Clock: runbook.NewSimClock(fleetT0), Journal: j}).Run(context.Background(), p, runbook.RunOptions{RunID: "f5"})
	require.NoError(t, err)
	assert.Equal(t, []string{"check", "check"}, ran(w, "web-1"), "a check looks at every host again")
	recs, err := j.Load(context.Background(), "f5")
	require.NoError(t, err)
	for _, r := range recs {
		assert.NotEqual(t, runbook.RecProgress, r.Kind)
	}
}

func TestFleetAbortedOrHaltedThenResumedRunsOnlyTheFailedHosts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []runbook.Step
		step   runbook.Step
		status runbook.Status
	}{
		{"on_fail abort", nil, runbook.Step{OnFail: runbook.PolicyAbort}, runbook.StatusAborted},
		{"after the point of no return", []runbook.Step{{Name: "cutover", Irreversible: true, PointOfNoReturn: true,
			Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil })}}, runbook.Step{}, runbook.StatusHalted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := sshfake.New()
			w.Down("web-2", true)
			w.On("web-3", "deploy", "...").Exit(1).Stderr("disk full").Times(1)
			build := func() *runbook.Plan {
				b := runbook.NewBuilder("fleet")
				for _, s := range tc.before {
					b.Step(s)
				}
				p, err := b.Step(deployStep(t, w, "deploy", ssh.ExecOptions{MaxParallel: 4}, tc.step)).Build()
				require.NoError(t, err)
				return p
			}
			p := build()
			j := &runbook.MemJournal{}
			res, err := (&runbook.Executor{Clock: runbook.NewSimClock(fleetT0), Journal: j}).Run(context.Background(), p, runbook.RunOptions{RunID: "f6"})
			require.Error(t, err)
			require.Equal(t, tc.status, res.Status)
			assert.Equal(t, map[string][]string{"web-1": {"deploy v2"}, "web-2": nil, "web-3": {"deploy v2"}, "web-4": {"deploy v2"}},
				ranEverywhere(w, fleetHosts...), "nothing undone: the run stopped for a person")
			assert.Contains(t, err.Error(), "web-1, web-3, web-4 keep the change")

			// The operator brings web-2 back and resumes the same run from
			// the failed step.
			w.Down("web-2", false)
			res, err = (&runbook.Executor{Clock: runbook.NewSimClock(fleetT0.Add(time.Hour)), Journal: j}).Resume(context.Background(), build(), "f6", runbook.RunOptions{From: "deploy"})
			require.NoError(t, err)
			assert.Equal(t, runbook.StatusSucceeded, res.Status)
			assert.Equal(t, map[string][]string{
				"web-1": {"deploy v2"},
				"web-2": {"deploy v2"},
				"web-3": {"deploy v2", "deploy v2"},
				"web-4": {"deploy v2"},
			}, ranEverywhere(w, fleetHosts...), "the resumed run ran on web-2 and web-3 only")
			per := res.Nodes["deploy"].Outputs["hosts"].(map[string]any)
			assert.Equal(t, "succeeded", per["web-1"].(map[string]any)["status"])
			assert.Equal(t, 1, per["web-1"].(map[string]any)["attempt"])
		})
	}
}

func TestFleetResumeWithTheFailedCommandFixed(t *testing.T) {
	// The command has a typo that fails on web-3 only (its shell differs):
	// the run aborts, the runbook is fixed, and the resume runs the fixed
	// command everywhere (web-1, web-2 and web-4 ran the old one). A Go
	// plan's hash does not see the command, so the resume names the step.
	w := sshfake.New()
	w.On("web-3", "deploy", "--verison", "v2").Exit(2).Times(1)
	p1, err := runbook.NewBuilder("fleet").
		Step(deployStep(t, w, "deploy", ssh.ExecOptions{MaxParallel: 4, Command: []string{"deploy", "--verison", "v2"}}, runbook.Step{OnFail: runbook.PolicyAbort})).
		Build()
	require.NoError(t, err)
	j := &runbook.MemJournal{}
	_, err = (&runbook.Executor{Clock: runbook.NewSimClock(fleetT0), Journal: j}).Run(context.Background(), p1, runbook.RunOptions{RunID: "f7"})
	require.Error(t, err)
	p2, err := runbook.NewBuilder("fleet").
		Step(deployStep(t, w, "deploy", ssh.ExecOptions{MaxParallel: 4, Command: []string{"deploy", "--version", "v2"}}, runbook.Step{OnFail: runbook.PolicyAbort})).
		Build()
	require.NoError(t, err)
	res, err := (&runbook.Executor{Clock: runbook.NewSimClock(fleetT0.Add(time.Hour)), Journal: j}).Resume(context.Background(), p2, "f7", runbook.RunOptions{From: "deploy", By: "oncall", Reason: "typo"})
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusSucceeded, res.Status)
	for _, h := range fleetHosts {
		got := ran(w, h)
		require.NotEmpty(t, got, h)
		assert.Equal(t, "deploy --version v2", got[len(got)-1], h)
	}
	assert.Equal(t, []string{"deploy --verison v2", "deploy --version v2"}, ran(w, "web-1"), "a host that ran the old command runs the fixed one")
}
