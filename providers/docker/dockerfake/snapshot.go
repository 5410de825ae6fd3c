package dockerfake

import (
	"slices"
	"strings"
)

// Snapshot returns a deep copy of the engine's state, deterministic and
// marshallable to JSON, for comparing the world before and after a run:
//
//	images:     reference -> image ID (local images only)
//	containers: name -> {image, image_id, running, health, labels, env,
//	            restart, networks}
//
// It holds what the engine contains, not how it got there: container IDs
// (a container re-created with the same name, image and settings is the
// same service), the operation log, logs, exit codes, stop times and
// scripted failures are left out.
func (w *World) Snapshot() map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	images := map[string]any{}
	for key, fi := range w.images {
		if key == fi.id && fi.img.Ref != key {
			continue // the entry by ID; the one by reference names it
		}
		images[key] = fi.id
	}
	containers := map[string]any{}
	for _, c := range w.containers {
		labels := map[string]any{}
		for k, v := range c.cfg.Labels {
			labels[k] = v
		}
		env := make([]any, 0, len(c.cfg.Env))
		for _, e := range c.cfg.Env {
			env = append(env, e)
		}
		networks := make([]any, 0, len(c.networks))
		for _, n := range sortedKeys(c.networks) {
			networks = append(networks, n)
		}
		containers[strings.TrimPrefix(c.name, "/")] = map[string]any{
			"image": c.cfg.Image, "image_id": c.imageID, "running": c.running, "health": c.health,
			"labels": labels, "env": env, "restart": string(c.host.RestartPolicy.Name), "networks": networks,
		}
	}
	return map[string]any{"images": images, "containers": containers}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
