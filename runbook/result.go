package runbook

import (
	"time"

	"github.com/handrail-dev/handrail/runbook/engine"
)

// Status is how a run ended.
type Status string

// Run statuses.
const (
	// StatusSucceeded: every node succeeded (or was skipped).
	StatusSucceeded Status = "succeeded"
	// StatusRolledBack: the run failed and every completed step was
	// compensated.
	StatusRolledBack Status = "rolled_back"
	// StatusAborted: the run failed with policy abort; nothing was
	// compensated.
	StatusAborted Status = "aborted"
	// StatusRollbackIncomplete: some compensations failed; Result.Pending
	// names what is left.
	StatusRollbackIncomplete Status = "rollback_incomplete"
	// StatusHalted: the run failed after its point of no return; nothing
	// was compensated automatically.
	StatusHalted Status = "halted"
	// StatusInterrupted: the run stopped without deciding (an in-doubt step
	// needs a person, or the journal failed); resume or roll back later.
	StatusInterrupted Status = "interrupted"
)

// NeedsPerson reports whether the status leaves work for a person.
func (s Status) NeedsPerson() bool {
	switch s {
	case StatusRollbackIncomplete, StatusHalted, StatusInterrupted, StatusAborted:
		return true
	}
	return false
}

// NodeState is the state of one node.
type NodeState string

// Node statuses.
const (
	StatePending            NodeState = "pending"
	StateRunning            NodeState = "running"
	StateSucceeded          NodeState = "succeeded"
	StateFailed             NodeState = "failed"
	StateSkipped            NodeState = "skipped"
	StateCancelled          NodeState = "cancelled"
	StateCompensated        NodeState = "compensated"
	StateCompensationFailed NodeState = "compensation_failed"
	// StateWarned: failed with policy continue.
	StateWarned NodeState = "warned"
)

// NodeResult is what happened to one node.
type NodeResult struct {
	Name     string
	Status   NodeState
	Attempts int
	Start    time.Time
	End      time.Time
	Err      error
	Outputs  Outputs
	Outcome  engine.Outcome
	Samples  []SampleRecord
	Decision *Decision
}

// Result is the outcome of a run.
type Result struct {
	Run    RunInfo
	Status Status
	// Err is the failure that stopped the run (nil on success); it is a
	// *StepError for node failures.
	Err error
	// Nodes by name.
	Nodes map[string]*NodeResult
	// Completed lists the steps and gates that completed, in completion
	// order.
	Completed []string
	// Compensated lists the steps compensated, in the order they were.
	Compensated []string
	// Pending lists the steps whose compensation is still owed, in the order
	// it should run (halted, aborted, rollback incomplete).
	Pending []string
	// Warnings are failures that did not stop the run (policy continue).
	Warnings []error
	End      time.Time
}
