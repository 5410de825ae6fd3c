package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
)

// Defaults of docker_service_update.
const (
	DefaultHealthTimeout = 60 * time.Second
	DefaultStopTimeout   = 10 * time.Second
)

// ServiceUpdate is docker_service_update: replace a service's container by
// one running another image, with the same configuration, and wait until it
// is healthy.
type ServiceUpdate struct {
	// Target selects the container (name, or compose project/service).
	Target Target
	// Image is the new image reference.
	Image string
	// Pull defaults to [PullIfMissing]; Auth is used when pulling.
	Pull PullPolicy
	Auth RegistryAuth
	// HealthTimeout bounds the wait for health (default 60s).
	HealthTimeout time.Duration
	// HealthURL, if set, must answer 2xx too (probed from Handrail's
	// side, or through the instance's via connection).
	HealthURL string
	// StopTimeout is the grace period before the old container is killed
	// (default 10s).
	StopTimeout time.Duration
	// RemovePrevious removes the previous container as soon as the new one
	// is healthy. By default it is kept, stopped, as <name>-handrail-old
	// for a fast rollback, and removed by docker_cleanup or by the next
	// docker_service_update of the same container.
	RemovePrevious bool
}

type serviceUpdate struct {
	inst *Instance
	s    ServiceUpdate
}

// NewServiceUpdate returns the docker_service_update action on inst. It
// outputs container_name, container_id, image, image_id, previous_image,
// previous_image_id, previous_container_id, kept_container (empty when the
// previous container was removed), restart_policy, health and changed. Its
// natural rollback puts the previous container (or, when it is gone, a
// container recreated from previous_image) back under the service's name.
func NewServiceUpdate(inst *Instance, s ServiceUpdate) (runbook.Action, error) {
	what := inst.Name() + " docker_service_update"
	if err := s.Target.validate(what); err != nil {
		return nil, err
	}
	if s.Image == "" {
		return nil, fmt.Errorf("%s: image is required (image = \"dcmms/backend:0.3.0\"): %w", what, errBadArgs)
	}
	if s.Pull == "" {
		s.Pull = PullIfMissing
	}
	if s.HealthTimeout <= 0 {
		s.HealthTimeout = DefaultHealthTimeout
	}
	if s.StopTimeout <= 0 {
		s.StopTimeout = DefaultStopTimeout
	}
	return &serviceUpdate{inst: inst, s: s}, nil
}

// Describe implements runbook.Describer.
func (a *serviceUpdate) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "docker_service_update"}
}

// NaturalRollback implements runbook.NaturalRollback.
func (a *serviceUpdate) NaturalRollback() runbook.Rollback { return serviceRollback{a} }

func (a *serviceUpdate) where() string { return a.inst.where() + " docker_service_update" }

func (a *serviceUpdate) health() healthWait {
	return healthWait{Timeout: a.s.HealthTimeout, URL: a.s.HealthURL, client: a.inst.httpClient()}
}

// Do replaces the container. On any failure after the old container was
// stopped, the old container is put back and started before Do returns:
// the service is never left without its previous version.
func (a *serviceUpdate) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	eng, err := a.inst.Engine(ctx)
	if err != nil {
		return nil, err
	}
	where := a.where()
	cur, err := resolve(ctx, eng, where, a.s.Target)
	if errors.Is(err, ErrNotFound) {
		// An interrupted earlier attempt may have left the service's
		// container parked under its -handrail-old name.
		name, nerr := serviceName(ctx, eng, where, a.s.Target)
		if kept, ok, ierr := inspectOpt(ctx, eng, name+SuffixOld); nerr == nil && ierr == nil && ok {
			env.Emit("recovering interrupted update", map[string]string{"container": name, "kept": containerName(kept)})
			if rerr := restoreKept(ctx, env, eng, name, kept.ID, nil, a.health(), true); rerr != nil {
				return nil, fmt.Errorf("%s: recover interrupted update: %w", where, rerr)
			}
			cur, err = resolve(ctx, eng, where, a.s.Target)
		}
	}
	if err != nil {
		return nil, err
	}
	name := containerName(cur)
	if cur.HostConfig != nil && cur.HostConfig.AutoRemove {
		return nil, runbook.Permanent(fmt.Errorf("%s: %s was started with --rm (AutoRemove): stopping it would delete it and leave nothing to roll back to; recreate it without --rm first: %w", where, name, errBadArgs))
	}
	newImg, _, err := ensureImage(ctx, env, eng, where, a.s.Image, a.s.Pull, a.s.Auth)
	if err != nil {
		return nil, err
	}
	prevRef := ""
	if cur.Config != nil {
		prevRef = cur.Config.Image
	}
	out := runbook.Outputs{
		"container_name": name, "image": a.s.Image, "image_id": newImg.ID,
		"previous_image": prevRef, "previous_image_id": cur.Image, "previous_container_id": cur.ID,
		"restart_policy": restartPolicyName(cur), "kept_container": "", "changed": false,
	}
	// What the rollback needs, as it was before this step's first attempt:
	// an earlier attempt (or process) that may have changed the world
	// already checkpointed it, and its capture wins over what the world
	// shows now.
	prior := env.Checkpointed()
	earlier := outStr(prior, "previous_container_id") != "" || outStr(prior, "previous_image") != ""
	if earlier {
		for _, k := range checkpointKeys {
			if v, ok := prior[k]; ok {
				out[k] = v
			}
		}
	}
	if cur.Image == newImg.ID && prevRef == a.s.Image {
		// Already there: a re-run, or a retried or resumed attempt that got
		// this far.
		if earlier {
			if outStr(out, "previous_container_id") != cur.ID {
				out["changed"] = true
				if kept, ok, _ := inspectOpt(ctx, eng, outStr(out, "previous_container_id")); ok && containerName(kept) == name+SuffixOld {
					out["kept_container"] = containerName(kept)
				}
			}
		} else {
			// No checkpoint (a run journaled before checkpoints): a
			// container parked during this run is that attempt's previous
			// version; one kept by an earlier run is not this run's to
			// restore.
			parked, err := parkedByThisRun(ctx, env, eng, name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if kept, ok, _ := inspectOpt(ctx, eng, name+SuffixOld); parked && ok && kept.Config != nil {
				out["previous_image"], out["previous_image_id"], out["previous_container_id"] = kept.Config.Image, kept.Image, kept.ID
				out["kept_container"], out["changed"] = containerName(kept), true
			}
		}
		if cur.State == nil || !cur.State.Running {
			if err := eng.ContainerStart(ctx, cur.ID); err != nil {
				return nil, fmt.Errorf("%s: start %s: %w", where, name, err)
			}
		}
		h, err := waitHealthy(ctx, env, eng, cur.ID, name, a.health())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		out["container_id"], out["health"] = cur.ID, h
		env.Emit("container already runs the image", map[string]string{"container": name, "image": a.s.Image})
		return out, nil
	}
	if !earlier {
		cp := runbook.Outputs{}
		for _, k := range checkpointKeys {
			cp[k] = out[k]
		}
		if err := env.Checkpoint(ctx, cp); err != nil {
			return nil, fmt.Errorf("%s: record the previous container before replacing it (nothing was changed): %w", where, err)
		}
	}
	res, err := replace(ctx, env, eng, where, cur, a.s.Image, a.health(), a.s.StopTimeout, !a.s.RemovePrevious)
	if err != nil {
		return nil, err
	}
	out["container_id"], out["health"], out["kept_container"], out["changed"] = res.newID, res.health, res.kept, true
	return out, nil
}

// checkpointKeys are the outputs docker_service_update checkpoints before
// it changes anything: all its rollback needs.
var checkpointKeys = []string{"container_name", "previous_image", "previous_image_id", "previous_container_id", "restart_policy"}

// restartPolicyName returns a container's restart policy mode.
func restartPolicyName(c container.InspectResponse) string {
	if c.HostConfig == nil {
		return ""
	}
	return string(c.HostConfig.RestartPolicy.Name)
}

type replaced struct {
	newID  string
	health string
	kept   string
}

// replace swaps cur for a container of newRef with the same configuration:
// create <name>-handrail-new, stop cur, rename it <name>-handrail-old
// (restart policy off, so a daemon restart cannot start it), give the new
// one the name, start it, wait until healthy. The old one is then removed,
// unless keep. Any failure after creation undoes what was done and restarts
// cur when it was running.
func replace(ctx context.Context, env *runbook.Env, eng Engine, where string, cur container.InspectResponse, newRef string, hw healthWait, stopTimeout time.Duration, keep bool) (replaced, error) {
	name := containerName(cur)
	for _, leftover := range []string{name + SuffixOld, name + SuffixNew} {
		if c, ok, err := inspectOpt(ctx, eng, leftover); err != nil {
			return replaced{}, fmt.Errorf("%s: inspect %s: %w", where, leftover, err)
		} else if ok && c.ID != cur.ID {
			env.Emit("removing container left by an earlier update", map[string]string{"container": leftover, "image": imageRef(c)})
			if err := eng.ContainerRemove(ctx, c.ID); err != nil {
				return replaced{}, fmt.Errorf("%s: remove %s: %w", where, leftover, err)
			}
		}
	}
	var oldImg *image.InspectResponse
	if img, err := eng.ImageInspect(ctx, cur.Image); err == nil {
		oldImg = &img
	} else if !errors.Is(err, ErrNotFound) {
		return replaced{}, fmt.Errorf("%s: inspect image of %s: %w", where, name, err)
	}
	spec := cloneFor(cur, oldImg, newRef)
	newID, err := eng.ContainerCreate(ctx, name+SuffixNew, spec.Config, spec.HostConfig, spec.Primary)
	if err != nil {
		return replaced{}, fmt.Errorf("%s: create replacement of %s with %s: %w", where, name, newRef, err)
	}
	env.Emit("container created", map[string]string{"container": name + SuffixNew, "id": shortID(newID), "image": newRef})
	for _, n := range spec.ExtraOrdered {
		if err := eng.NetworkConnect(ctx, n, newID, spec.Extra[n]); err != nil {
			_ = eng.ContainerRemove(context.WithoutCancel(ctx), newID)
			return replaced{}, fmt.Errorf("%s: connect replacement of %s to network %s: %w", where, name, n, err)
		}
	}
	wasRunning := cur.State != nil && cur.State.Running
	var policy *container.RestartPolicy
	if cur.HostConfig != nil {
		p := cur.HostConfig.RestartPolicy
		policy = &p
	}
	fail := func(step string, cause error) (replaced, error) {
		env.Emit("update failed, restoring previous container", map[string]string{"container": name, "step": step, "error": cause.Error()})
		rctx := context.WithoutCancel(ctx)
		if rerr := restoreKept(rctx, env, eng, name, cur.ID, policy, hw, wasRunning); rerr != nil {
			return replaced{}, fmt.Errorf("%s: %s: %w; and restoring the previous container failed: %w", where, step, cause, rerr)
		}
		return replaced{}, fmt.Errorf("%s: %s: %w (previous container %s restored)", where, step, cause, name)
	}
	if wasRunning {
		env.Emit("stopping container", map[string]string{"container": name, "image": imageRef(cur)})
		if err := eng.ContainerStop(ctx, cur.ID, stopTimeout); err != nil {
			return fail("stop "+name, err)
		}
	}
	if err := eng.ContainerRename(ctx, cur.ID, name+SuffixOld); err != nil {
		return fail("rename "+name, err)
	}
	if policy != nil && policy.Name != "" && policy.Name != container.RestartPolicyDisabled {
		if err := eng.ContainerSetRestartPolicy(ctx, cur.ID, container.RestartPolicy{Name: container.RestartPolicyDisabled}); err != nil {
			return fail("disable restart policy of "+name+SuffixOld, err)
		}
	}
	if err := eng.ContainerRename(ctx, newID, name); err != nil {
		return fail("rename replacement", err)
	}
	env.Emit("starting container", map[string]string{"container": name, "id": shortID(newID), "image": newRef})
	if err := eng.ContainerStart(ctx, newID); err != nil {
		return fail("start "+name+" with "+newRef, err)
	}
	h, err := waitHealthy(ctx, env, eng, newID, name+" ("+newRef+")", hw)
	if err != nil {
		return fail("wait for health", err)
	}
	env.Emit("container healthy", map[string]string{"container": name, "image": newRef, "health": h})
	r := replaced{newID: newID, health: h, kept: name + SuffixOld}
	if !keep {
		if err := eng.ContainerRemove(ctx, cur.ID); err != nil {
			return r, fmt.Errorf("%s: %s runs %s, but removing the previous container failed: %w", where, name, newRef, err)
		}
		r.kept = ""
	}
	return r, nil
}

// restoreKept puts the kept container keptID (or <name>-handrail-old) back
// under name: whatever else holds name or <name>-handrail-new is removed,
// the restart policy is restored (policy, else the one of the container
// being removed), and, when start, it is started and awaited.
func restoreKept(ctx context.Context, env *runbook.Env, eng Engine, name, keptID string, policy *container.RestartPolicy, hw healthWait, start bool) error {
	if keptID == "" {
		keptID = name + SuffixOld
	}
	kept, ok, err := inspectOpt(ctx, eng, keptID)
	if err != nil {
		return fmt.Errorf("inspect kept container %s: %w", keptID, err)
	}
	if !ok {
		return fmt.Errorf("kept container %s: %w", keptID, ErrNotFound)
	}
	for _, n := range []string{name, name + SuffixNew} {
		c, ok, err := inspectOpt(ctx, eng, n)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", n, err)
		}
		if !ok || c.ID == kept.ID {
			continue
		}
		if policy == nil && c.HostConfig != nil {
			p := c.HostConfig.RestartPolicy
			policy = &p
		}
		env.Emit("removing container", map[string]string{"container": containerName(c), "image": imageRef(c)})
		if err := eng.ContainerRemove(ctx, c.ID); err != nil {
			return fmt.Errorf("remove %s: %w", containerName(c), err)
		}
	}
	if containerName(kept) != name {
		if err := eng.ContainerRename(ctx, kept.ID, name); err != nil {
			return fmt.Errorf("rename %s back to %s: %w", containerName(kept), name, err)
		}
	}
	if policy != nil && policy.Name != "" && restartPolicyName(kept) != string(policy.Name) {
		if err := eng.ContainerSetRestartPolicy(ctx, kept.ID, *policy); err != nil {
			return fmt.Errorf("restore restart policy of %s: %w", name, err)
		}
	}
	if !start {
		return nil
	}
	if kept.State == nil || !kept.State.Running {
		env.Emit("starting previous container", map[string]string{"container": name, "image": imageRef(kept)})
		if err := eng.ContainerStart(ctx, kept.ID); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
	}
	if _, err := waitHealthy(ctx, env, eng, kept.ID, name+" ("+imageRef(kept)+")", hw); err != nil {
		return err
	}
	return nil
}

func imageRef(c container.InspectResponse) string {
	if c.Config != nil && c.Config.Image != "" {
		return c.Config.Image
	}
	return c.Image
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// serviceRollback is docker_service_update's natural rollback.
type serviceRollback struct{ a *serviceUpdate }

// Describe implements runbook.Describer.
func (r serviceRollback) Describe() runbook.Description {
	return runbook.Description{Provider: r.a.inst.Name(), Action: "docker_service_update"}
}

// Compensate brings the previous version back using only the arguments and
// the step's outputs: the kept previous container when it still exists,
// else a container recreated with previous_image (by ID when the tag has
// moved). Without outputs (a failed or interrupted step), a container
// parked as <name>-handrail-old is put back if there is one.
func (r serviceRollback) Compensate(ctx context.Context, env *runbook.Env) error {
	a := r.a
	eng, err := a.inst.Engine(ctx)
	if err != nil {
		return err
	}
	where := a.inst.where() + " docker_service_update rollback"
	self := env.Self()
	name := outStr(self, "container_name")
	if name == "" {
		name = a.s.Target.Container
	}
	if name == "" {
		n, err := serviceName(ctx, eng, where, a.s.Target)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				env.Emit("nothing to roll back", map[string]string{"reason": err.Error()})
				return nil
			}
			return err
		}
		name = n
	}
	var policy *container.RestartPolicy
	if p := outStr(self, "restart_policy"); p != "" {
		policy = &container.RestartPolicy{Name: container.RestartPolicyMode(p)}
		if cur, ok, _ := inspectOpt(ctx, eng, name); ok && cur.HostConfig != nil && string(cur.HostConfig.RestartPolicy.Name) == p {
			policy.MaximumRetryCount = cur.HostConfig.RestartPolicy.MaximumRetryCount
		}
	}
	// 1. The kept container, by ID, else by its parking name when the step
	// left no outputs.
	keptID := outStr(self, "previous_container_id")
	if keptID == "" && len(self) == 0 {
		parked, err := parkedByThisRun(ctx, env, eng, name)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if !parked {
			env.Emit("nothing to roll back", map[string]string{"container": name, "reason": "the step left no outputs and parked no container in this run"})
			return nil
		}
		keptID = name + SuffixOld
	}
	if keptID != "" {
		kept, ok, err := inspectOpt(ctx, eng, keptID)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if ok && (containerName(kept) == name+SuffixOld || containerName(kept) == name) {
			if containerName(kept) == name && kept.State != nil && kept.State.Running {
				// Already back (a previous rollback attempt got here).
				env.Emit("previous container already in place", map[string]string{"container": name})
				return nil
			}
			env.Emit("restoring previous container", map[string]string{"container": name, "image": imageRef(kept)})
			if err := restoreKept(ctx, env, eng, name, kept.ID, policy, a.health(), true); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			return nil
		}
	}
	// 2. Recreate from previous_image.
	prev, prevID := outStr(self, "previous_image"), outStr(self, "previous_image_id")
	if prev == "" {
		env.Emit("nothing to roll back", map[string]string{"container": name, "reason": "no previous image recorded and no kept container"})
		return nil
	}
	cur, ok, err := inspectOpt(ctx, eng, name)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if !ok {
		return fmt.Errorf("%s: neither %s nor its kept previous container exists; recreate it with %s by hand: %w", where, name, prev, ErrNotFound)
	}
	ref := prev
	if img, err := eng.ImageInspect(ctx, prev); err != nil || (prevID != "" && img.ID != prevID) {
		if prevID == "" {
			return fmt.Errorf("%s: previous image %s is gone: %w", where, prev, err)
		}
		ref = prevID // the tag moved or vanished: use the exact image
	}
	if cur.Image == prevID || (prevID == "" && imageRef(cur) == prev) {
		env.Emit("previous image already running", map[string]string{"container": name, "image": prev})
		return nil
	}
	if _, err := eng.ImageInspect(ctx, ref); err != nil {
		return fmt.Errorf("%s: previous image %s is not on the engine any more: %w", where, prev, err)
	}
	env.Emit("recreating container with previous image", map[string]string{"container": name, "image": ref})
	if _, err := replace(ctx, env, eng, where, cur, ref, a.health(), a.s.StopTimeout, false); err != nil {
		return err
	}
	return nil
}

// clockSkew is the tolerance between the engine's clock and Handrail's when
// deciding whether a container was stopped during this run.
const clockSkew = 5 * time.Second

// parkedByThisRun tells whether <name>-handrail-old was parked by this
// run (a failed or interrupted step, which left no outputs) rather than
// kept by an earlier, accepted run: the service's container is missing, a
// replacement is half-way (<name>-handrail-new exists), or the parked
// container stopped after this run started.
func parkedByThisRun(ctx context.Context, env *runbook.Env, eng Engine, name string) (bool, error) {
	kept, ok, err := inspectOpt(ctx, eng, name+SuffixOld)
	if err != nil || !ok {
		return false, err
	}
	if _, ok, err := inspectOpt(ctx, eng, name); err != nil || !ok {
		return err == nil, err
	}
	if _, ok, err := inspectOpt(ctx, eng, name+SuffixNew); err != nil || ok {
		return ok, err
	}
	started := env.Run().StartedAt
	if started.IsZero() || kept.State == nil {
		return false, nil
	}
	finished, err := time.Parse(time.RFC3339Nano, kept.State.FinishedAt)
	if err != nil || finished.IsZero() {
		return false, nil
	}
	return !finished.Before(started.Add(-clockSkew)), nil
}

// outStr reads a string output.
func outStr(o runbook.Outputs, key string) string {
	if o == nil {
		return ""
	}
	v, _ := o[key].(string)
	return v
}
