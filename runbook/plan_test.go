package runbook_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
)

func TestValidation(t *testing.T) {
	w := &world{}
	okStep := func(name string) runbook.Step { return w.step(name) }
	probe := constProbe(1.0)
	tests := []struct {
		name string
		plan func(b *runbook.Builder)
		want []string // every error, in order
	}{
		{"duplicate names", func(b *runbook.Builder) {
			b.Step(okStep("a")).Step(okStep("b")).Step(okStep("a"))
		}, []string{`a: duplicate name: also declared as node #1; names must be unique across steps and gates`}},
		{"unknown dependency with did-you-mean", func(b *runbook.Builder) {
			s := okStep("migrate")
			s.DependsOn = []string{"bakup"}
			b.Step(okStep("backup")).Step(s)
		}, []string{`migrate: depends on unknown node "bakup" (did you mean "backup"?)`}},
		{"unknown dependency without a close name", func(b *runbook.Builder) {
			s := okStep("a")
			s.DependsOn = []string{"completely_different"}
			b.Step(s)
		}, []string{`a: depends on unknown node "completely_different"`}},
		{"cycle", func(b *runbook.Builder) {
			s := okStep("a")
			s.DependsOn = []string{"c"}
			b.Step(s).Step(okStep("b")).Step(okStep("c"))
		}, []string{`a: dependency cycle: a -> b -> c -> a`}},
		{"self dependency", func(b *runbook.Builder) {
			s := okStep("a")
			s.DependsOn = []string{"a"}
			b.Step(s)
		}, []string{`a: depends on itself`}},
		{"forward reference", func(b *runbook.Builder) {
			s := okStep("a")
			s.Uses = []string{"b"}
			b.Step(s).Step(okStep("b"))
		}, []string{`a: reads outputs of "b", which comes later in the plan: a reference may only point backwards`}},
		{"reference to an unknown step", func(b *runbook.Builder) {
			s := okStep("restore")
			s.Uses = []string{"backups"}
			b.Step(okStep("backup")).Step(s)
		}, []string{`restore: reads outputs of unknown step "backups" (did you mean "backup"?)`}},
		{"mutating step without rollback or irreversible", func(b *runbook.Builder) {
			b.Step(runbook.Step{Name: "rm", Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil })})
		}, []string{`rm: step changes the world but has no rollback: add a rollback, or mark it irreversible`}},
		{"step without action", func(b *runbook.Builder) {
			b.Step(runbook.Step{Name: "x", Irreversible: true})
		}, []string{`x: step has no action`}},
		{"gate without checks", func(b *runbook.Builder) {
			b.Gate(runbook.Gate{Name: "g", Kind: runbook.GateSoak, Duration: time.Minute})
		}, []string{`g: soak gate has no checks`}},
		{"check without probe or condition", func(b *runbook.Builder) {
			b.Gate(runbook.Gate{Name: "g", Kind: runbook.GateCheck, Checks: []runbook.Check{{Name: "c"}}})
		}, []string{`g: check c has neither a success nor a failure condition`, `g: check c has no probe`}},
		{"soak without duration", func(b *runbook.Builder) {
			b.Gate(runbook.Gate{Name: "g", Kind: runbook.GateSoak, Checks: []runbook.Check{{Name: "c", Probe: probe, Success: below(1)}}})
		}, []string{`g: soak gate needs a duration or a count`}},
		{"unknown gate kind and policy", func(b *runbook.Builder) {
			b.Gate(runbook.Gate{Name: "g", Kind: "vibes", OnFail: "shrug"})
		}, []string{`g: unknown gate kind "vibes": use check, soak, approval or guard`, `g: unknown on_fail policy "shrug": use rollback, abort, pause or continue`}},
		{"approval without settings", func(b *runbook.Builder) {
			b.Gate(runbook.Gate{Name: "g", Kind: runbook.GateApproval})
		}, []string{`g: approval gate has no approval settings`}},
		{"bad no_data policy and negative limits", func(b *runbook.Builder) {
			b.Gate(runbook.Gate{Name: "g", Kind: runbook.GateCheck, Checks: []runbook.Check{{Name: "c", Probe: probe, Success: below(1), NoData: "maybe", FailureLimit: -1}}})
		}, []string{`g: check c: limits and counts must not be negative`, `g: check c: unknown no_data policy "maybe": use inconclusive, fail, pass or wait`}},
		{"guard span naming an unknown node", func(b *runbook.Builder) {
			b.Gate(runbook.Gate{Name: "g", Kind: runbook.GateGuard, From: "traffic", Checks: []runbook.Check{{Name: "c", Probe: probe, Success: below(1)}}})
			b.Step(okStep("traffic_10"))
		}, []string{`g: guard span names unknown node "traffic" (did you mean "traffic_10"?)`}},
		{"guard span that ends before it starts", func(b *runbook.Builder) {
			b.Step(okStep("a")).Step(okStep("b"))
			b.Gate(runbook.Gate{Name: "g", Kind: runbook.GateGuard, From: "b", Until: "a", Checks: []runbook.Check{{Name: "c", Probe: probe, Success: below(1)}}})
		}, []string{`g: guard span ends (at "a") before it starts (after "b"): Until must come after From`}},
		{"nameless runbook and node", func(b *runbook.Builder) {
			b.Step(runbook.Step{Irreversible: true, Action: readOnly{}})
		}, []string{`the runbook has no name`, `node #1: has no name`}},
		{"several errors, joined in declaration order", func(b *runbook.Builder) {
			s := okStep("c")
			s.DependsOn = []string{"zz"}
			b.Step(runbook.Step{Name: "a", Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil })})
			b.Gate(runbook.Gate{Name: "b", Kind: runbook.GateCheck})
			b.Step(s)
			b.Step(okStep("a"))
		}, []string{
			`a: step changes the world but has no rollback: add a rollback, or mark it irreversible`,
			`b: check gate has no checks`,
			`c: depends on unknown node "zz"`,
			`a: duplicate name: also declared as node #1; names must be unique across steps and gates`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "validate"
			if strings.HasPrefix(tc.name, "nameless") {
				name = ""
			}
			_, err := build(name, tc.plan)
			require.Error(t, err)
			assert.ErrorIs(t, err, runbook.ErrInvalidPlan)
			var pe *runbook.PlanError
			assert.ErrorAs(t, err, &pe)
			assert.Equal(t, strings.Join(tc.want, "\n"), err.Error())
			// Stable: the same plan gives the same text every time.
			for range 3 {
				_, again := build(name, tc.plan)
				assert.Equal(t, err.Error(), again.Error())
			}
		})
	}
}

func TestValidPlanShapes(t *testing.T) {
	w := &world{}
	p, err := build("shapes", func(b *runbook.Builder) {
		b.Describe("demo").Window(4 * time.Hour)
		b.Phase("prepare", func(b *runbook.Builder) {
			b.Step(runbook.Step{Name: "baseline", Action: readOnly{}})
			b.Step(w.step("backup", with(func(s *runbook.Step) { s.Budget = 10 * time.Minute; s.Timeout = 20 * time.Minute })))
		})
		b.ParallelPhase("deploy", func(b *runbook.Builder) {
			b.Step(w.step("backend"))
			b.Step(w.step("frontend"))
		})
		b.Gate(runbook.Gate{Name: "watch", Kind: runbook.GateSoak, Duration: 15 * time.Minute, Uses: []string{"baseline"},
			Checks: []runbook.Check{{Name: "p95", Probe: constProbe(1.0), Success: below(2), Threshold: "< 2"}}})
		b.Step(w.step("restore_check", with(func(s *runbook.Step) { s.Uses = []string{"backup"}; s.Irreversible = true })))
	})
	require.NoError(t, err)
	n, ok := p.Node("watch")
	require.True(t, ok)
	assert.Equal(t, []string{"backend", "baseline", "frontend"}, sortedCopy(n.Deps))
	fe, _ := p.Node("frontend")
	assert.Equal(t, []string{"backup"}, fe.Deps)
	assert.Equal(t, "deploy", fe.Phase)
	assert.Equal(t, 10*time.Minute, p.Budget())
	assert.Len(t, p.Rollbacks("backup"), 1)
	dump := p.Dump()
	for _, want := range []string{`runbook "shapes"`, `window 4h0m0s`, `step "backup"`, `  timeout 20m0s`, `  rollback[0] (go func)`,
		`  parallel "deploy"`, `gate "watch"`, `  gate_kind soak`, `check "p95" threshold="< 2" success=true failure=false`, `flags read_only`} {
		assert.Contains(t, dump, want)
	}
	again, err := build("shapes", func(b *runbook.Builder) {
		b.Describe("demo").Window(4 * time.Hour)
		b.Phase("prepare", func(b *runbook.Builder) {
			b.Step(runbook.Step{Name: "baseline", Action: readOnly{}})
			b.Step(w.step("backup", with(func(s *runbook.Step) { s.Budget = 10 * time.Minute; s.Timeout = 20 * time.Minute })))
		})
	})
	require.NoError(t, err)
	assert.NotEqual(t, p.Hash(), again.Hash())
	assert.Len(t, p.Hash(), 64)
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

type described struct {
	readOnly
	d runbook.Description
}

func (d described) Describe() runbook.Description { return d.d }

func TestInterceptKeepsShapeAndHash(t *testing.T) {
	natural := naturalAction{}
	p := mustBuild("intercept", func(b *runbook.Builder) {
		b.Step(runbook.Step{Name: "upgrade", Action: natural})
		b.Step(runbook.Step{Name: "probe", Action: described{d: runbook.Description{Provider: "http.api", Action: "get"}}})
		b.Gate(soak("watch", runbook.Check{Name: "c", Probe: constProbe(0.5), Success: below(1)}))
	})
	var wrapped []string
	q := p.Intercept(runbook.Interceptor{
		Action: func(n *runbook.Node, a runbook.Action) runbook.Action {
			wrapped = append(wrapped, n.Name)
			return runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
				return nil, errors.New("intercepted")
			})
		},
		Check: func(n *runbook.Node, i int, c runbook.Check) runbook.Check {
			c.Probe = constProbe(5.0)
			return c
		},
	})
	assert.Equal(t, p.Hash(), q.Hash())
	assert.Equal(t, p.Dump(), q.Dump())
	assert.Equal(t, []string{"upgrade", "probe"}, wrapped)
	assert.Len(t, q.Rollbacks("upgrade"), 1, "the natural rollback survives the wrapping")
	// The original is untouched.
	n, _ := p.Node("upgrade")
	assert.Equal(t, natural, n.Step.Action)
	res, err := (&runbook.Executor{Clock: runbook.NewSimClock(t0)}).Run(context.Background(), q, runbook.RunOptions{})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
}

type naturalAction struct{}

func (naturalAction) Do(context.Context, *runbook.Env) (runbook.Outputs, error) {
	return runbook.Outputs{"previous": "0.2.9"}, nil
}
func (naturalAction) NaturalRollback() runbook.Rollback {
	return runbook.RollbackFunc(func(context.Context, *runbook.Env) error { return nil })
}
