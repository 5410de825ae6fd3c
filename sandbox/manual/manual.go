// Package manual is the "manual" provider: checklist items a person
// confirms through the run's approver (the seed's pre-deployment checklists,
// the team's roll call, the post-deployment review). It wraps the core's
// manual task (steps.Manual) for HCL runbooks and offers the same actions
// to Go runbooks, so that plans built both ways dump identically.
//
// In HCL:
//
//	provider "manual" "team" {}
//
//	step "manual_task" "roll_call" {
//	  message   = "Deployment team present in #deployment-release-2"
//	  approvers = ["deployment-lead"]
//	}
//
//	step "manual_checklist" "week_before" {
//	  items = ["Code freeze initiated", "Security scans completed"]
//	}
//
// A manual task is a confirmation and read-only unless changes_world =
// true (the person changes something, so the step then needs a rollback or
// irreversible = true). A declined item fails the step (not retried).
package manual

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/steps"
)

// Action names.
const (
	ActionTask      = "manual_task"
	ActionChecklist = "manual_checklist"
)

// ErrInvalid is wrapped by errors about bad arguments.
var ErrInvalid = errors.New("manual: invalid arguments")

// Provider is the "manual" provider. The zero value is ready to use.
type Provider struct{}

var _ provider.Provider = (*Provider)(nil)

// Type returns "manual".
func (*Provider) Type() string { return "manual" }

// ConfigSchema returns an empty schema: a manual provider block has no
// settings.
func (*Provider) ConfigSchema() provider.Schema { return provider.Schema{} }

// Configure returns the instance named name.
func (*Provider) Configure(_ context.Context, name string, _ cty.Value) (provider.Instance, error) {
	return NewInstance(name), nil
}

// Instance is a configured manual provider ("manual.team").
type Instance struct{ name string }

// NewInstance returns the instance manual.<name>, for Go runbooks.
func NewInstance(name string) *Instance { return &Instance{name: "manual." + name} }

// Name returns "manual.<name>".
func (i *Instance) Name() string { return i.name }

// Task configures a manual_task.
type Task struct {
	// Message is what the person confirms.
	Message string
	// Approvers may confirm it.
	Approvers []string
	// ChangesWorld marks a task in which the person changes something.
	ChangesWorld bool
}

// Checklist configures a manual_checklist: items confirmed one by one, in
// order.
type Checklist struct {
	Items     []string
	Approvers []string
}

type task struct {
	inst *Instance
	t    Task
	m    *steps.ManualAction
}

// NewTask returns the manual_task action on inst.
func NewTask(inst *Instance, t Task) (runbook.Action, error) {
	if inst == nil {
		return nil, fmt.Errorf("%w: %s needs a manual provider instance", ErrInvalid, ActionTask)
	}
	if strings.TrimSpace(t.Message) == "" {
		return nil, fmt.Errorf("%w: %s %s: message is empty: say what the person confirms", ErrInvalid, inst.Name(), ActionTask)
	}
	opts := []steps.ManualOption{steps.AskApprovers(t.Approvers...)}
	if t.ChangesWorld {
		opts = append(opts, steps.ChangesWorld())
	}
	return &task{inst: inst, t: t, m: steps.Manual(t.Message, opts...)}, nil
}

func (a *task) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	return a.m.Do(ctx, env)
}

func (a *task) ReadOnly() bool { return a.m.ReadOnly() }

func (a *task) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: ActionTask}
}

type checklist struct {
	inst *Instance
	c    Checklist
}

// NewChecklist returns the manual_checklist action on inst. It outputs
// confirmed (the items, in order) and confirmed_by (who confirmed each).
func NewChecklist(inst *Instance, c Checklist) (runbook.Action, error) {
	if inst == nil {
		return nil, fmt.Errorf("%w: %s needs a manual provider instance", ErrInvalid, ActionChecklist)
	}
	if len(c.Items) == 0 {
		return nil, fmt.Errorf("%w: %s %s: items is empty: list what the people confirm", ErrInvalid, inst.Name(), ActionChecklist)
	}
	for i, it := range c.Items {
		if strings.TrimSpace(it) == "" {
			return nil, fmt.Errorf("%w: %s %s: item #%d is empty", ErrInvalid, inst.Name(), ActionChecklist, i+1)
		}
	}
	return &checklist{inst: inst, c: c}, nil
}

func (a *checklist) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	var confirmed, by []any
	for i, it := range a.c.Items {
		out, err := steps.Manual(fmt.Sprintf("[%d/%d] %s", i+1, len(a.c.Items), it), steps.AskApprovers(a.c.Approvers...)).Do(ctx, env)
		if err != nil {
			return nil, err
		}
		confirmed = append(confirmed, it)
		by = append(by, fmt.Sprint(out["confirmed_by"]))
	}
	return runbook.Outputs{"confirmed": confirmed, "confirmed_by": by}, nil
}

func (a *checklist) ReadOnly() bool { return true }

func (a *checklist) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: ActionChecklist}
}

// Actions returns manual_task and manual_checklist.
func (*Provider) Actions() map[string]provider.ActionType {
	return map[string]provider.ActionType{
		ActionTask: {
			Description: "A checklist item a person confirms through the run's approver.",
			Args: provider.Schema{
				"message":       {Type: cty.String, Required: true, Description: "What the person confirms."},
				"approvers":     {Type: cty.List(cty.String), Description: "Who may confirm it."},
				"changes_world": {Type: cty.Bool, Description: "The person changes something (the step then needs a rollback or irreversible = true)."},
			},
			Outputs: map[string]provider.Output{
				"confirmed_by": {Type: cty.String, Description: "Who confirmed."},
				"comment":      {Type: cty.String, Description: "Their comment."},
			},
			ReadOnly: true,
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				in, err := instanceOf(inst, ActionTask)
				if err != nil {
					return nil, err
				}
				t := Task{Message: str(args, "message"), Approvers: strList(args, "approvers"), ChangesWorld: boolean(args, "changes_world")}
				return NewTask(in, t)
			},
		},
		ActionChecklist: {
			Description: "Checklist items people confirm one by one, in order, through the run's approver.",
			Args: provider.Schema{
				"items":     {Type: cty.List(cty.String), Required: true, Description: "The items, in order."},
				"approvers": {Type: cty.List(cty.String), Description: "Who may confirm them."},
			},
			Outputs: map[string]provider.Output{
				"confirmed":    {Type: cty.List(cty.String), Description: "The items confirmed, in order."},
				"confirmed_by": {Type: cty.List(cty.String), Description: "Who confirmed each item."},
			},
			ReadOnly: true,
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				in, err := instanceOf(inst, ActionChecklist)
				if err != nil {
					return nil, err
				}
				return NewChecklist(in, Checklist{Items: strList(args, "items"), Approvers: strList(args, "approvers")})
			},
		},
	}
}

func instanceOf(inst provider.Instance, action string) (*Instance, error) {
	in, ok := inst.(*Instance)
	if !ok || in == nil {
		name := "nothing"
		if inst != nil {
			name = inst.Name()
		}
		return nil, fmt.Errorf("%w: %s needs provider = manual.<name>, got %s", ErrInvalid, action, name)
	}
	return in, nil
}

func get(args cty.Value, name string) cty.Value {
	if args.IsNull() || !args.IsKnown() || !args.Type().IsObjectType() || !args.Type().HasAttribute(name) {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	return args.GetAttr(name)
}

func str(args cty.Value, name string) string {
	v := get(args, name)
	if v.IsNull() || !v.Type().Equals(cty.String) {
		return ""
	}
	return v.AsString()
}

func boolean(args cty.Value, name string) bool {
	v := get(args, name)
	return !v.IsNull() && v.Type().Equals(cty.Bool) && v.True()
}

func strList(args cty.Value, name string) []string {
	v := get(args, name)
	if v.IsNull() || !v.CanIterateElements() {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		if _, e := it.Element(); !e.IsNull() && e.Type().Equals(cty.String) {
			out = append(out, e.AsString())
		}
	}
	return out
}
