package docker

import (
	"context"
	"errors"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotFound is wrapped by errors about a container or image the
	// engine does not have. Engines must wrap it for "no such object".
	ErrNotFound = errors.New("docker: not found")
	// ErrUnhealthy is wrapped by the error of a container that did not
	// become healthy (health check failed, exited, or timed out).
	ErrUnhealthy = errors.New("docker: container not healthy")
	// ErrUnexpectedExit is wrapped by the error of a docker_exec whose exit
	// code is not among the expected ones.
	ErrUnexpectedExit = errors.New("docker: unexpected exit code")
	// ErrLogsMatched is wrapped by the error of a docker_logs_check that
	// found more matching lines than allowed.
	ErrLogsMatched = errors.New("docker: log lines match")
	// ErrAmbiguous is wrapped when compose labels select several
	// containers.
	ErrAmbiguous = errors.New("docker: several containers match")
)

// Engine is the part of the Docker Engine API that Handrail's actions use.
// The real implementation talks to an engine with github.com/moby/moby/client
// (see [NewMobyEngine]); package dockerfake holds a stateful in-memory one.
//
// Every method must honour ctx. Errors for absent containers or images must
// wrap [ErrNotFound]. Containers are named by ID or by name.
type Engine interface {
	// Ping checks the engine answers and returns its API version.
	Ping(ctx context.Context) (apiVersion string, err error)
	// ImageInspect returns a local image.
	ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error)
	// ImagePull pulls ref, reporting progress messages, and returns once
	// the pull finished. auth is the X-Registry-Auth value (may be empty).
	ImagePull(ctx context.Context, ref, auth string, progress func(PullProgress)) error
	// ContainerList lists containers, stopped ones too, that carry all the
	// given labels (key=value, or key alone).
	ContainerList(ctx context.Context, labels []string) ([]container.Summary, error)
	// ContainerInspect returns a container's full configuration and state.
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	// ContainerCreate creates a container and returns its ID.
	ContainerCreate(ctx context.Context, name string, cfg *container.Config, host *container.HostConfig, nets *network.NetworkingConfig) (string, error)
	// NetworkConnect connects a created container to one more network.
	NetworkConnect(ctx context.Context, networkID, containerID string, ep *network.EndpointSettings) error
	// ContainerStart starts a container.
	ContainerStart(ctx context.Context, id string) error
	// ContainerStop stops a container, killing it after timeout.
	ContainerStop(ctx context.Context, id string, timeout time.Duration) error
	// ContainerRename renames a container.
	ContainerRename(ctx context.Context, id, newName string) error
	// ContainerSetRestartPolicy changes a container's restart policy.
	ContainerSetRestartPolicy(ctx context.Context, id string, policy container.RestartPolicy) error
	// ContainerRemove removes a container (forcibly: running ones too);
	// its named volumes stay.
	ContainerRemove(ctx context.Context, id string) error
	// Exec runs a command inside a running container and waits for it.
	Exec(ctx context.Context, id string, spec ExecSpec) (ExecResult, error)
	// Logs returns the container's log lines, oldest first.
	Logs(ctx context.Context, id string, opts LogsOptions) ([]LogLine, error)
}

// PullProgress is one progress message of a pull.
type PullProgress struct {
	// ID is the layer (or the tag) the message is about.
	ID string
	// Status is the engine's status text ("Downloading", "Pull complete").
	Status string
	// Current and Total are byte counts, when known.
	Current, Total int64
}

// ExecSpec is a command to run in a container.
type ExecSpec struct {
	// Cmd is the argv (no shell unless argv says so).
	Cmd []string
	// User, WorkingDir and Env are optional.
	User       string
	WorkingDir string
	Env        []string
}

// ExecResult is the outcome of [Engine.Exec].
type ExecResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// LogsOptions selects log lines.
type LogsOptions struct {
	// Tail is the number of last lines; 0 means all.
	Tail int
	// Since, when not zero, keeps only lines written at or after it.
	Since time.Time
}

// LogLine is one line of a container's log.
type LogLine struct {
	// Stream is "stdout" or "stderr".
	Stream string
	Text   string
}
