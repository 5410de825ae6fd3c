package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/handrail-dev/handrail/runbook"
)

// Cleanup is docker_cleanup: remove the previous containers that
// docker_service_update kept for rollback (<name>-handrail-old). Put it at
// the end of a runbook, after the last gate, once the release is accepted:
// from then on a rollback recreates containers from previous_image.
type Cleanup struct {
	// Targets are the service containers whose kept predecessors go.
	Targets []Target
}

type cleanupAction struct {
	inst *Instance
	c    Cleanup
}

// NewCleanup returns the docker_cleanup action. It has no rollback (a
// removed container cannot come back): declare the step irreversible.
// Outputs: removed (the names removed).
func NewCleanup(inst *Instance, c Cleanup) (runbook.Action, error) {
	what := inst.Name() + " docker_cleanup"
	if len(c.Targets) == 0 {
		return nil, fmt.Errorf("%s: name at least one container (containers = [\"dcmms-backend\"]) or service: %w", what, errBadArgs)
	}
	for _, t := range c.Targets {
		if err := t.validate(what); err != nil {
			return nil, err
		}
	}
	return &cleanupAction{inst: inst, c: c}, nil
}

// Describe implements runbook.Describer.
func (a *cleanupAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "docker_cleanup"}
}

// Do removes the kept containers that exist; absent ones are fine.
func (a *cleanupAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	eng, err := a.inst.Engine(ctx)
	if err != nil {
		return nil, err
	}
	where := a.inst.where() + " docker_cleanup"
	removed := []any{}
	for _, t := range a.c.Targets {
		name := t.Container
		if name == "" {
			c, err := resolve(ctx, eng, where, t)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			name = containerName(c)
		}
		name = strings.TrimSuffix(name, SuffixOld)
		kept, ok, err := inspectOpt(ctx, eng, name+SuffixOld)
		if err != nil {
			return nil, fmt.Errorf("%s: inspect %s: %w", where, name+SuffixOld, err)
		}
		if !ok {
			continue
		}
		env.Emit("removing kept container", map[string]string{"container": name + SuffixOld, "image": imageRef(kept)})
		if err := eng.ContainerRemove(ctx, kept.ID); err != nil {
			return nil, fmt.Errorf("%s: remove %s: %w", where, name+SuffixOld, err)
		}
		removed = append(removed, name+SuffixOld)
	}
	return runbook.Outputs{"removed": removed}, nil
}
