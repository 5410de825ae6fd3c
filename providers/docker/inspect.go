package docker

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/handrail-dev/handrail/runbook"
)

// Inspect is docker_inspect: a container's state as outputs, or, as a gate
// probe, one field of it as the sample value (check "backend healthy" with
// condition = self.value == "healthy").
type Inspect struct {
	Target Target
	// Field is the probe's value: health (default), status, running,
	// image, image_id or exit_code.
	Field string
}

// inspectFields are the outputs of docker_inspect, and the fields a probe
// may report.
var inspectFields = []string{"health", "status", "running", "image", "image_id", "exit_code"}

type inspectAction struct {
	inst *Instance
	i    Inspect
}

// NewInspect returns the docker_inspect action (read-only). Outputs:
// container_id, container_name, image, image_id, status, running, health,
// exit_code, restart_count, ip_addresses (network -> IP), exists. A missing
// container is an error for the step; for the probe it is the sample
// "absent" (no data for running/exit_code).
func NewInspect(inst *Instance, i Inspect) (*InspectAction, error) {
	what := inst.Name() + " docker_inspect"
	if err := i.Target.validate(what); err != nil {
		return nil, err
	}
	if i.Field == "" {
		i.Field = "health"
	}
	ok := false
	for _, f := range inspectFields {
		ok = ok || f == i.Field
	}
	if !ok {
		return nil, fmt.Errorf("%s: field %q: want one of %v: %w", what, i.Field, inspectFields, errBadArgs)
	}
	return &InspectAction{inspectAction{inst: inst, i: i}}, nil
}

// InspectAction is both a step action and a gate probe.
type InspectAction struct{ a inspectAction }

var (
	_ runbook.Action = (*InspectAction)(nil)
	_ runbook.Probe  = (*InspectAction)(nil)
)

// Describe implements runbook.Describer.
func (x *InspectAction) Describe() runbook.Description {
	return runbook.Description{Provider: x.a.inst.Name(), Action: "docker_inspect"}
}

// ReadOnly reports true.
func (x *InspectAction) ReadOnly() bool { return true }

func (x *InspectAction) outputs(ctx context.Context) (runbook.Outputs, error) {
	a := x.a
	eng, err := a.inst.Engine(ctx)
	if err != nil {
		return nil, err
	}
	c, err := resolve(ctx, eng, a.inst.where()+" docker_inspect", a.i.Target)
	if err != nil {
		return nil, err
	}
	out := runbook.Outputs{
		"container_id": c.ID, "container_name": containerName(c), "image": imageRef(c), "image_id": c.Image,
		"health": healthOf(c), "status": "", "running": false, "exit_code": 0, "restart_count": c.RestartCount, "exists": true,
	}
	if c.State != nil {
		out["status"], out["running"], out["exit_code"] = string(c.State.Status), c.State.Running, c.State.ExitCode
	}
	ips := map[string]any{}
	if c.NetworkSettings != nil {
		names := make([]string, 0, len(c.NetworkSettings.Networks))
		for n := range c.NetworkSettings.Networks {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if ep := c.NetworkSettings.Networks[n]; ep != nil && ep.IPAddress.IsValid() {
				ips[n] = ep.IPAddress.String()
			}
		}
	}
	out["ip_addresses"] = ips
	return out, nil
}

// Do returns the container's state.
func (x *InspectAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	return x.outputs(ctx)
}

// Sample implements runbook.Probe.
func (x *InspectAction) Sample(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
	out, err := x.outputs(ctx)
	if errors.Is(err, ErrNotFound) {
		switch x.a.i.Field {
		case "running", "exit_code":
			return runbook.Sample{NoData: true, Outputs: runbook.Outputs{"exists": false}}, nil
		}
		return runbook.Sample{Value: "absent", Outputs: runbook.Outputs{"exists": false}}, nil
	}
	if err != nil {
		return runbook.Sample{}, err
	}
	return runbook.Sample{Value: out[x.a.i.Field], Outputs: out}, nil
}
