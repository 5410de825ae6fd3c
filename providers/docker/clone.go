package docker

import (
	"maps"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
)

// cloneSpec is what it takes to create a container like another one with a
// different image.
type cloneSpec struct {
	Config     *container.Config
	HostConfig *container.HostConfig
	// Primary is the network given at creation; Extra are connected before
	// the container starts (engines before API 1.44 accept only one network
	// at creation).
	Primary      *network.NetworkingConfig
	Extra        map[string]*network.EndpointSettings
	ExtraOrdered []string
}

// cloneFor derives the creation spec of a replacement of old running
// newRef. Values the old container inherited from its image (environment,
// command, entrypoint, labels, health check, exposed ports, volumes, working
// dir, user, stop signal) are dropped so that the new image's defaults
// apply, as `docker compose up` would do; what the operator set on the
// container is kept. oldImg may be nil when the old image is gone: then the
// container's config is kept as is.
func cloneFor(old container.InspectResponse, oldImg *image.InspectResponse, newRef string) cloneSpec {
	cfg := container.Config{}
	if old.Config != nil {
		cfg = *old.Config
	}
	cfg.Image = newRef
	// A hostname the engine derived from the container ID would name the
	// old container.
	if len(old.ID) >= 12 && cfg.Hostname == old.ID[:12] {
		cfg.Hostname = ""
	}
	if oldImg != nil && oldImg.Config != nil {
		ic := oldImg.Config
		cfg.Env = minus(cfg.Env, ic.Env)
		if slices.Equal(cfg.Cmd, ic.Cmd) {
			cfg.Cmd = nil
		}
		if slices.Equal(cfg.Entrypoint, ic.Entrypoint) {
			cfg.Entrypoint = nil
		}
		if cfg.WorkingDir == ic.WorkingDir {
			cfg.WorkingDir = ""
		}
		if cfg.User == ic.User {
			cfg.User = ""
		}
		if cfg.StopSignal == ic.StopSignal {
			cfg.StopSignal = ""
		}
		if ic.Healthcheck != nil && cfg.Healthcheck != nil && healthEqual(cfg.Healthcheck, ic.Healthcheck) {
			cfg.Healthcheck = nil
		}
		if len(cfg.Labels) > 0 {
			labels := maps.Clone(cfg.Labels)
			for k, v := range ic.Labels {
				if labels[k] == v {
					delete(labels, k)
				}
			}
			cfg.Labels = labels
		}
		if len(cfg.ExposedPorts) > 0 {
			ports := network.PortSet{}
			for p := range cfg.ExposedPorts {
				if _, inImage := ic.ExposedPorts[p.String()]; !inImage {
					ports[p] = struct{}{}
				}
			}
			cfg.ExposedPorts = ports
		}
		if len(cfg.Volumes) > 0 {
			vols := map[string]struct{}{}
			for v := range cfg.Volumes {
				if _, inImage := ic.Volumes[v]; !inImage {
					vols[v] = struct{}{}
				}
			}
			cfg.Volumes = vols
		}
		if slices.Equal(cfg.Shell, ic.Shell) {
			cfg.Shell = nil
		}
		if slices.Equal(cfg.OnBuild, ic.OnBuild) {
			cfg.OnBuild = nil
		}
	}

	host := container.HostConfig{}
	if old.HostConfig != nil {
		host = *old.HostConfig
	}
	// Anonymous volumes (the image's VOLUME, not named by the operator)
	// would be new and empty in the replacement: carry them over, as
	// compose does.
	declared := map[string]bool{}
	for _, b := range host.Binds {
		parts := strings.Split(b, ":")
		if len(parts) >= 2 {
			declared[parts[1]] = true
		}
	}
	for _, m := range host.Mounts {
		declared[m.Target] = true
	}
	mounts := slices.Clone(host.Mounts)
	for _, m := range old.Mounts {
		if m.Type == mount.TypeVolume && m.Name != "" && !declared[m.Destination] {
			mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: m.Name, Target: m.Destination, ReadOnly: !m.RW})
			if cfg.Volumes != nil {
				delete(cfg.Volumes, m.Destination)
			}
		}
	}
	host.Mounts = mounts

	spec := cloneSpec{Config: &cfg, HostConfig: &host, Extra: map[string]*network.EndpointSettings{}}
	if old.NetworkSettings != nil && len(old.NetworkSettings.Networks) > 0 && !strings.HasPrefix(string(host.NetworkMode), "container:") {
		primary := string(host.NetworkMode)
		if primary == "default" || primary == "" {
			primary = "bridge"
		}
		names := slices.Sorted(maps.Keys(old.NetworkSettings.Networks))
		for _, n := range names {
			ep := endpointFor(old.NetworkSettings.Networks[n], old.ID)
			if n == primary {
				spec.Primary = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{n: ep}}
				continue
			}
			spec.Extra[n] = ep
			spec.ExtraOrdered = append(spec.ExtraOrdered, n)
		}
		if spec.Primary == nil && len(spec.ExtraOrdered) > 0 {
			n := spec.ExtraOrdered[0]
			spec.Primary = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{n: spec.Extra[n]}}
			delete(spec.Extra, n)
			spec.ExtraOrdered = spec.ExtraOrdered[1:]
		}
	}
	return spec
}

// endpointFor keeps what the operator configured on an endpoint (static
// addresses, aliases, links, driver options) and drops what the engine
// assigned (IP, MAC, endpoint ID) and the alias that is the old ID.
func endpointFor(ep *network.EndpointSettings, oldID string) *network.EndpointSettings {
	if ep == nil {
		return &network.EndpointSettings{}
	}
	out := &network.EndpointSettings{
		IPAMConfig: ep.IPAMConfig,
		Links:      slices.Clone(ep.Links),
		DriverOpts: maps.Clone(ep.DriverOpts),
		GwPriority: ep.GwPriority,
	}
	for _, a := range ep.Aliases {
		if len(oldID) >= 12 && a == oldID[:12] {
			continue
		}
		out.Aliases = append(out.Aliases, a)
	}
	return out
}

// minus returns the entries of a not in b, in order.
func minus(a, b []string) []string {
	if len(a) == 0 {
		return a
	}
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	out := []string{}
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func healthEqual(a, b *container.HealthConfig) bool {
	return slices.Equal(a.Test, b.Test) && a.Interval == b.Interval && a.Timeout == b.Timeout &&
		a.StartPeriod == b.StartPeriod && a.Retries == b.Retries && a.StartInterval == b.StartInterval
}
