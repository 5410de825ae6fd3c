package runbook_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
)

// TestNodesCannotChangeThePlan: whatever a caller does to the nodes it is
// handed, the plan's hash, dump and behaviour stay what they were.
func TestNodesCannotChangeThePlan(t *testing.T) {
	var ran []string
	act := func(name string) runbook.Action {
		return runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			ran = append(ran, name)
			return nil, nil
		})
	}
	b := runbook.NewBuilder("nodes")
	b.Step(runbook.Step{Name: "a", Action: act("a"), Irreversible: true, Timeout: time.Minute})
	b.Step(runbook.Step{Name: "b", Action: act("b"), Irreversible: true, DependsOn: []string{"a"}})
	b.Gate(runbook.Gate{Name: "ok", Kind: runbook.GateCheck, Checks: []runbook.Check{{Name: "c", Probe: constProbe(1.0), Success: below(2)}}, DependsOn: []string{"b"}})
	p, err := b.Build()
	require.NoError(t, err)
	hash, dump := p.Hash(), p.Dump()

	for _, n := range p.Nodes() {
		n.Name = "renamed"
		n.Deps = append(n.Deps[:0], "nothing")
		if n.Step != nil {
			n.Step.Action = act("INJECTED")
			n.Step.Timeout = time.Nanosecond
			n.Step.DependsOn = nil
		}
		if n.Gate != nil {
			n.Gate.Checks[0].Success = above(5) // would fail the gate
			n.Gate.Checks = nil
		}
	}
	if n, ok := p.Node("a"); assert.True(t, ok) {
		n.Step.Action = act("INJECTED")
	}

	assert.Equal(t, hash, p.Hash())
	assert.Equal(t, dump, p.Dump())
	nodes := p.Nodes()
	require.Len(t, nodes, 3)
	assert.Equal(t, "a", nodes[0].Name)
	assert.Equal(t, []string{"a"}, nodes[1].Deps)
	assert.Equal(t, time.Minute, nodes[0].Step.Timeout)
	require.Len(t, nodes[2].Gate.Checks, 1)

	ex := &runbook.Executor{Clock: runbook.NewSimClock(time.Unix(0, 0)), Journal: &runbook.MemJournal{}}
	res, err := ex.Run(context.Background(), p, runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusSucceeded, res.Status)
	assert.Equal(t, []string{"a", "b"}, ran, "the plan runs its own actions")
}
