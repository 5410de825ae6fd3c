package crashworld

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// Scenario selects the plan's ending.
type Scenario string

// Scenarios.
const (
	// Success: every node passes.
	Success Scenario = "success"
	// Failure: the last step (smoke tests) fails, so every completed step
	// is compensated.
	Failure Scenario = "failure"
	// Typo: ramp_10 has a typo: it fails before its effect and aborts the
	// run (nothing compensated). The [Success] plan is its fix: resuming
	// the aborted run with it goes on from ramp_10.
	Typo Scenario = "typo"
)

// Hooks let the helper kill the process inside a step, right after its
// side effect and before the executor journals it.
type Hooks struct {
	AfterEffect func(step string)
}

// Step kinds in the plan.
type stepDef struct {
	name, key, to string
	// idempotent steps keep the previous value in the world itself (like a
	// kept old container), so running them again changes nothing.
	idempotent bool
	// list steps append to a comma list; their rollback removes the entry.
	list bool
	// rollbackTo, for non-idempotent set steps, is the value the rollback
	// restores, from its arguments alone (migrate down to 014).
	rollbackTo string
}

var defs = []stepDef{
	{name: "incident_open", key: "incident", to: "open", idempotent: true},
	{name: "maintenance_on", key: "maintenance", to: "on", idempotent: true},
	{name: "backup", key: "backups", to: "backup-0.3.0", list: true},
	{name: "migrate", key: "schema", to: "017", rollbackTo: "014"},
	{name: "deploy_backend", key: "backend", to: "0.3.0", idempotent: true},
	{name: "deploy_ml", key: "ml-service", to: "0.3.0", idempotent: true},
	{name: "deploy_mqtt", key: "mqtt-bridge", to: "0.3.0", idempotent: true},
	{name: "deploy_frontend", key: "frontend", to: "0.3.0", idempotent: true},
	{name: "ramp_10", key: "weights", to: "90/10", idempotent: true},
	{name: "ramp_100", key: "weights", to: "0/100", idempotent: true},
	{name: "maintenance_off", key: "maintenance", to: "off", rollbackTo: "on"},
	{name: "notify", key: "notified", to: "release-0.3.0", list: true},
}

// Steps returns the names of the plan's steps that change the world, and
// whether each is idempotent.
func Steps() map[string]bool {
	out := map[string]bool{}
	for _, d := range defs {
		out[d.name] = d.idempotent
	}
	return out
}

// Key returns the world key the named step changes.
func Key(step string) string { return def(step).key }

func def(name string) stepDef {
	for _, d := range defs {
		if d.name == name {
			return d
		}
	}
	panic("crashworld: no step " + name)
}

func (w *World) step(d stepDef, h Hooks) runbook.Step {
	s := runbook.Step{Name: d.name, Idempotent: d.idempotent}
	s.Action = runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
		var prev string
		err := w.Update(func(st *State) {
			st.Do[d.name]++
			switch {
			case d.list:
				st.Values[d.key] = addItem(st.Values[d.key], d.to)
			case d.idempotent:
				// The previous value is kept per step, once.
				pk := "prev:" + d.name
				if _, ok := st.Values[pk]; !ok {
					st.Values[pk] = st.Values[d.key]
				}
				prev = st.Values[pk]
				st.Values[d.key] = d.to
			default:
				prev = st.Values[d.key]
				st.Values[d.key] = d.to
			}
		})
		if err != nil {
			return nil, err
		}
		if h.AfterEffect != nil {
			h.AfterEffect(d.name)
		}
		return runbook.Outputs{"previous": prev, "value": d.to}, nil
	})
	s.Rollbacks = []runbook.Rollback{runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
		self := env.Self()
		return w.Update(func(st *State) {
			st.Undo[d.name]++
			switch {
			case d.list:
				st.Values[d.key] = removeItem(st.Values[d.key], d.to)
			case d.idempotent:
				prev, _ := self["previous"].(string)
				if prev == "" {
					prev = st.Values["prev:"+d.name]
				}
				st.Values[d.key] = prev
				delete(st.Values, "prev:"+d.name)
			default:
				st.Values[d.key] = d.rollbackTo
			}
		})
	})}
	return s
}

func addItem(list, item string) string {
	if list == "" {
		return item
	}
	return list + "," + item
}

func removeItem(list, item string) string {
	parts := strings.Split(list, ",")
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i] == item {
			parts = append(parts[:i], parts[i+1:]...)
			break
		}
	}
	return strings.Join(parts, ",")
}

type readOnly struct{ runbook.ActionFunc }

func (readOnly) ReadOnly() bool { return true }

// Plan builds the release plan on w: 12 steps with rollbacks, a parallel
// group of four deployments, a check gate, a soak gate, an approval gate and
// a read-only smoke test that fails in the [Failure] scenario.
func (w *World) Plan(sc Scenario, h Hooks) (*runbook.Plan, error) {
	probe := func(check func(State) float64) runbook.Probe {
		return runbook.ProbeFunc(func(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
			return runbook.Sample{Value: check(w.State())}, nil
		})
	}
	b := runbook.NewBuilder("crash-release")
	b.Phase("prepare", func(b *runbook.Builder) {
		b.Step(w.step(def("incident_open"), h))
		b.Step(w.step(def("maintenance_on"), h))
		b.Step(w.step(def("backup"), h))
		b.Step(w.step(def("migrate"), h))
	})
	b.ParallelPhase("deploy", func(b *runbook.Builder) {
		for _, n := range []string{"deploy_backend", "deploy_ml", "deploy_mqtt", "deploy_frontend"} {
			b.Step(w.step(def(n), h))
		}
	})
	b.Phase("verify", func(b *runbook.Builder) {
		b.Gate(runbook.Gate{Name: "healthy", Kind: runbook.GateCheck, Every: 10 * time.Second, Timeout: time.Minute,
			Checks: []runbook.Check{{Name: "all_upgraded", Probe: probe(func(s State) float64 {
				n := 0.0
				for _, k := range []string{"backend", "ml-service", "mqtt-bridge", "frontend"} {
					if s.Values[k] == "0.3.0" {
						n++
					}
				}
				return n
			}), Success: runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) { return v.(float64) == 4, nil })}}})
	})
	b.Phase("ramp", func(b *runbook.Builder) {
		ramp := w.step(def("ramp_10"), h)
		if sc == Typo {
			ramp.OnFail = runbook.PolicyAbort
			ramp.Action = runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
				return nil, runbook.Permanent(errors.New("ramp_10: weights 90/1O: not a number"))
			})
		}
		b.Step(ramp)
		b.Gate(runbook.Gate{Name: "soak_10", Kind: runbook.GateSoak, Every: time.Minute, Count: 3,
			Checks: []runbook.Check{{Name: "error_rate", Probe: probe(func(State) float64 { return 0.001 }),
				Success: runbook.ConditionFunc(func(env *runbook.Env, v any) (bool, error) { return v.(float64) < 0.01, nil })}}})
		b.Gate(runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "go to 100%?"}})
		b.Step(w.step(def("ramp_100"), h))
	})
	b.Phase("finish", func(b *runbook.Builder) {
		b.Step(w.step(def("maintenance_off"), h))
		b.Step(w.step(def("notify"), h))
		b.Step(runbook.Step{Name: "smoke", Action: readOnly{func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			if sc == Failure {
				return nil, runbook.Permanent(errors.New("smoke: /work-orders answered 500"))
			}
			return runbook.Outputs{"ok": true}, nil
		}}})
	})
	p, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("crashworld: plan: %w", err)
	}
	return p, nil
}
