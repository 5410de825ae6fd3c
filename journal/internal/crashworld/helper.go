package crashworld

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// Environment of the helper process.
const (
	// EnvMode is "run", "resume" or "rollback"; when set, [Main] runs.
	EnvMode = "HANDRAIL_CRASH_MODE"
	// EnvWorld is the world file.
	EnvWorld = "HANDRAIL_CRASH_WORLD"
	// EnvScenario is a [Scenario].
	EnvScenario = "HANDRAIL_CRASH_SCENARIO"
	// EnvKillAfter is N: the process kills itself with SIGKILL right after
	// the N-th durable journal append (0: never).
	EnvKillAfter = "HANDRAIL_CRASH_KILL_AFTER"
	// EnvKillAfterEffect names a step: the process kills itself right
	// after that step's side effect, before the executor journals it.
	EnvKillAfterEffect = "HANDRAIL_CRASH_KILL_AFTER_EFFECT"
)

// RunID is the id of the run the helper works on.
const RunID = "crash-run"

// Start is the simulated time every helper process starts at.
var Start = time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)

// Report is what the helper prints on stdout when it was not killed.
type Report struct {
	Appends int64          `json:"appends"`
	Status  runbook.Status `json:"status,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// Journal wraps the journal under test: it counts durable appends and kills
// the process after the chosen one.
type Journal struct {
	runbook.Journal
	World     *World
	KillAfter int64
	n         atomic.Int64
	dying     atomic.Bool
}

// Append appends, then dies if this was the chosen boundary.
func (j *Journal) Append(ctx context.Context, recs ...runbook.Record) error {
	return j.append(func() error { return j.Journal.Append(ctx, recs...) })
}

// AppendFenced appends under lease when the wrapped journal fences, then
// dies if this was the chosen boundary.
func (j *Journal) AppendFenced(ctx context.Context, lease runbook.Lease, recs ...runbook.Record) error {
	fj, ok := j.Journal.(runbook.FencedJournal)
	if !ok {
		return j.Append(ctx, recs...)
	}
	return j.append(func() error { return fj.AppendFenced(ctx, lease, recs...) })
}

func (j *Journal) append(do func() error) error {
	if j.dying.Load() {
		select {}
	}
	if err := do(); err != nil {
		return err
	}
	if c := j.n.Add(1); j.KillAfter > 0 && c == j.KillAfter {
		j.die()
	}
	return nil
}

// Appends returns the number of durable appends so far.
func (j *Journal) Appends() int64 { return j.n.Load() }

func (j *Journal) die() {
	j.dying.Store(true)
	if j.World != nil {
		j.World.Freeze()
	}
	// Kill the process without a chance to clean up (SIGKILL on Unix,
	// TerminateProcess on Windows).
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill()
	}
	select {}
}

// Lock forwards to the wrapped journal's run lock.
func (j *Journal) Lock(ctx context.Context, key string) (runbook.Lease, error) {
	l, ok := j.Journal.(runbook.Locker)
	if !ok {
		return nil, fmt.Errorf("crashworld: %T has no run lock", j.Journal)
	}
	return l.Lock(ctx, key)
}

// Approver approves gates and decides in-doubt steps as a person would: by
// looking at the world. A step whose effect is there is "done" (or, when
// rolling back, "compensate"); one without is run again (or skipped). A
// compensation in doubt whose effect is there is "done", else it runs again.
func Approver(w *World) runbook.Approver {
	return runbook.ApproverFunc(func(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
		if req.Kind == "compensation-in-doubt" {
			// A compensation started and never recorded as finished: its
			// effect in the world says whether it took place.
			if w.State().Undo[req.Node] > 0 {
				return runbook.Decision{Approved: true, Choice: "done", By: "operator (the world shows the compensation)"}, nil
			}
			return runbook.Decision{Approved: true, Choice: "compensate", By: "operator (the world shows no compensation)"}, nil
		}
		if req.Kind == "in-doubt" {
			pick := func(prefs ...string) string {
				for _, p := range prefs {
					for _, c := range req.Choices {
						if c == p {
							return p
						}
					}
				}
				return prefs[0]
			}
			if w.State().Do[req.Node] > 0 {
				return runbook.Decision{Approved: true, Choice: pick("done", "compensate"), By: "operator (the world shows the effect)"}, nil
			}
			return runbook.Decision{Approved: true, Choice: pick("rerun", "skip"), By: "operator (the world shows no effect)"}, nil
		}
		return runbook.Decision{Approved: true, By: "operator"}, nil
	})
}

// Main runs the helper with the journal j (opened by the caller on its state
// directory) and writes a [Report] to out. It returns the exit code.
func Main(j runbook.Journal, out io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "crash helper:", err)
		return 2
	}
	w, err := Open(os.Getenv(EnvWorld))
	if err != nil {
		return fail(err)
	}
	killAfter, _ := strconv.ParseInt(os.Getenv(EnvKillAfter), 10, 64)
	cj := &Journal{Journal: j, World: w, KillAfter: killAfter}
	effect := os.Getenv(EnvKillAfterEffect)
	hooks := Hooks{AfterEffect: func(step string) {
		if step == effect {
			cj.die()
		}
	}}
	p, err := w.Plan(Scenario(os.Getenv(EnvScenario)), hooks)
	if err != nil {
		return fail(err)
	}
	ex := &runbook.Executor{Clock: runbook.NewSimClock(Start), Journal: cj, Approver: Approver(w),
		RollbackRetry: &runbook.Retry{Attempts: 1}}
	ctx := context.Background()
	var res *runbook.Result
	switch mode := os.Getenv(EnvMode); mode {
	case "run":
		res, err = ex.Run(ctx, p, runbook.RunOptions{RunID: RunID})
	case "resume":
		res, err = ex.Resume(ctx, p, RunID, runbook.RunOptions{})
	case "rollback":
		res, err = ex.Rollback(ctx, p, RunID, runbook.RunOptions{})
	default:
		return fail(fmt.Errorf("unknown mode %q", mode))
	}
	rep := Report{Appends: cj.Appends()}
	if res != nil {
		rep.Status = res.Status
	}
	if err != nil {
		rep.Error = err.Error()
	}
	if err := json.NewEncoder(out).Encode(rep); err != nil {
		return fail(err)
	}
	return 0
}
