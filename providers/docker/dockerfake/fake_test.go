package dockerfake_test

import (
	"context"
	"testing"

	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/docker/dockerfake"
	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/require"
)

func TestWorld(t *testing.T) {
	ctx := context.Background()
	w := dockerfake.New()
	w.AddImage(dockerfake.Image{Ref: "app:1", Env: []string{"A=1", "B=1"}, Labels: map[string]string{"v": "1"}})
	eng := w.Engine()

	_, err := eng.ImageInspect(ctx, "app:2")
	require.ErrorIs(t, err, docker.ErrNotFound)
	require.Error(t, eng.ImagePull(ctx, "app:2", "", nil))
	w.AddRegistryImage(dockerfake.Image{Ref: "app:2"})
	var statuses []string
	require.NoError(t, eng.ImagePull(ctx, "app:2", "", func(p docker.PullProgress) { statuses = append(statuses, p.Status) }))
	require.True(t, w.HasImage("app:2"))
	require.NotEmpty(t, statuses)

	id, err := eng.ContainerCreate(ctx, "web", &container.Config{Image: "app:1", Env: []string{"B=2"}, Labels: map[string]string{"x": "y"}}, nil, nil)
	require.NoError(t, err)
	_, err = eng.ContainerCreate(ctx, "web", &container.Config{Image: "app:1"}, nil, nil)
	require.ErrorIs(t, err, dockerfake.ErrConflict)
	c, ok := w.Container("web")
	require.True(t, ok)
	require.Equal(t, []string{"A=1", "B=2"}, c.Env, "image env merged, container wins")
	require.Equal(t, map[string]string{"v": "1", "x": "y"}, c.Labels)
	require.False(t, c.Running)

	w.SetUnhealthy("app:1")
	require.NoError(t, eng.ContainerStart(ctx, id))
	c, _ = w.Container(id)
	require.Equal(t, "unhealthy", c.Health)

	w.SetExecResult("web", []string{"ping"}, docker.ExecResult{ExitCode: 3, Stdout: "no"})
	res, err := eng.Exec(ctx, "web", docker.ExecSpec{Cmd: []string{"ping"}})
	require.NoError(t, err)
	require.Equal(t, 3, res.ExitCode)

	require.NoError(t, w.AppendLogs("web", "one", "two"))
	lines, err := eng.Logs(ctx, "web", docker.LogsOptions{Tail: 1})
	require.NoError(t, err)
	require.Equal(t, []docker.LogLine{{Stream: "stdout", Text: "two"}}, lines)

	require.NoError(t, eng.ContainerRename(ctx, id, "web2"))
	list, err := eng.ContainerList(ctx, []string{"x=y"})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "/web2", list[0].Names[0])
	require.NoError(t, eng.ContainerRemove(ctx, "web2"))
	require.Empty(t, w.Containers())
	require.Equal(t, []string{"pull app:2", "pull app:2", "create web app:1", "start web app:1", "exec web ping", "rename web web2", "remove web2"}, w.Ops())
}
