package docker_test

import (
	"context"
	"testing"

	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
)

// TestRealServiceUpdateKeepsNetworks runs the backend the way compose does
// (on the project's network with the service name as alias, plus a second
// network, a named volume and an anonymous one) and checks the replacement
// keeps all of it.
func TestRealServiceUpdateKeepsNetworks(t *testing.T) {
	t.Parallel()
	inst, eng, imgs := realInstance(t)
	ctx := context.Background()
	cli, err := client.New(client.WithHost(imgs.DockerHost))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })

	name := uniqueName(t)
	netA, netB := name+"-default", name+"-backplane"
	var anon string
	for _, n := range []string{netA, netB} {
		_, err := cli.NetworkCreate(ctx, n, client.NetworkCreateOptions{Driver: "bridge"})
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		for _, n := range []string{name, name + docker.SuffixOld, name + docker.SuffixNew} {
			_ = eng.ContainerRemove(context.Background(), n)
		}
		for _, n := range []string{netA, netB} {
			_, _ = cli.NetworkRemove(context.Background(), n, client.NetworkRemoveOptions{})
		}
		for _, v := range []string{name + "-data", anon} {
			if v != "" {
				_, _ = cli.VolumeRemove(context.Background(), v, client.VolumeRemoveOptions{Force: true})
			}
		}
	})
	id, err := eng.ContainerCreate(ctx, name,
		&container.Config{Image: imgs.V029, Labels: map[string]string{docker.LabelComposeProject: name, docker.LabelComposeService: "backend"},
			Volumes: map[string]struct{}{"/scratch": {}}},
		&container.HostConfig{NetworkMode: container.NetworkMode(netA), Binds: []string{name + "-data:/data"}},
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{netA: {Aliases: []string{"backend"}}}})
	require.NoError(t, err)
	require.NoError(t, eng.NetworkConnect(ctx, netB, id, &network.EndpointSettings{Aliases: []string{"api"}}))
	require.NoError(t, eng.ContainerStart(ctx, id))
	waitHealth(t, eng, name, "healthy")
	before, err := eng.ContainerInspect(ctx, name)
	require.NoError(t, err)
	for _, m := range before.Mounts {
		if m.Destination == "/scratch" {
			anon = m.Name
		}
	}
	require.NotEmpty(t, anon)

	a := update(t, inst, docker.Target{Project: name, Service: "backend"}, imgs.V030)
	env, rec := newEnv(nil)
	_, err = a.Do(ctx, env)
	require.NoError(t, err, "events: %v", rec.messages())

	now, err := eng.ContainerInspect(ctx, name)
	require.NoError(t, err)
	require.Equal(t, imgs.V030, now.Config.Image)
	require.Equal(t, container.NetworkMode(netA), now.HostConfig.NetworkMode)
	require.Len(t, now.NetworkSettings.Networks, 2)
	require.Contains(t, now.NetworkSettings.Networks[netA].Aliases, "backend")
	require.Contains(t, now.NetworkSettings.Networks[netB].Aliases, "api")
	mounts := map[string]string{}
	for _, m := range now.Mounts {
		mounts[m.Destination] = m.Name
	}
	require.Equal(t, name+"-data", mounts["/data"])
	require.Equal(t, anon, mounts["/scratch"], "the anonymous volume is carried over")
}
