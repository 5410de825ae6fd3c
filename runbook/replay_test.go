package runbook_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/runbook"
)

// TestReplayFoldsEveryRecordKind replays a hand-written journal that has
// every record kind Replay reads, in the orders that matter (a retried and
// a final failure, a step run again, a plan version, compensations left
// open), and compares the whole state.
func TestReplayFoldsEveryRecordKind(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	inputs := []runbook.Input{{Name: "version", Value: "1.2"}}
	hashes1 := []runbook.NodeHash{{Node: "a", Do: "da1", Rollback: "ra1"}}
	hashes2 := []runbook.NodeHash{{Node: "a", Do: "da1", Rollback: "ra2"}}
	changes := []runbook.NodeChange{{Node: "a", Change: runbook.ChangeRollback}}
	sample := runbook.SampleRecord{Gate: "g", Check: "errors", Seq: 1, Time: at(13)}
	decision := runbook.Decision{Approved: true, By: "carol", At: at(14)}
	out := func(k string) runbook.Outputs { return runbook.Outputs{k: k} }
	var recs []runbook.Record
	add := func(r runbook.Record) {
		r.Seq, r.Run, r.Time = int64(len(recs)+1), "r1", at(len(recs)+1)
		recs = append(recs, r)
	}
	add(runbook.Record{Kind: runbook.RecRunStarted, Runbook: "rb", PlanHash: "h1", Inputs: inputs, Mode: "run", StartedBy: "alice", NodeHashes: hashes1}) // 1
	add(runbook.Record{Kind: runbook.RecNodeStarted, Node: "a", Attempt: 1})                                                                              // 2
	add(runbook.Record{Kind: runbook.RecCheckpoint, Node: "a", Outputs: out("cpa")})                                                                      // 3
	add(runbook.Record{Kind: runbook.RecProgress, Node: "a", Outputs: out("pa")})                                                                         // 4
	add(runbook.Record{Kind: runbook.RecNodeSucceeded, Node: "a", Outputs: out("oa"), Compensable: true})                                                 // 5
	add(runbook.Record{Kind: runbook.RecNodeStarted, Node: "e", Attempt: 1})                                                                              // 6
	add(runbook.Record{Kind: runbook.RecNodeSucceeded, Node: "e", Outputs: out("oe")})                                                                    // 7
	add(runbook.Record{Kind: runbook.RecNodeStarted, Node: "b", Attempt: 1})                                                                              // 8
	add(runbook.Record{Kind: runbook.RecNodeFailed, Node: "b", Attempt: 1, Error: "retry", Outputs: out("ignored")})                                      // 9: not final
	add(runbook.Record{Kind: runbook.RecNodeStarted, Node: "b", Attempt: 2})                                                                              // 10
	add(runbook.Record{Kind: runbook.RecCheckpoint, Node: "b", Outputs: out("cpb")})                                                                      // 11
	add(runbook.Record{Kind: runbook.RecCheckpoint, Node: "b", Outputs: out("cpb2")})                                                                     // 12: merged
	add(runbook.Record{Kind: runbook.RecProgress, Node: "b", Outputs: out("pb")})                                                                         // 13
	add(runbook.Record{Kind: runbook.RecNodeFailed, Node: "b", Attempt: 2, Final: true, Error: "boom"})                                                   // 14: outputs from the checkpoint
	add(runbook.Record{Kind: runbook.RecNodeStarted, Node: "c", Attempt: 1})                                                                              // 15
	add(runbook.Record{Kind: runbook.RecNodeFailed, Node: "c", Attempt: 1, Final: true, Error: "second", Outputs: out("pc")})                             // 16: not the run's failure
	add(runbook.Record{Kind: runbook.RecNodeFailed, Node: "e", Final: true, Error: "late", Outputs: out("late")})                                         // 17: succeeded before: outputs kept
	add(runbook.Record{Kind: runbook.RecNodeSkipped, Node: "d"})                                                                                          // 18
	add(runbook.Record{Kind: runbook.RecGateSample, Node: "g", Sample: &sample})                                                                          // 19
	add(runbook.Record{Kind: runbook.RecGateSample, Node: "g"})                                                                                           // 20: no sample
	add(runbook.Record{Kind: runbook.RecDecision, Node: "g", Decision: &decision})                                                                        // 21
	add(runbook.Record{Kind: runbook.RecDecision, Node: "g"})                                                                                             // 22: no decision
	add(runbook.Record{Kind: runbook.RecRunFinished, Status: runbook.StatusHalted})                                                                       // 23
	add(runbook.Record{Kind: runbook.RecRunStarted, Runbook: "rb", PlanHash: "h2", Mode: "resume", By: "bob", Reason: "fix", Forced: true,
		From: "a", Changes: changes, NodeHashes: hashes2, PrevPlanHash: "h1", Forward: true}) // 24: a new version, forward
	add(runbook.Record{Kind: runbook.RecNodeStarted, Node: "a", Attempt: 1})                                    // 25
	add(runbook.Record{Kind: runbook.RecNodeSucceeded, Node: "a", Outputs: out("oa2"), Compensable: true})      // 26: counts at its latest completion
	add(runbook.Record{Kind: runbook.RecNodeStarted, Node: "f", Attempt: 1})                                    // 27
	add(runbook.Record{Kind: runbook.RecNodeFailed, Node: "f", Attempt: 1, Final: true, Error: "f failed"})     // 28
	add(runbook.Record{Kind: runbook.RecNodeSucceeded, Node: "f", Outputs: out("of")})                          // 29: went on from its failure
	add(runbook.Record{Kind: runbook.RecRunFinished, Status: runbook.StatusInterrupted})                        // 30
	add(runbook.Record{Kind: runbook.RecRunStarted, Runbook: "rb", PlanHash: "h2", Mode: "resume", By: "dave"}) // 31: same version
	add(runbook.Record{Kind: runbook.RecNodeStarted, Node: "y", Attempt: 3})                                    // 32: in doubt
	add(runbook.Record{Kind: runbook.RecNodeStarted, Node: "x", Attempt: 1})                                    // 33: in doubt
	add(runbook.Record{Kind: runbook.RecNodeFailed, Node: "h", Final: true, Error: "third"})                    // 34
	add(runbook.Record{Kind: runbook.RecCompensating})                                                          // 35: rolling back, no node
	add(runbook.Record{Kind: runbook.RecCompensating, Node: "a"})                                               // 36
	add(runbook.Record{Kind: runbook.RecCompensated, Node: "a"})                                                // 37
	add(runbook.Record{Kind: runbook.RecCompensating, Node: "z"})                                               // 38: in doubt
	add(runbook.Record{Kind: runbook.RecCompensating, Node: "e"})                                               // 39
	add(runbook.Record{Kind: runbook.RecCompensationFailed, Node: "e", Attempt: 1, Error: "retry"})             // 40: not final: in doubt
	add(runbook.Record{Kind: runbook.RecCompensating, Node: "f"})                                               // 41
	add(runbook.Record{Kind: runbook.RecCompensationFailed, Node: "f", Final: true, Error: "gone"})             // 42
	add(runbook.Record{Kind: runbook.RecGateDecided, Node: "g"})                                                // 43: not folded
	st, err := runbook.Replay(recs)
	if err != nil {
		t.Fatal(err)
	}
	want := runbook.RunState{
		Run:      runbook.RunInfo{ID: "r1", Runbook: "rb", StartedAt: at(1)},
		PlanHash: "h2",
		Versions: []runbook.PlanVersion{
			{Hash: "h1", Mode: "run", By: "alice", Seq: 1, Time: at(1)},
			{Hash: "h2", Prev: "h1", Mode: "resume", By: "bob", Reason: "fix", Forced: true, From: "a", Changes: changes, Seq: 24, Time: at(24)},
		},
		NodeHashes:  hashes2,
		Inputs:      inputs,
		StartedBy:   "alice",
		Status:      "",
		Succeeded:   []string{"e", "a", "f"},
		Outputs:     map[string]runbook.Outputs{"a": out("oa2"), "e": out("oe"), "b": {"cpb": "cpb", "cpb2": "cpb2"}, "c": out("pc"), "f": out("of")},
		Nodes:       map[string]runbook.NodeState{"a": runbook.StateCompensated, "e": runbook.StateFailed, "b": runbook.StateFailed, "c": runbook.StateFailed, "d": runbook.StateSkipped, "f": runbook.StateCompensationFailed, "y": runbook.StateRunning, "x": runbook.StateRunning, "h": runbook.StateFailed},
		InDoubt:     []string{"x", "y"},
		Failed:      "h",
		FailedErr:   "third",
		RollingBack: true,
		Compensated: []string{"a"},

		CompensationFailed:   []string{"f"},
		CompensationsInDoubt: []string{"e", "z"},
		Compensable:          map[string]bool{"a": true},
		Checkpoints:          map[string]runbook.Outputs{"b": {"cpb": "cpb", "cpb2": "cpb2"}},
		Progress:             map[string]runbook.Outputs{"b": out("pb")},
		LastTime:             at(43),
		Samples:              []runbook.SampleRecord{sample},
		Decisions:            map[string][]runbook.Decision{"g": {decision}},
		Attempts:             map[string]int{"a": 1, "e": 1, "b": 2, "c": 1, "f": 1, "y": 3, "x": 1},
		Started:              map[string]time.Time{"a": at(2), "e": at(6), "b": at(8), "c": at(15), "f": at(27), "y": at(32), "x": at(33)},
		Ended:                map[string]time.Time{"a": at(26), "e": at(17), "b": at(14), "c": at(16), "f": at(29), "h": at(34)},
	}
	got, wv := reflect.ValueOf(*st), reflect.ValueOf(want)
	for i := 0; i < got.NumField(); i++ {
		f := got.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if g, w := got.Field(i).Interface(), wv.Field(i).Interface(); !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got %#v\nwant %#v", f.Name, g, w)
		}
	}
	if got, want := runbook.NodeOrder(st), []string{"a", "e", "b", "c", "d", "g", "f", "y", "x", "h", "z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("node order %v, want %v", got, want)
	}
}

// TestReplayGoesOnFromAFailure: a final failure stands until the node
// succeeds or a resume goes forward; a resume that does not go forward
// keeps it.
func TestReplayGoesOnFromAFailure(t *testing.T) {
	base := []runbook.Record{
		{Kind: runbook.RecRunStarted, Run: "r1", PlanHash: "h1"},
		{Kind: runbook.RecNodeFailed, Node: "a", Final: true, Error: "boom"},
		{Kind: runbook.RecRunFinished, Status: runbook.StatusHalted},
	}
	for _, tc := range []struct {
		name   string
		then   runbook.Record
		failed string
	}{
		{"resume that finishes the rollback", runbook.Record{Kind: runbook.RecRunStarted, Run: "r1", PlanHash: "h1", Mode: "resume"}, "a"},
		{"resume forward", runbook.Record{Kind: runbook.RecRunStarted, Run: "r1", PlanHash: "h1", Mode: "resume", Forward: true}, ""},
		{"another node succeeds", runbook.Record{Kind: runbook.RecNodeSucceeded, Node: "b"}, "a"},
		{"the failed node succeeds", runbook.Record{Kind: runbook.RecNodeSucceeded, Node: "a"}, ""},
		{"another node fails", runbook.Record{Kind: runbook.RecNodeFailed, Node: "b", Final: true, Error: "later"}, "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := runbook.Replay(append(append([]runbook.Record(nil), base...), tc.then))
			if err != nil {
				t.Fatal(err)
			}
			if st.Failed != tc.failed {
				t.Errorf("Failed = %q, want %q", st.Failed, tc.failed)
			}
			if want := map[bool]string{true: "boom", false: ""}[tc.failed == "a"]; st.FailedErr != want {
				t.Errorf("FailedErr = %q, want %q", st.FailedErr, want)
			}
		})
	}
}

func TestReplayNoRecords(t *testing.T) {
	if _, err := runbook.Replay(nil); !errors.Is(err, runbook.ErrRunNotFound) {
		t.Fatalf("Replay(nil) = %v, want ErrRunNotFound", err)
	}
}
