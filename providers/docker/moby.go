package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// MobyEngine is the [Engine] of a real Docker engine, spoken to with
// github.com/moby/moby/client. The client negotiates the API version on its
// first request (it supports engines down to API 1.40, Docker 19.03).
type MobyEngine struct {
	c    *client.Client
	host string
}

var _ Engine = (*MobyEngine)(nil)

// NewMobyEngine returns an engine client for host, in DOCKER_HOST form
// (unix:///var/run/docker.sock, tcp://10.0.0.5:2375). When dial is not nil
// every connection is opened with it instead (for instance through an SSH
// connection), and host only names the socket for messages. It does not
// connect: the first call does.
func NewMobyEngine(host string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*MobyEngine, error) {
	opts := []client.Opt{client.WithHost(host)}
	if dial != nil {
		opts = append(opts, client.WithDialContext(dial))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker: client for %s: %w", host, err)
	}
	return &MobyEngine{c: c, host: host}, nil
}

// Close releases the client's idle connections.
func (m *MobyEngine) Close() error { return m.c.Close() }

// wrap turns the client's errors into ours: not-found ones wrap ErrNotFound.
func (m *MobyEngine) wrap(err error) error {
	if err == nil {
		return nil
	}
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// Ping implements [Engine]; it negotiates the API version.
func (m *MobyEngine) Ping(ctx context.Context) (string, error) {
	r, err := m.c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		return "", fmt.Errorf("docker engine at %s: %w", m.host, err)
	}
	if r.APIVersion != "" && lessVersion(r.APIVersion, client.MinAPIVersion) {
		return r.APIVersion, fmt.Errorf("docker engine at %s speaks API %s; this client needs %s or later (Docker 19.03+)", m.host, r.APIVersion, client.MinAPIVersion)
	}
	return m.c.ClientVersion(), nil
}

// lessVersion compares dotted API versions ("1.41" < "1.5" is false).
func lessVersion(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// ImageInspect implements [Engine].
func (m *MobyEngine) ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error) {
	r, err := m.c.ImageInspect(ctx, ref)
	if err != nil {
		return image.InspectResponse{}, m.wrap(err)
	}
	return r.InspectResponse, nil
}

// ImagePull implements [Engine].
func (m *MobyEngine) ImagePull(ctx context.Context, ref, auth string, progress func(PullProgress)) error {
	resp, err := m.c.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return m.wrap(err)
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return m.wrap(err)
		}
		if msg.Error != nil {
			return errors.New(msg.Error.Message)
		}
		if progress != nil && msg.Status != "" {
			p := PullProgress{ID: msg.ID, Status: msg.Status}
			if msg.Progress != nil {
				p.Current, p.Total = msg.Progress.Current, msg.Progress.Total
			}
			progress(p)
		}
	}
	return nil
}

// ContainerList implements [Engine].
func (m *MobyEngine) ContainerList(ctx context.Context, labels []string) ([]container.Summary, error) {
	f := client.Filters{}
	if len(labels) > 0 {
		f.Add("label", labels...)
	}
	r, err := m.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, m.wrap(err)
	}
	return r.Items, nil
}

// ContainerInspect implements [Engine].
func (m *MobyEngine) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	r, err := m.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, m.wrap(err)
	}
	return r.Container, nil
}

// ContainerCreate implements [Engine].
func (m *MobyEngine) ContainerCreate(ctx context.Context, name string, cfg *container.Config, host *container.HostConfig, nets *network.NetworkingConfig) (string, error) {
	r, err := m.c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: host, NetworkingConfig: nets})
	if err != nil {
		return "", m.wrap(err)
	}
	return r.ID, nil
}

// NetworkConnect implements [Engine].
func (m *MobyEngine) NetworkConnect(ctx context.Context, networkID, containerID string, ep *network.EndpointSettings) error {
	_, err := m.c.NetworkConnect(ctx, networkID, client.NetworkConnectOptions{Container: containerID, EndpointConfig: ep})
	return m.wrap(err)
}

// ContainerStart implements [Engine].
func (m *MobyEngine) ContainerStart(ctx context.Context, id string) error {
	_, err := m.c.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return m.wrap(err)
}

// ContainerStop implements [Engine].
func (m *MobyEngine) ContainerStop(ctx context.Context, id string, timeout time.Duration) error {
	secs := int(timeout / time.Second)
	_, err := m.c.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs})
	return m.wrap(err)
}

// ContainerRename implements [Engine].
func (m *MobyEngine) ContainerRename(ctx context.Context, id, newName string) error {
	_, err := m.c.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: newName})
	return m.wrap(err)
}

// ContainerSetRestartPolicy implements [Engine].
func (m *MobyEngine) ContainerSetRestartPolicy(ctx context.Context, id string, policy container.RestartPolicy) error {
	_, err := m.c.ContainerUpdate(ctx, id, client.ContainerUpdateOptions{RestartPolicy: &policy})
	return m.wrap(err)
}

// ContainerRemove implements [Engine].
func (m *MobyEngine) ContainerRemove(ctx context.Context, id string) error {
	_, err := m.c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	return m.wrap(err)
}

// Exec implements [Engine]: create, attach, demultiplex, inspect the exit
// code.
func (m *MobyEngine) Exec(ctx context.Context, id string, spec ExecSpec) (ExecResult, error) {
	cr, err := m.c.ExecCreate(ctx, id, client.ExecCreateOptions{
		Cmd: spec.Cmd, User: spec.User, WorkingDir: spec.WorkingDir, Env: spec.Env,
		AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return ExecResult{}, m.wrap(err)
	}
	att, err := m.c.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, m.wrap(err)
	}
	defer att.Close()
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, io.EOF) {
			return ExecResult{}, fmt.Errorf("read exec output: %w", err)
		}
	case <-ctx.Done():
		att.Close()
		<-done
		return ExecResult{}, ctx.Err()
	}
	ins, err := m.c.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
	if err != nil {
		return ExecResult{}, m.wrap(err)
	}
	return ExecResult{ExitCode: ins.ExitCode, Stdout: stdout.String(), Stderr: stderr.String()}, nil
}

// Logs implements [Engine]. Containers with a TTY have a single stream,
// reported as stdout.
func (m *MobyEngine) Logs(ctx context.Context, id string, opts LogsOptions) ([]LogLine, error) {
	ins, err := m.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, m.wrap(err)
	}
	lo := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "all"}
	if opts.Tail > 0 {
		lo.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		lo.Since = strconv.FormatInt(opts.Since.Unix(), 10)
	}
	rc, err := m.c.ContainerLogs(ctx, id, lo)
	if err != nil {
		return nil, m.wrap(err)
	}
	defer rc.Close()
	var lines []LogLine
	out := &lineWriter{stream: "stdout", lines: &lines}
	errw := &lineWriter{stream: "stderr", lines: &lines}
	if ins.Container.Config != nil && ins.Container.Config.Tty {
		_, err = io.Copy(out, rc)
	} else {
		_, err = stdcopy.StdCopy(out, errw, rc)
	}
	if err != nil {
		return nil, fmt.Errorf("read logs of %s: %w", id, err)
	}
	out.flush()
	errw.flush()
	return lines, nil
}

// lineWriter splits a stream into lines appended to a slice shared with the
// other stream, so that lines keep the order of the engine's frames.
type lineWriter struct {
	stream  string
	lines   *[]LogLine
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		*w.lines = append(*w.lines, LogLine{Stream: w.stream, Text: strings.TrimSuffix(string(w.partial[:i]), "\r")})
		w.partial = w.partial[i+1:]
	}
}

func (w *lineWriter) flush() {
	if len(w.partial) > 0 {
		*w.lines = append(*w.lines, LogLine{Stream: w.stream, Text: string(w.partial)})
		w.partial = nil
	}
}
