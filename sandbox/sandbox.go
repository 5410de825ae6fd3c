// Package sandbox wires every standard provider to its stateful in-memory
// fake on one simulated clock: the world `handrail apply --sandbox` and
// `handrail test` run runbooks against, and that Go tests can script and
// inspect ("image 0.3.0 is unhealthy", "after rollback the schema is at
// 014").
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/docker/dockerfake"
	"github.com/handrail-dev/handrail/providers/email/emailfake"
	"github.com/handrail-dev/handrail/providers/http/httpfake"
	"github.com/handrail-dev/handrail/providers/postgres/postgresfake"
	"github.com/handrail-dev/handrail/providers/prometheus/prometheusfake"
	"github.com/handrail-dev/handrail/providers/slack/slackfake"
	"github.com/handrail-dev/handrail/providers/statuspage/statuspagefake"
	"github.com/handrail-dev/handrail/runbook"
)

// World is a whole fake world: one fake per standard provider, all on one
// simulated clock.
type World struct {
	Clock      *runbook.SimClock
	Docker     *dockerfake.World
	Postgres   *postgresfake.World
	HTTP       *httpfake.World
	Prometheus *prometheusfake.World
	Slack      *slackfake.World
	Statuspage *statuspagefake.World
	Email      *emailfake.World
}

// New returns a world whose clock reads start.
func New(start time.Time) *World {
	w := &World{
		Clock:      runbook.NewSimClock(start),
		Docker:     dockerfake.New(),
		Postgres:   postgresfake.New(),
		HTTP:       httpfake.New(),
		Prometheus: prometheusfake.New(),
		Slack:      slackfake.New(),
		Statuspage: statuspagefake.New(""),
		Email:      emailfake.New(),
	}
	w.HTTP.SetClock(w.Clock)
	w.Prometheus.SetClock(w.Clock)
	w.Slack.SetClock(w.Clock)
	w.Statuspage.SetClock(w.Clock)
	return w
}

// Registry returns the providers of the world, for hcl.Load.
func (w *World) Registry() (*provider.Registry, error) {
	return provider.NewRegistry(
		w.Docker.Provider(),
		w.Postgres.Provider(),
		w.HTTP.Provider(),
		w.Prometheus.Provider(),
		w.Slack.Provider(),
		w.Statuspage.Provider(),
		w.Email.Provider(),
	)
}

// Observer returns the observer the executor must feed, so that fakes
// scripted relative to a node ("at minute 9 of the soak") know when nodes
// start.
func (w *World) Observer() runbook.Observer {
	return runbook.MultiObserver{w.HTTP, w.Prometheus}
}

// ErrInjected is the cause of every failure injected with [Fail].
var ErrInjected = errors.New("injected failure")

// Fail returns a copy of plan in which each named node fails: a step's
// action returns [ErrInjected] (not retried), a check, soak or guard gate
// breaches at its first sample, an approval gate is denied. Names may be
// written bare or as step.NAME / gate.NAME.
func Fail(plan *runbook.Plan, names []string) (*runbook.Plan, error) {
	want := map[string]bool{}
	for _, n := range names {
		n = strings.TrimPrefix(strings.TrimPrefix(n, "step."), "gate.")
		if _, ok := plan.Node(n); !ok {
			return nil, fmt.Errorf("--fail %s: no step or gate of that name in %s", n, plan.Name)
		}
		want[n] = true
	}
	if len(want) == 0 {
		return plan, nil
	}
	return plan.Intercept(runbook.Interceptor{
		Action: func(n *runbook.Node, a runbook.Action) runbook.Action {
			if !want[n.Name] {
				return a
			}
			return injected{a: a, node: n.Name}
		},
		Check: func(n *runbook.Node, _ int, c runbook.Check) runbook.Check {
			if !want[n.Name] {
				return c
			}
			c.Success = nil
			c.Failure = runbook.ConditionFunc(func(*runbook.Env, any) (bool, error) { return true, nil })
			c.FailureLimit, c.Tolerate, c.DryRun = 0, 0, false
			return c
		},
	}), nil
}

type injected struct {
	a    runbook.Action
	node string
}

func (i injected) Do(_ context.Context, _ *runbook.Env) (runbook.Outputs, error) {
	return nil, runbook.Permanent(fmt.Errorf("%w at %s (--fail)", ErrInjected, i.node))
}

func (i injected) Describe() runbook.Description { return runbook.Describe(i.a) }

// FailApprovals wraps an approver so that the approval gates named in names
// are denied ("the Go/No-Go approver says no") and every other request goes
// to next.
func FailApprovals(next runbook.Approver, names []string) runbook.Approver {
	deny := map[string]bool{}
	for _, n := range names {
		deny[strings.TrimPrefix(strings.TrimPrefix(n, "step."), "gate.")] = true
	}
	return runbook.ApproverFunc(func(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
		if deny[req.Node] && req.Kind == "approval" {
			return runbook.Decision{Approved: false, By: "sandbox --fail", Comment: "denied by --fail"}, nil
		}
		return next.Approve(ctx, req)
	})
}

// ForRunbook returns the world to rehearse the runbook at path in: a new
// world whose clock reads start. (The world setup a runbook's test file
// declares is applied by the scenario runner.)
func ForRunbook(path string, start time.Time) (*World, error) {
	_ = path
	return New(start), nil
}
