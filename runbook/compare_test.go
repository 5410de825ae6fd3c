package runbook_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/handrail-dev/handrail/runbook"
)

// cmpAction is an action known by its fingerprint; ro makes it read-only.
type cmpAction struct {
	fp string
	ro bool
}

func (a cmpAction) Do(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil }
func (a cmpAction) Fingerprint() string                                       { return a.fp }
func (a cmpAction) ReadOnly() bool                                            { return a.ro }

// cmpRollback is a rollback known by its fingerprint.
type cmpRollback string

func (cmpRollback) Compensate(context.Context, *runbook.Env) error { return nil }
func (r cmpRollback) Fingerprint() string                          { return string(r) }

// cstep is a node of a plan in TestCompareRun: a step that does do and
// is undone by rb (none when empty), or a gate.
type cstep struct {
	name, do, rb   string
	idem, ro, gate bool
}

// cplan builds the steps in sequence: each depends on the one before.
func cplan(t *testing.T, steps ...cstep) *runbook.Plan {
	t.Helper()
	b := runbook.NewBuilder("release")
	for _, s := range steps {
		if s.gate {
			b.Gate(runbook.Gate{Name: s.name, Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: s.do}})
			continue
		}
		st := runbook.Step{Name: s.name, Action: cmpAction{fp: s.do, ro: s.ro}, Idempotent: s.idem}
		if s.rb != "" {
			st.Rollbacks = []runbook.Rollback{cmpRollback(s.rb)}
		} else {
			st.Irreversible = true
		}
		b.Step(st)
	}
	p, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func cmpLines(c *runbook.Comparison) []string {
	var out []string
	for _, n := range c.Nodes {
		line := fmt.Sprintf("%s: %s", n.Node, n.Change)
		if n.Why != "" {
			line += " (" + n.Why + ")"
		}
		if n.Ask {
			line += " ask"
		}
		out = append(out, line)
	}
	return out
}

// TestCompareRun covers the rules of CompareRun one by one: the journal
// holds old run in the states given, and is compared with new.
func TestCompareRun(t *testing.T) {
	a := cstep{name: "a", do: "a1", rb: "undo a1"}
	b := cstep{name: "b", do: "b1", rb: "undo b1"}
	with := func(s cstep, f func(*cstep)) cstep { f(&s); return s }
	aEdited := with(a, func(s *cstep) { s.do = "a2" })
	aNoRb := with(a, func(s *cstep) { s.rb = "" })
	aRbEdited := with(a, func(s *cstep) { s.rb = "undo a2" })
	roA := with(a, func(s *cstep) { s.ro = true })
	roAEdited := with(roA, func(s *cstep) { s.do = "a2" })
	n := cstep{name: "n", do: "n1"}
	ok, failed, running, skipped := runbook.StateSucceeded, runbook.StateFailed, runbook.StateRunning, runbook.StateSkipped
	compensated, compFailed := runbook.StateCompensated, runbook.StateCompensationFailed
	type journal struct {
		nodes       map[string]runbook.NodeState
		compensable []string // default: the succeeded nodes with a rollback
		compensated []string
		compInDoubt []string
		failed      string
		rollingBack bool
		noHashes    bool // written before node hashes were recorded
	}
	tests := []struct {
		name     string
		old, new []cstep
		j        journal
		mode     string
		opts     runbook.RunOptions
		want     []string
		wantMode string
		differs  bool
	}{
		// A rollback: what it compensates, and with which rollback.
		{name: "rollback/kept: nothing to undo", old: []cstep{a}, new: []cstep{aEdited},
			j: journal{nodes: map[string]runbook.NodeState{"a": compensated}, compensated: []string{"a"}}, mode: "rollback",
			want: []string{"a: kept"}, differs: true},
		{name: "rollback/unsafe: edited action", old: []cstep{a}, new: []cstep{aEdited},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}}, mode: "rollback",
			want: []string{"a: unsafe (its action or arguments changed: its new rollback may not undo what ran)"}, differs: true},
		{name: "rollback/harmless edit of a read-only step", old: []cstep{roA}, new: []cstep{roAEdited},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}}, mode: "rollback",
			want: []string{"a: kept (its compensation runs)"}, differs: true},
		{name: "rollback/unsafe: no rollback", old: []cstep{a}, new: []cstep{aNoRb},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}}, mode: "rollback",
			want: []string{"a: unsafe (owes a compensation, and the new plan has no rollback for it)"}, differs: true},
		{name: "rollback/changed rollback", old: []cstep{a}, new: []cstep{aRbEdited},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}}, mode: "rollback",
			want: []string{"a: changed rollback (the new rollback is what runs)"}, differs: true},
		{name: "rollback/compensation runs", old: []cstep{a}, new: []cstep{a},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}}, mode: "rollback",
			want: []string{"a: kept (its compensation runs)"}},
		{name: "rollback/compensation failed", old: []cstep{a}, new: []cstep{aNoRb},
			j: journal{nodes: map[string]runbook.NodeState{"a": compFailed}, compensable: []string{}}, mode: "rollback",
			want: []string{"a: unsafe (owes a compensation, and the new plan has no rollback for it)"}, differs: true},
		{name: "rollback/compensation in doubt", old: []cstep{a}, new: []cstep{aNoRb},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}, compensable: []string{}, compInDoubt: []string{"a"}}, mode: "rollback",
			want: []string{"a: unsafe (owes a compensation, and the new plan has no rollback for it)"}, differs: true},
		{name: "rollback/failed step owes nothing", old: []cstep{a}, new: []cstep{aNoRb},
			j: journal{nodes: map[string]runbook.NodeState{"a": failed}, compensable: []string{"a"}}, mode: "rollback",
			want: []string{"a: kept"}, differs: true},
		{name: "rollback/new node", old: []cstep{a}, new: []cstep{a, n},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}}, mode: "rollback",
			want: []string{"a: kept (its compensation runs)", "n: new (not in the run's plan: a rollback does not run it)"}, differs: true},
		{name: "rollback/a resume of a run rolling back", old: []cstep{a}, new: []cstep{a},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}, rollingBack: true}, mode: "resume", wantMode: "rollback",
			want: []string{"a: kept (its compensation runs)"}},

		// From: completed nodes in its span run again.
		{name: "from/listed", old: []cstep{a, b}, new: []cstep{a, b},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok, "b": ok}}, mode: "resume", opts: runbook.RunOptions{From: "b", Rerun: []string{"b"}},
			want: []string{"a: kept", "b: re-run (completed; runs again (listed))"}},
		{name: "from/idempotent", old: []cstep{a, b}, new: []cstep{a, with(b, func(s *cstep) { s.idem = true })},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok, "b": ok}, noHashes: true}, mode: "resume", opts: runbook.RunOptions{From: "a"},
			want: []string{"a: re-run (completed and not idempotent: runs again only if confirmed) ask", "b: re-run (completed; runs again (idempotent))"}, differs: true},
		{name: "from/read-only and gates", old: []cstep{roA, {name: "g", do: "go?", gate: true}}, new: []cstep{roA, {name: "g", do: "go?", gate: true}},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok, "g": ok}}, mode: "resume", opts: runbook.RunOptions{From: "a"},
			want: []string{"a: re-run (completed; runs again (idempotent))", "g: re-run (completed; runs again (idempotent))"}},

		// Going forward: completed nodes.
		{name: "forward/skipped", old: []cstep{a}, new: []cstep{aEdited},
			j: journal{nodes: map[string]runbook.NodeState{"a": skipped}}, mode: "resume",
			want: []string{"a: kept (skipped by its condition)"}, differs: true},
		{name: "forward/harmless edit", old: []cstep{roA}, new: []cstep{roAEdited},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}}, mode: "resume",
			want: []string{"a: kept (changed, but it changes nothing: not run again)"}, differs: true},
		{name: "forward/unsafe: edited action", old: []cstep{a}, new: []cstep{aEdited},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}}, mode: "resume",
			want: []string{"a: unsafe (completed, and its action or arguments changed)"}, differs: true},
		{name: "forward/unsafe: rollback removed", old: []cstep{a}, new: []cstep{aNoRb},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}}, mode: "resume",
			want: []string{"a: unsafe (owes a compensation, and the new plan has no rollback for it)"}, differs: true},
		{name: "forward/changed rollback", old: []cstep{a}, new: []cstep{aRbEdited},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}}, mode: "resume",
			want: []string{"a: changed rollback (the new rollback is what runs if the run rolls back)"}, differs: true},
		{name: "forward/changed rollback, already compensated", old: []cstep{a}, new: []cstep{aRbEdited},
			j: journal{nodes: map[string]runbook.NodeState{"a": compensated}, compensated: []string{"a"}}, mode: "resume",
			want: []string{"a: kept"}, differs: true},
		{name: "forward/unsafe: reordered", old: []cstep{a, b}, new: []cstep{b, a},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}}, mode: "resume",
			want: []string{"b: re-run (not run yet)", "a: unsafe (completed, but the new plan puts it after b, which has not run)"}, differs: true},
		{name: "forward/edited and reordered", old: []cstep{a, b}, new: []cstep{b, aEdited},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}}, mode: "resume",
			want: []string{"b: re-run (not run yet)", "a: unsafe (completed, and its action or arguments changed)"}, differs: true},
		{name: "forward/after a completed gate", old: []cstep{{name: "g", do: "go?", gate: true}, a}, new: []cstep{{name: "g", do: "go?", gate: true}, a},
			j: journal{nodes: map[string]runbook.NodeState{"g": ok, "a": ok}}, mode: "resume",
			want: []string{"g: kept", "a: kept"}},

		// Going forward: nodes that did not complete, and new ones.
		{name: "forward/not done", old: []cstep{a, b, {name: "c", do: "c1"}, {name: "d", do: "d1"}}, new: []cstep{aEdited, b, {name: "c", do: "c1"}, {name: "d", do: "d1"}, n},
			j: journal{nodes: map[string]runbook.NodeState{"a": failed, "b": running, "c": compFailed}, failed: "a"}, mode: "resume",
			want: []string{"a: re-run (failed: runs again, with its new definition)", "b: re-run (in doubt (started, never finished): runs again as a resume decides)",
				"c: re-run (its compensation failed)", "d: re-run (not run yet)", "n: new (not in the run's plan)"}, differs: true},

		// Nodes the new plan removed.
		{name: "removed", old: []cstep{a, b, {name: "c", do: "c1"}, {name: "d", do: "d1"}, {name: "e", do: "e1", rb: "undo e1"}, {name: "f", do: "f1", rb: "undo f1"}, {name: "g", do: "g1", rb: "undo g1"}}, new: []cstep{n},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok, "b": running, "c": ok, "e": compFailed, "f": ok, "g": ok}, compensable: []string{"a", "f", "g"}, compensated: []string{"g"}, compInDoubt: []string{"f"}}, mode: "resume",
			want: []string{"n: new (not in the run's plan)", "a: unsafe (removed, but its compensation is still owed)",
				"b: unsafe (removed, but it was started and never finished: it may have changed the world)", "c: removed", "d: removed",
				"e: unsafe (removed, but its compensation is still owed)", "f: unsafe (removed, but its compensation is still owed)", "g: removed"}, differs: true},

		// A journal written before node hashes were recorded.
		{name: "no hashes/same plan", old: []cstep{a}, new: []cstep{a},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}, noHashes: true}, mode: "resume",
			want: []string{"a: kept"}},
		{name: "no hashes/same plan, a node not run", old: []cstep{a, b}, new: []cstep{a, b},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok}, noHashes: true}, mode: "resume",
			want: []string{"a: kept", "b: new (not in the run's plan)"}, differs: true},
		{name: "no hashes/another plan", old: []cstep{a, b}, new: []cstep{with(a, func(s *cstep) { s.idem = true })},
			j: journal{nodes: map[string]runbook.NodeState{"a": ok, "b": ok}, noHashes: true}, mode: "resume",
			want: []string{"a: unsafe (completed, and its action or arguments changed)", "b: unsafe (removed, but its compensation is still owed)"}, differs: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, p := cplan(t, tc.old...), cplan(t, tc.new...)
			st := &runbook.RunState{Run: runbook.RunInfo{ID: "r1"}, PlanHash: old.Hash(), NodeHashes: old.NodeHashes(), Nodes: tc.j.nodes,
				Compensable: map[string]bool{}, Compensated: tc.j.compensated, CompensationsInDoubt: tc.j.compInDoubt,
				Failed: tc.j.failed, RollingBack: tc.j.rollingBack}
			if tc.j.noHashes {
				st.NodeHashes = nil
			}
			if tc.j.compensable == nil {
				for _, s := range tc.old {
					if tc.j.nodes[s.name] == ok && s.rb != "" {
						tc.j.compensable = append(tc.j.compensable, s.name)
					}
				}
			}
			for _, name := range tc.j.compensable {
				st.Compensable[name] = true
			}
			if tc.j.noHashes {
				// The removed nodes are known from the records.
				st = replayed(t, st, tc.old)
			}
			c, err := runbook.CompareRun(st, p, tc.mode, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := cmpLines(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n  %q\nwant\n  %q", got, tc.want)
			}
			wantMode := tc.wantMode
			if wantMode == "" {
				wantMode = tc.mode
			}
			if c.Mode != wantMode || c.Differs != tc.differs {
				t.Errorf("mode %q differs %v, want %q and %v", c.Mode, c.Differs, wantMode, tc.differs)
			}
		})
	}
}

// replayed returns st as a journal without node hashes holds it: its
// nodes are known by the records that name them, in order.
func replayed(t *testing.T, st *runbook.RunState, old []cstep) *runbook.RunState {
	t.Helper()
	recs := []runbook.Record{{Kind: runbook.RecRunStarted, Run: "r1", PlanHash: st.PlanHash}}
	for _, s := range old {
		if state := st.Nodes[s.name]; state != "" {
			recs = append(recs, runbook.Record{Kind: runbook.RecNodeStarted, Node: s.name})
			if state == runbook.StateSucceeded {
				recs = append(recs, runbook.Record{Kind: runbook.RecNodeSucceeded, Node: s.name, Compensable: st.Compensable[s.name]})
			}
		}
	}
	rs, err := runbook.Replay(recs)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rs.Nodes, st.Nodes) || !reflect.DeepEqual(rs.Compensable, st.Compensable) {
		t.Fatalf("replayed %v %v, want %v %v", rs.Nodes, rs.Compensable, st.Nodes, st.Compensable)
	}
	return rs
}

func TestCompareRunRefuses(t *testing.T) {
	p := cplan(t, cstep{name: "a", do: "a1"})
	st := &runbook.RunState{Run: runbook.RunInfo{ID: "r1"}, PlanHash: p.Hash(), NodeHashes: p.NodeHashes(), Nodes: map[string]runbook.NodeState{}}
	if _, err := runbook.CompareRun(st, p, "undo", runbook.RunOptions{}); err == nil {
		t.Error("mode undo: no error")
	}
	for _, opts := range []runbook.RunOptions{{From: "x"}, {Rerun: []string{"a", "x"}}} {
		if _, err := runbook.CompareRun(st, p, "resume", opts); !errors.Is(err, runbook.ErrUnknownNode) {
			t.Errorf("%+v: %v, want ErrUnknownNode", opts, err)
		}
	}
}
