package statuspage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// OpenConfig configures a statuspage_incident step.
type OpenConfig struct {
	Incident Incident
	// RollbackBody is the update posted when the step is rolled back
	// (default [DefaultRollbackBody]).
	RollbackBody string
	// FailOnError makes a failed call fail the step (or the rollback). By
	// default it is a warning.
	FailOnError bool
}

// Open is the statuspage_incident action. Its natural rollback resolves
// the incident it opened, from the step's incident_id output.
type Open struct {
	inst *Instance
	api  Incidents
	cfg  OpenConfig
}

var (
	_ runbook.Action          = (*Open)(nil)
	_ runbook.NaturalRollback = (*Open)(nil)
	_ runbook.Describer       = (*Open)(nil)
)

// NewIncident returns a statuspage_incident action.
func NewIncident(inst *Instance, cfg OpenConfig) (*Open, error) {
	if inst == nil {
		return nil, fmt.Errorf("%s: no provider instance", ActionIncident)
	}
	if cfg.Incident.Name == "" {
		return nil, fmt.Errorf("%s: name is required", ActionIncident)
	}
	if cfg.Incident.Status == "" {
		cfg.Incident.Status = "investigating"
	}
	if err := oneOf("status", cfg.Incident.Status, statuses); err != nil {
		return nil, fmt.Errorf("%s: %w", ActionIncident, err)
	}
	if err := oneOf("impact_override", cfg.Incident.ImpactOverride, impacts); err != nil {
		return nil, fmt.Errorf("%s: %w", ActionIncident, err)
	}
	if cfg.RollbackBody == "" {
		cfg.RollbackBody = DefaultRollbackBody
	}
	return &Open{inst: inst, api: inst, cfg: cfg}, nil
}

// Describe names the instance and action.
func (o *Open) Describe() runbook.Description {
	return runbook.Description{Provider: o.inst.Name(), Action: ActionIncident}
}

// clockSkew is how much earlier than the step's own clock an incident
// it opened may be stamped by Statuspage.
const clockSkew = 5 * time.Minute

// Do opens the incident. Before the call it checkpoints the incident's
// name and the time, so that an incident whose creation lost its answer
// can be found again: a retry adopts it instead of opening a second one,
// and the rollback resolves it.
func (o *Open) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	env.AddSecret(o.inst.cfg.APIKey)
	empty := runbook.Outputs{"incident_id": "", "status": "", "shortlink": ""}
	if cp := env.Checkpointed(); cp["incident_name"] != nil {
		found, err := o.opened(ctx, cp)
		if err == nil && len(found) > 0 {
			in := found[0]
			env.Line("stdout", fmt.Sprintf("incident %s was opened by an earlier attempt (its answer was lost): adopted", in.ID))
			return runbook.Outputs{"delivered": true, "error": "", "incident_id": in.ID, "status": in.Status, "shortlink": in.Shortlink}, nil
		}
	} else if err := env.Checkpoint(ctx, runbook.Outputs{"incident_name": o.cfg.Incident.Name,
		"opening_since": env.Clock().Now().UTC().Format(time.RFC3339Nano)}); err != nil {
		return undelivered(env, o.inst, ActionIncident, fmt.Errorf("recording the incident before opening it: %w", err), o.cfg.FailOnError, empty)
	}
	in, err := o.api.CreateIncident(ctx, o.cfg.Incident)
	if err != nil {
		return undelivered(env, o.inst, ActionIncident, err, o.cfg.FailOnError, empty)
	}
	return runbook.Outputs{"delivered": true, "error": "", "incident_id": in.ID, "status": in.Status, "shortlink": in.Shortlink}, nil
}

// opened returns the unresolved incidents the step may have opened: named
// as its checkpoint says, created since it (minus clockSkew).
func (o *Open) opened(ctx context.Context, cp runbook.Outputs) ([]Incident, error) {
	name, _ := cp["incident_name"].(string)
	since, err := time.Parse(time.RFC3339Nano, fmt.Sprint(cp["opening_since"]))
	if name == "" || err != nil {
		return nil, nil
	}
	all, err := o.api.UnresolvedIncidents(ctx)
	if err != nil {
		return nil, err
	}
	var out []Incident
	for _, in := range all {
		if in.Name == name && !in.CreatedAt.Before(since.Add(-clockSkew)) {
			out = append(out, in)
		}
	}
	return out, nil
}

// NaturalRollback resolves the incident.
func (o *Open) NaturalRollback() runbook.Rollback {
	return &resolveRollback{open: o}
}

type resolveRollback struct{ open *Open }

func (r *resolveRollback) Describe() runbook.Description {
	return runbook.Description{Provider: r.open.inst.Name(), Action: ActionResolve}
}

// Compensate resolves the incident named by the step's incident_id
// output. Without one (the creation lost its answer, or the process died
// before recording it) it resolves the unresolved incidents the step's
// checkpoint identifies; an incident that was never opened needs nothing.
// Resolving a resolved incident is not done again.
func (r *resolveRollback) Compensate(ctx context.Context, env *runbook.Env) error {
	o := r.open
	env.AddSecret(o.inst.cfg.APIKey)
	self := env.Self()
	var ids []string
	if id, _ := self["incident_id"].(string); id != "" {
		ids = []string{id}
	} else {
		found, err := o.opened(ctx, self)
		if err != nil {
			_, err = undelivered(env, o.inst, ActionResolve, fmt.Errorf("looking for the incident the step opened: %w", err), o.cfg.FailOnError, nil)
			return err
		}
		for _, in := range found {
			ids = append(ids, in.ID)
		}
	}
	if len(ids) == 0 {
		env.Emit("no incident to resolve", map[string]string{"provider": o.inst.Name()})
		return nil
	}
	var errs []error
	for _, id := range ids {
		if _, err := o.api.UpdateIncident(ctx, id, Incident{Status: "resolved", Body: o.cfg.RollbackBody}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		_, err = undelivered(env, o.inst, ActionResolve, err, o.cfg.FailOnError, nil)
		return err
	}
	return nil
}

// Change is the statuspage_update and statuspage_resolve action.
type Change struct {
	inst        *Instance
	api         Incidents
	action      string
	id          string
	in          Incident
	failOnError bool
}

var (
	_ runbook.Action   = (*Change)(nil)
	_ runbook.ReadOnly = (*Change)(nil)
)

// NewUpdate returns a statuspage_update action: post an update (status,
// body) to incident id.
func NewUpdate(inst *Instance, id string, in Incident, failOnError bool) (*Change, error) {
	return newChange(inst, ActionUpdate, id, in, failOnError)
}

// NewResolve returns a statuspage_resolve action: mark incident id
// resolved, with an optional final update body.
func NewResolve(inst *Instance, id, body string, failOnError bool) (*Change, error) {
	return newChange(inst, ActionResolve, id, Incident{Status: "resolved", Body: body}, failOnError)
}

func newChange(inst *Instance, action, id string, in Incident, failOnError bool) (*Change, error) {
	if inst == nil {
		return nil, fmt.Errorf("%s: no provider instance", action)
	}
	if err := oneOf("status", in.Status, statuses); err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	if err := oneOf("impact_override", in.ImpactOverride, impacts); err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	if action == ActionUpdate && in.Status == "" && in.Body == "" && in.Name == "" && in.ImpactOverride == "" {
		return nil, fmt.Errorf("%s: nothing to update: give status, body, name or impact_override", action)
	}
	return &Change{inst: inst, api: inst, action: action, id: id, in: in, failOnError: failOnError}, nil
}

// ReadOnly reports true: an update needs no compensation.
func (c *Change) ReadOnly() bool { return true }

// Describe names the instance and action.
func (c *Change) Describe() runbook.Description {
	return runbook.Description{Provider: c.inst.Name(), Action: c.action}
}

// Do sends the update. An empty incident id (the incident could not be
// opened) is a warning too.
func (c *Change) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	env.AddSecret(c.inst.cfg.APIKey)
	if c.id == "" {
		return undelivered(env, c.inst, c.action, fmt.Errorf("no incident id (was the incident opened?)"), c.failOnError, runbook.Outputs{"status": ""})
	}
	in, err := c.api.UpdateIncident(ctx, c.id, c.in)
	if err != nil {
		return undelivered(env, c.inst, c.action, err, c.failOnError, runbook.Outputs{"status": ""})
	}
	return runbook.Outputs{"delivered": true, "error": "", "status": in.Status}, nil
}

// undelivered turns a failed call into an error (fail_on_error) or a
// warning and outputs with delivered = false.
func undelivered(env *runbook.Env, inst *Instance, action string, err error, fail bool, out runbook.Outputs) (runbook.Outputs, error) {
	err = fmt.Errorf("%s %s: %w", inst.Name(), action, err)
	if fail {
		return nil, err
	}
	msg := env.Redact(err.Error())
	env.Emit("notification not delivered", map[string]string{"provider": inst.Name(), "action": action, "error": msg})
	env.Logger().Warn("notification not delivered", "error", msg)
	if out == nil {
		out = runbook.Outputs{}
	}
	out["delivered"], out["error"] = false, msg
	return out, nil
}

// Actions returns statuspage_incident, statuspage_update and
// statuspage_resolve.
func (p *Provider) Actions() map[string]provider.ActionType {
	failArg := provider.Attribute{Type: cty.Bool, Description: "Fail the step when the call fails (default: warn and go on)."}
	delivered := func(more map[string]provider.Output) map[string]provider.Output {
		more["delivered"] = provider.Output{Type: cty.Bool, Description: "The call succeeded."}
		more["error"] = provider.Output{Type: cty.String, Description: "Why not, when not delivered."}
		return more
	}
	incidentArgs := provider.Schema{
		"name":                  {Type: cty.String, Description: "Incident title."},
		"status":                {Type: cty.String, Description: "investigating, identified, monitoring, resolved, scheduled, in_progress, verifying or completed."},
		"impact_override":       {Type: cty.String, Description: "none, minor, major, critical or maintenance."},
		"body":                  {Type: cty.String, Description: "Update text."},
		"component_ids":         {Type: cty.List(cty.String), Description: "Affected components."},
		"deliver_notifications": {Type: cty.Bool, Description: "Notify subscribers (Statuspage's default when unset)."},
		"fail_on_error":         failArg,
	}
	openArgs := provider.Schema{}
	for k, v := range incidentArgs {
		openArgs[k] = v
	}
	openArgs["name"] = provider.Attribute{Type: cty.String, Required: true, Description: "Incident title."}
	openArgs["rollback_body"] = provider.Attribute{Type: cty.String, Description: "Update posted when a rollback resolves the incident."}
	updateArgs := provider.Schema{"incident_id": {Type: cty.String, Required: true, Description: "The incident, e.g. step.maintenance.incident_id."}}
	for k, v := range incidentArgs {
		updateArgs[k] = v
	}
	inst := func(i provider.Instance, action string) (*Instance, error) {
		x, ok := i.(*Instance)
		if !ok || x == nil {
			return nil, fmt.Errorf("%s: needs a statuspage provider instance", action)
		}
		return x, nil
	}
	return map[string]provider.ActionType{
		ActionIncident: {
			Args:            openArgs,
			Outputs:         delivered(map[string]provider.Output{"incident_id": {Type: cty.String}, "status": {Type: cty.String}, "shortlink": {Type: cty.String}}),
			NaturalRollback: true,
			Description:     "Open an incident (a maintenance notice); rolling the step back resolves it.",
			New: func(i provider.Instance, v cty.Value) (runbook.Action, error) {
				x, err := inst(i, ActionIncident)
				if err != nil {
					return nil, err
				}
				a := &ctyargs.Attrs{V: v, Where: ActionIncident}
				in, fail := decodeIncident(a)
				rb := a.Str("rollback_body")
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewIncident(x, OpenConfig{Incident: in, RollbackBody: rb, FailOnError: fail})
			},
		},
		ActionUpdate: {
			Args:        updateArgs,
			Outputs:     delivered(map[string]provider.Output{"status": {Type: cty.String}}),
			ReadOnly:    true,
			Description: "Post an update to an incident.",
			New: func(i provider.Instance, v cty.Value) (runbook.Action, error) {
				x, err := inst(i, ActionUpdate)
				if err != nil {
					return nil, err
				}
				a := &ctyargs.Attrs{V: v, Where: ActionUpdate}
				in, fail := decodeIncident(a)
				id := a.Str("incident_id")
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewUpdate(x, id, in, fail)
			},
		},
		ActionResolve: {
			Args: provider.Schema{
				"incident_id":   updateArgs["incident_id"],
				"body":          {Type: cty.String, Description: "Final update text."},
				"fail_on_error": failArg,
			},
			Outputs:     delivered(map[string]provider.Output{"status": {Type: cty.String}}),
			ReadOnly:    true,
			Description: "Resolve an incident (the normal end of a maintenance).",
			New: func(i provider.Instance, v cty.Value) (runbook.Action, error) {
				x, err := inst(i, ActionResolve)
				if err != nil {
					return nil, err
				}
				a := &ctyargs.Attrs{V: v, Where: ActionResolve}
				id, body, fail := a.Str("incident_id"), a.Str("body"), a.Bool("fail_on_error")
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewResolve(x, id, body, fail)
			},
		},
	}
}

// decodeIncident reads the incident's arguments and fail_on_error; a
// records any error.
func decodeIncident(a *ctyargs.Attrs) (Incident, bool) {
	in := Incident{Name: a.Str("name"), Status: a.Str("status"), ImpactOverride: a.Str("impact_override"), Body: a.Str("body"),
		ComponentIDs: a.Strs("component_ids")}
	if a.IsSet("deliver_notifications") {
		d := a.Bool("deliver_notifications")
		in.DeliverNotifications = &d
	}
	return in, a.Bool("fail_on_error")
}
