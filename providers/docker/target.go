package docker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/moby/moby/api/types/container"
)

// Compose labels that identify a service's containers.
const (
	LabelComposeProject = "com.docker.compose.project"
	LabelComposeService = "com.docker.compose.service"
)

// Suffixes of the names docker_service_update gives the containers it
// juggles: the previous one, kept for rollback, and the replacement before
// it takes the service's name.
const (
	SuffixOld = "-handrail-old"
	SuffixNew = "-handrail-new"
)

// Target selects one container: by name (or ID), or by the compose labels
// of its service.
type Target struct {
	// Container is a container name or ID.
	Container string
	// Project and Service select by compose labels; Project may be empty
	// when the service name is unique on the engine.
	Project string
	Service string
}

// String describes the target for messages.
func (t Target) String() string {
	if t.Container != "" {
		return fmt.Sprintf("container %q", t.Container)
	}
	if t.Project != "" {
		return fmt.Sprintf("compose service %q of project %q", t.Service, t.Project)
	}
	return fmt.Sprintf("compose service %q", t.Service)
}

func (t Target) validate(what string) error {
	switch {
	case t.Container == "" && t.Service == "":
		return fmt.Errorf("%s: name the container (container = \"dcmms-backend\") or its compose service (service = \"backend\", project = \"dcmms\"): %w", what, errBadArgs)
	case t.Container != "" && (t.Service != "" || t.Project != ""):
		return fmt.Errorf("%s: give container or service/project, not both: %w", what, errBadArgs)
	case t.Project != "" && t.Service == "":
		return fmt.Errorf("%s: project needs service too: %w", what, errBadArgs)
	}
	return nil
}

// targetArgs reads container, service and project; the action's
// constructor validates them.
func targetArgs(a *ctyargs.Attrs) Target {
	return Target{Container: a.Str("container"), Project: a.Str("project"), Service: a.Str("service")}
}

// containerName returns an inspected container's name without the leading
// slash.
func containerName(c container.InspectResponse) string { return strings.TrimPrefix(c.Name, "/") }

// resolve finds the target's container. Containers parked by
// docker_service_update (the -handrail-old and -handrail-new suffixes)
// never match compose labels.
func resolve(ctx context.Context, eng Engine, where string, t Target) (container.InspectResponse, error) {
	if t.Container != "" {
		c, err := eng.ContainerInspect(ctx, t.Container)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return c, fmt.Errorf("%s: %s not found: %w", where, t, err)
			}
			return c, fmt.Errorf("%s: inspect %s: %w", where, t, err)
		}
		return c, nil
	}
	labels := []string{LabelComposeService + "=" + t.Service}
	if t.Project != "" {
		labels = append(labels, LabelComposeProject+"="+t.Project)
	}
	list, err := eng.ContainerList(ctx, labels)
	if err != nil {
		return container.InspectResponse{}, fmt.Errorf("%s: list containers of %s: %w", where, t, err)
	}
	var names []string
	var ids []string
	for _, s := range list {
		name := ""
		if len(s.Names) > 0 {
			name = strings.TrimPrefix(s.Names[0], "/")
		}
		if strings.HasSuffix(name, SuffixOld) || strings.HasSuffix(name, SuffixNew) {
			continue
		}
		names = append(names, name)
		ids = append(ids, s.ID)
	}
	switch len(ids) {
	case 0:
		return container.InspectResponse{}, fmt.Errorf("%s: no container of %s: %w", where, t, ErrNotFound)
	case 1:
		c, err := eng.ContainerInspect(ctx, ids[0])
		if err != nil {
			return c, fmt.Errorf("%s: inspect %s (%s): %w", where, names[0], t, err)
		}
		return c, nil
	default:
		sort.Strings(names)
		return container.InspectResponse{}, fmt.Errorf("%s: %s has %d containers (%s); name one with container = \"...\": %w",
			where, t, len(ids), strings.Join(names, ", "), ErrAmbiguous)
	}
}

// inspectOpt inspects a container by name or ID, returning ok=false when it
// does not exist.
func inspectOpt(ctx context.Context, eng Engine, id string) (container.InspectResponse, bool, error) {
	if id == "" {
		return container.InspectResponse{}, false, nil
	}
	c, err := eng.ContainerInspect(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	return c, true, nil
}

// serviceName returns the name of the target's service container, even
// when an interrupted update left it only parked (<name>-handrail-old) or
// half-created (<name>-handrail-new).
func serviceName(ctx context.Context, eng Engine, where string, t Target) (string, error) {
	if t.Container != "" {
		return t.Container, nil
	}
	c, err := resolve(ctx, eng, where, t)
	if err == nil {
		return containerName(c), nil
	}
	if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	labels := []string{LabelComposeService + "=" + t.Service}
	if t.Project != "" {
		labels = append(labels, LabelComposeProject+"="+t.Project)
	}
	list, lerr := eng.ContainerList(ctx, labels)
	if lerr != nil {
		return "", fmt.Errorf("%s: list containers of %s: %w", where, t, lerr)
	}
	names := map[string]bool{}
	for _, s := range list {
		if len(s.Names) == 0 {
			continue
		}
		n := strings.TrimPrefix(s.Names[0], "/")
		for _, suffix := range []string{SuffixOld, SuffixNew} {
			if strings.HasSuffix(n, suffix) {
				names[strings.TrimSuffix(n, suffix)] = true
			}
		}
	}
	if len(names) == 1 {
		for n := range names {
			return n, nil
		}
	}
	return "", err
}
