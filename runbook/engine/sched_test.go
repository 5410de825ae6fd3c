package engine_test

import (
	"slices"
	"testing"

	"github.com/handrail-dev/handrail/runbook/engine"
)

// drain takes every node Next gives now.
func drain(s *engine.Scheduler) []int {
	var out []int
	for {
		i, ok := s.Next()
		if !ok {
			return out
		}
		out = append(out, i)
	}
}

func want(t *testing.T, what string, got, want []int) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func TestSchedulerOrderAndParallelism(t *testing.T) {
	// 0 -> {1, 2, 3} -> 4 (needs 1 and 3)
	nodes := []engine.Node{{Until: -1}, {Deps: []int{0}, Until: -1}, {Deps: []int{0}, Until: -1}, {Deps: []int{0}, Until: -1}, {Deps: []int{3, 1}, Until: -1}}
	s := engine.NewScheduler(nodes, nil, 2)
	want(t, "start", drain(s), []int{0})
	if !s.Lone() {
		t.Fatal("a lone node is not reported lone")
	}
	want(t, "spans", s.Ended(0, true), nil)
	want(t, "after 0, two at most, lowest index first", drain(s), []int{1, 2})
	if s.Lone() || s.Running() != 2 {
		t.Fatalf("lone %v running %d", s.Lone(), s.Running())
	}
	s.Ended(2, true)
	want(t, "a slot frees", drain(s), []int{3})
	s.Ended(3, true)
	want(t, "4 still waits for 1", drain(s), nil)
	s.Ended(1, true)
	want(t, "then 4", drain(s), []int{4})
	s.Ended(4, true)
	if finished, _ := s.Drained(); !finished {
		t.Fatal("not finished")
	}
}

func TestSchedulerFailureAndStop(t *testing.T) {
	nodes := []engine.Node{{Until: -1}, {Until: -1}, {Deps: []int{0}, Until: -1}}
	s := engine.NewScheduler(nodes, nil, 10)
	want(t, "start", drain(s), []int{0, 1})
	s.Ended(0, false)
	want(t, "a failed node's dependents never start", drain(s), nil)
	if finished, end := s.Drained(); finished || end {
		t.Fatalf("drained %v %v with 1 running", finished, end)
	}
	s.Stop()
	s.Ended(1, true)
	want(t, "stopped", drain(s), nil)
	if finished, _ := s.Drained(); !finished {
		t.Fatal("not finished")
	}
}

func TestSchedulerGuards(t *testing.T) {
	// 0; guard 1 from 0 until 3; 2 after 0; 3 after 2; guard 4 from 0 to
	// the end of the run.
	nodes := []engine.Node{{Until: -1}, {Deps: []int{0}, Guard: true, Until: 3}, {Deps: []int{0}, Until: -1},
		{Deps: []int{2}, Until: -1}, {Deps: []int{0}, Guard: true, Until: -1}}
	s := engine.NewScheduler(nodes, nil, 1)
	want(t, "start", drain(s), []int{0})
	s.Ended(0, true)
	want(t, "guards first, taking no slot", drain(s), []int{1, 4, 2})
	if s.Lone() {
		t.Fatal("lone with guards running")
	}
	s.Ended(2, true)
	want(t, "next", drain(s), []int{3})
	want(t, "3 ends guard 1's span", s.Ended(3, true), []int{1})
	if finished, end := s.Drained(); finished || !end {
		t.Fatalf("only guards left: drained %v, end spans %v", finished, end)
	}
	s.Ended(1, true)
	s.Ended(4, true)
	if finished, _ := s.Drained(); !finished {
		t.Fatal("not finished")
	}
	// A stopped walk with only a guard running ends its span.
	s = engine.NewScheduler(nodes, nil, 1)
	drain(s)
	s.Ended(0, true)
	drain(s)
	s.Stop()
	s.Ended(2, false)
	if finished, end := s.Drained(); finished || !end {
		t.Fatalf("stopped with guards: drained %v, end spans %v", finished, end)
	}
}

func TestSchedulerResume(t *testing.T) {
	// 0 and 1 are done: 2 (after 0) and 3 (after 1 and 2) are left.
	nodes := []engine.Node{{Until: -1}, {Until: -1}, {Deps: []int{0}, Until: -1}, {Deps: []int{1, 2}, Until: -1}}
	s := engine.NewScheduler(nodes, []bool{true, true, false, false}, 4)
	want(t, "start", drain(s), []int{2})
	s.Ended(2, true)
	want(t, "next", drain(s), []int{3})
}

func TestCompensationOrder(t *testing.T) {
	want(t, "order", engine.CompensationOrder([]int{7, 9}, []int{0, 3, 2}), []int{9, 7, 2, 3, 0})
	want(t, "empty", engine.CompensationOrder(nil, nil), []int{})
}

func TestCompensations(t *testing.T) {
	plan := []engine.Undo{
		{Name: "backup", Rollbacks: 1},
		{Name: "gate"},
		{Name: "migrate", Irreversible: true},
		{Name: "deploy", Rollbacks: 2, Irreversible: true},
		{Name: "notify"},
	}
	node := func(i int) engine.Undo { return plan[i] }
	todo, names, warnings := engine.Compensations([]int{4, 3, 2, 1, 0}, node)
	want(t, "todo", todo, []int{3, 0})
	if !slices.Equal(names, []string{"deploy", "backup"}) {
		t.Errorf("names %q", names)
	}
	// An irreversible step that has a rollback runs it; one without is
	// warned about; a node without a rollback is passed over silently.
	if !slices.Equal(warnings, []string{"migrate: irreversible, not compensated"}) {
		t.Errorf("warnings %q", warnings)
	}
	todo, names, warnings = engine.Compensations(nil, node)
	if todo != nil || names == nil || len(names) != 0 || warnings != nil {
		t.Errorf("empty: %v %#v %v", todo, names, warnings)
	}
}
