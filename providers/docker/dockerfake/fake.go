// Package dockerfake is a stateful in-memory Docker engine for Handrail's
// tests and sandbox: it tracks images, containers (name, image, state,
// health), exec results and logs, and can be scripted ("image X is
// unhealthy", "pull of X fails"). [World.Provider] is a docker provider
// whose every instance talks to the world, so runbook tests can assert
// "after rollback the backend runs 0.2.9".
package dockerfake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/providers/docker"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrConflict is wrapped by errors about a name already in use.
var ErrConflict = errors.New("dockerfake: conflict")

// Image describes a fake image.
type Image struct {
	// Ref is the reference (dcmms/backend:0.2.9).
	Ref string
	// Env and Labels are the image's defaults, merged into containers.
	Env    []string
	Labels map[string]string
	// NoHealthcheck: containers of this image have no HEALTHCHECK.
	NoHealthcheck bool
	// HealthInterval and HealthRetries are the image's HEALTHCHECK
	// --interval and --retries. When HealthInterval is set the fake
	// follows them on the world's clock ([World.SetClock]), as the engine
	// does: a started container is "starting" until its first check, one
	// interval later; it is then healthy, or, for an image set unhealthy,
	// stays "starting" until HealthRetries checks failed in a row
	// (default 3) and turns unhealthy. Zero: healthy (or unhealthy) at
	// once.
	HealthInterval time.Duration
	HealthRetries  int
}

// ContainerState is what a test sees of a container.
type ContainerState struct {
	ID      string
	Name    string
	Image   string
	ImageID string
	Running bool
	// Health is healthy, unhealthy, starting, or "" without a healthcheck.
	Health string
	Labels map[string]string
	Env    []string
}

type fakeImage struct {
	id  string
	img Image
}

type fakeContainer struct {
	id       string
	name     string
	cfg      container.Config
	host     container.HostConfig
	networks map[string]*network.EndpointSettings
	imageID  string
	running  bool
	exitCode int
	finished time.Time
	health   string
	// inspections left reporting "starting" after a start
	starting int
	// started is when it was last started, on the world's clock.
	started time.Time
	logs    []docker.LogLine
}

// World is the fake engine's state. The zero value is not usable: call
// [New]. It is safe for concurrent use.
type World struct {
	mu         sync.Mutex
	images     map[string]*fakeImage // by ref and by ID
	registry   map[string]Image      // pullable refs
	containers map[string]*fakeContainer
	unhealthy  map[string]bool  // image refs
	pullFails  map[string]error // image refs
	execs      map[string]docker.ExecResult
	startFails map[string]error
	starting   int
	now        func() time.Time
	seq        int
	ops        []string
	faults     fault.Injector
}

// New returns an empty world.
func New() *World {
	return &World{
		images: map[string]*fakeImage{}, registry: map[string]Image{}, containers: map[string]*fakeContainer{},
		unhealthy: map[string]bool{}, pullFails: map[string]error{}, execs: map[string]docker.ExecResult{},
		startFails: map[string]error{}, now: time.Now,
	}
}

// SetClock makes the engine read time (containers' stop times) from now,
// e.g. a simulated clock's Now.
func (w *World) SetClock(now func() time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = now
}

// Provider returns a docker provider whose instances all use this world.
func (w *World) Provider() provider.Provider {
	return &docker.Provider{EngineFactory: func(context.Context, docker.Config) (docker.Engine, error) { return w.Engine(), nil }}
}

// Instance returns an instance "docker.<name>" on this world, for Go
// runbooks.
func (w *World) Instance(name string) *docker.Instance {
	return docker.NewInstanceWithEngine(name, w.Engine())
}

// Calls of the fake engine that faults can be armed on with
// [World.Inject], one per Engine method that changes the world (and
// ContainerInspect, to make health polls fail or slow).
const (
	CallImagePull        = "ImagePull"
	CallContainerCreate  = "ContainerCreate"
	CallNetworkConnect   = "NetworkConnect"
	CallContainerStart   = "ContainerStart"
	CallContainerStop    = "ContainerStop"
	CallContainerRename  = "ContainerRename"
	CallContainerUpdate  = "ContainerUpdate"
	CallContainerRemove  = "ContainerRemove"
	CallExec             = "Exec"
	CallContainerInspect = "ContainerInspect"
)

// Inject arms f on the next calls named call (CallContainerRemove, ...):
// fail before the effect, apply it and lose the answer, or take time on
// f.Clock after it.
func (w *World) Inject(call string, f fault.Fault) { w.faults.Arm(call, f) }

// Faults returns the world's injector, to clear faults or count calls.
func (w *World) Faults() *fault.Injector { return &w.faults }

// Engine returns the world as a docker.Engine.
func (w *World) Engine() docker.Engine { return engine{w} }

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

// AddImage makes an image present on the engine (with a HEALTHCHECK unless
// NoHealthcheck).
func (w *World) AddImage(img Image) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.addImageLocked(img)
}

func (w *World) addImageLocked(img Image) {
	fi := &fakeImage{id: digest(img.Ref + fmt.Sprint(w.seq)), img: img}
	w.seq++
	w.images[img.Ref] = fi
	w.images[fi.id] = fi
}

// AddImages adds images by reference with defaults.
func (w *World) AddImages(refs ...string) {
	for _, r := range refs {
		w.AddImage(Image{Ref: r})
	}
}

// AddRegistryImage makes an image pullable (not present locally).
func (w *World) AddRegistryImage(img Image) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.registry[img.Ref] = img
}

// SetUnhealthy scripts "containers of image ref never become healthy".
func (w *World) SetUnhealthy(ref string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unhealthy[ref] = true
}

// FailPull scripts "a pull of ref fails with err".
func (w *World) FailPull(ref string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pullFails[ref] = err
}

// FailStart scripts "starting a container of image ref fails with err".
func (w *World) FailStart(ref string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.startFails[ref] = err
}

// SetStarting makes health read "starting" for n inspections after each
// start before it settles (default 0).
func (w *World) SetStarting(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.starting = n
}

// SetExecResult scripts the result of running argv in the container named
// name (any argv when argv is nil). Unscripted commands exit 0 silently.
func (w *World) SetExecResult(name string, argv []string, res docker.ExecResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.execs[execKey(name, argv)] = res
}

func execKey(name string, argv []string) string {
	if argv == nil {
		return name + "\x00*"
	}
	return name + "\x00" + strings.Join(argv, "\x00")
}

// AppendLogs adds lines to a container's stdout log.
func (w *World) AppendLogs(name string, lines ...string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.lookupLocked(name)
	if c == nil {
		return fmt.Errorf("dockerfake: container %s: %w", name, docker.ErrNotFound)
	}
	for _, l := range lines {
		c.logs = append(c.logs, docker.LogLine{Stream: "stdout", Text: l})
	}
	return nil
}

// RunContainer creates and starts a container from a present image, as
// `docker run -d --name name` would, and returns its ID.
func (w *World) RunContainer(name, ref string, labels map[string]string) (string, error) {
	e := engine{w}
	ctx := context.Background()
	id, err := e.ContainerCreate(ctx, name, &container.Config{Image: ref, Labels: labels},
		&container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}}, nil)
	if err != nil {
		return "", err
	}
	return id, e.ContainerStart(ctx, id)
}

// Container returns the state of the container named (or with ID) name.
func (w *World) Container(name string) (ContainerState, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.lookupLocked(name)
	if c == nil {
		return ContainerState{}, false
	}
	return c.state(), true
}

// Containers returns every container, sorted by name.
func (w *World) Containers() []ContainerState {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []ContainerState
	for _, c := range w.containers {
		out = append(out, c.state())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// HasImage reports whether ref is present on the engine.
func (w *World) HasImage(ref string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.images[ref]
	return ok
}

// Ops returns the engine operations performed, in order ("create
// backend-handrail-new dcmms/backend:0.3.0", "stop backend", ...).
func (w *World) Ops() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ops)
}

func (c *fakeContainer) state() ContainerState {
	return ContainerState{ID: c.id, Name: c.name, Image: c.cfg.Image, ImageID: c.imageID, Running: c.running,
		Health: c.health, Labels: maps.Clone(c.cfg.Labels), Env: slices.Clone(c.cfg.Env)}
}

func (w *World) lookupLocked(ref string) *fakeContainer {
	ref = strings.TrimPrefix(ref, "/")
	if c, ok := w.containers[ref]; ok {
		return c
	}
	for _, c := range w.containers {
		if c.name == ref {
			return c
		}
	}
	for _, c := range w.containers {
		if len(ref) >= 6 && strings.HasPrefix(c.id, ref) {
			return c
		}
	}
	return nil
}

// checkingLocked reports whether a running container's health checks have
// not decided yet: its image's interval (and, for an unhealthy image,
// retries) have not passed since it started.
func (w *World) checkingLocked(c *fakeContainer) bool {
	fi, ok := w.images[c.imageID]
	if !ok || fi.img.HealthInterval <= 0 || c.started.IsZero() {
		return false
	}
	wait := fi.img.HealthInterval
	if c.health == string(container.Unhealthy) {
		retries := fi.img.HealthRetries
		if retries <= 0 {
			retries = 3
		}
		wait *= time.Duration(retries)
	}
	return w.now().Before(c.started.Add(wait))
}

func (w *World) op(format string, a ...any) { w.ops = append(w.ops, fmt.Sprintf(format, a...)) }

// engine implements docker.Engine over a World.
type engine struct{ w *World }

var _ docker.Engine = engine{}

func notFound(kind, ref string) error {
	return fmt.Errorf("dockerfake: no such %s: %s: %w", kind, ref, docker.ErrNotFound)
}

// Ping implements docker.Engine.
func (e engine) Ping(ctx context.Context) (string, error) {
	return "1.41", ctx.Err()
}

// ImageInspect implements docker.Engine.
func (e engine) ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error) {
	if err := ctx.Err(); err != nil {
		return image.InspectResponse{}, err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	fi, ok := e.w.images[ref]
	if !ok {
		return image.InspectResponse{}, notFound("image", ref)
	}
	return fi.inspect(), nil
}

func (fi *fakeImage) inspect() image.InspectResponse {
	cfg := &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Env: slices.Clone(fi.img.Env), Labels: maps.Clone(fi.img.Labels)}}
	if !fi.img.NoHealthcheck {
		interval := fi.img.HealthInterval
		if interval <= 0 {
			interval = time.Second
		}
		cfg.Healthcheck = &dockerspec.HealthcheckConfig{Test: []string{"CMD", "/healthcheck"}, Interval: interval, Retries: fi.img.HealthRetries}
	}
	return image.InspectResponse{ID: fi.id, RepoTags: []string{fi.img.Ref}, Config: cfg}
}

// ImagePull implements docker.Engine (call "ImagePull").
func (e engine) ImagePull(ctx context.Context, ref, auth string, progress func(docker.PullProgress)) error {
	return e.w.faults.Do(ctx, CallImagePull, func() error { return e.imagePull(ctx, ref, auth, progress) })
}

func (e engine) imagePull(ctx context.Context, ref, auth string, progress func(docker.PullProgress)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	e.w.op("pull %s", ref)
	if err, ok := e.w.pullFails[ref]; ok {
		return err
	}
	img, ok := e.w.registry[ref]
	if !ok {
		return fmt.Errorf("dockerfake: pull access denied for %s, repository does not exist or may require 'docker login'", ref)
	}
	if progress != nil {
		progress(docker.PullProgress{ID: "layer1", Status: "Pulling fs layer"})
		progress(docker.PullProgress{ID: "layer1", Status: "Pull complete"})
	}
	e.w.addImageLocked(img)
	return nil
}

// ContainerList implements docker.Engine.
func (e engine) ContainerList(ctx context.Context, labels []string) ([]container.Summary, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	var out []container.Summary
	for _, c := range e.w.containers {
		match := true
		for _, l := range labels {
			k, v, hasV := strings.Cut(l, "=")
			got, ok := c.cfg.Labels[k]
			if !ok || (hasV && got != v) {
				match = false
			}
		}
		if match {
			out = append(out, container.Summary{ID: c.id, Names: []string{"/" + c.name}, Image: c.cfg.Image, ImageID: c.imageID, Labels: maps.Clone(c.cfg.Labels)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Names[0] < out[j].Names[0] })
	return out, nil
}

// ContainerInspect implements docker.Engine (call "ContainerInspect").
func (e engine) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	var c container.InspectResponse
	err := e.w.faults.Do(ctx, CallContainerInspect, func() error {
		var err error
		c, err = e.containerInspect(ctx, id)
		return err
	})
	if err != nil {
		return container.InspectResponse{}, err
	}
	return c, nil
}

func (e engine) containerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	if err := ctx.Err(); err != nil {
		return container.InspectResponse{}, err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	c := e.w.lookupLocked(id)
	if c == nil {
		return container.InspectResponse{}, notFound("container", id)
	}
	st := &container.State{Running: c.running, ExitCode: c.exitCode, Status: container.StateExited}
	if !c.finished.IsZero() {
		st.FinishedAt = c.finished.UTC().Format(time.RFC3339Nano)
	}
	if c.running {
		st.Status = container.StateRunning
	} else if c.exitCode == 0 && c.health == "" && len(c.logs) == 0 {
		st.Status = container.StateCreated
	}
	if c.health != "" {
		h := c.health
		if c.running && c.starting > 0 {
			c.starting--
			h = string(container.Starting)
		}
		if c.running && e.w.checkingLocked(c) {
			h = string(container.Starting)
		}
		st.Health = &container.Health{Status: container.HealthStatus(h)}
		if h == string(container.Unhealthy) {
			st.Health.Log = []*container.HealthcheckResult{{ExitCode: 1, Output: "health endpoint answered 503"}}
		}
	}
	cfg := c.cfg
	host := c.host
	nets := map[string]*network.EndpointSettings{}
	for n, ep := range c.networks {
		nets[n] = ep.Copy()
	}
	return container.InspectResponse{
		ID: c.id, Name: "/" + c.name, Image: c.imageID, State: st, Config: &cfg, HostConfig: &host,
		NetworkSettings: &container.NetworkSettings{Networks: nets},
	}, nil
}

// ContainerCreate implements docker.Engine (call "ContainerCreate").
func (e engine) ContainerCreate(ctx context.Context, name string, cfg *container.Config, host *container.HostConfig, nets *network.NetworkingConfig) (string, error) {
	var id string
	err := e.w.faults.Do(ctx, CallContainerCreate, func() error {
		var err error
		id, err = e.containerCreate(ctx, name, cfg, host, nets)
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

func (e engine) containerCreate(ctx context.Context, name string, cfg *container.Config, host *container.HostConfig, nets *network.NetworkingConfig) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	if cfg == nil || cfg.Image == "" {
		return "", errors.New("dockerfake: create: no image")
	}
	fi, ok := e.w.images[cfg.Image]
	if !ok {
		return "", notFound("image", cfg.Image)
	}
	if name != "" && e.w.lookupLocked(name) != nil {
		return "", fmt.Errorf("dockerfake: container name %q is already in use: %w", name, ErrConflict)
	}
	e.w.seq++
	id := strings.TrimPrefix(digest(fmt.Sprintf("container-%d-%s", e.w.seq, name)), "sha256:")
	if name == "" {
		name = "c" + id[:8]
	}
	c := &fakeContainer{id: id, name: name, cfg: *cfg, imageID: fi.id, networks: map[string]*network.EndpointSettings{}}
	// The engine merges the image's defaults into the container's config.
	c.cfg.Env = mergeEnv(fi.img.Env, cfg.Env)
	labels := maps.Clone(fi.img.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, cfg.Labels)
	c.cfg.Labels = labels
	if c.cfg.Healthcheck == nil && !fi.img.NoHealthcheck {
		c.cfg.Healthcheck = fi.inspect().Config.Healthcheck
	}
	if host != nil {
		c.host = *host
	}
	if nets != nil {
		for n, ep := range nets.EndpointsConfig {
			c.networks[n] = ep.Copy()
		}
	}
	if len(c.networks) == 0 {
		c.networks["bridge"] = &network.EndpointSettings{}
	}
	e.w.containers[id] = c
	e.w.op("create %s %s", name, cfg.Image)
	return id, nil
}

func mergeEnv(img, ctr []string) []string {
	out := slices.Clone(img)
	for _, kv := range ctr {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, o := range out {
			if ok, _, _ := strings.Cut(o, "="); ok == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// NetworkConnect implements docker.Engine (call "NetworkConnect").
func (e engine) NetworkConnect(ctx context.Context, networkID, containerID string, ep *network.EndpointSettings) error {
	return e.w.faults.Do(ctx, CallNetworkConnect, func() error { return e.networkConnect(ctx, networkID, containerID, ep) })
}

func (e engine) networkConnect(ctx context.Context, networkID, containerID string, ep *network.EndpointSettings) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	c := e.w.lookupLocked(containerID)
	if c == nil {
		return notFound("container", containerID)
	}
	if ep == nil {
		ep = &network.EndpointSettings{}
	}
	c.networks[networkID] = ep.Copy()
	return nil
}

// ContainerStart implements docker.Engine (call "ContainerStart").
func (e engine) ContainerStart(ctx context.Context, id string) error {
	return e.w.faults.Do(ctx, CallContainerStart, func() error { return e.containerStart(ctx, id) })
}

func (e engine) containerStart(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	c := e.w.lookupLocked(id)
	if c == nil {
		return notFound("container", id)
	}
	e.w.op("start %s %s", c.name, c.cfg.Image)
	if err, ok := e.w.startFails[c.cfg.Image]; ok {
		return err
	}
	c.running, c.exitCode = true, 0
	c.started = e.w.now()
	c.health = ""
	if c.cfg.Healthcheck != nil {
		c.health = string(container.Healthy)
		if e.w.unhealthy[c.cfg.Image] {
			c.health = string(container.Unhealthy)
		}
		c.starting = e.w.starting
	}
	c.logs = append(c.logs, docker.LogLine{Stream: "stderr", Text: fmt.Sprintf("started %s", c.cfg.Image)})
	return nil
}

// ContainerStop implements docker.Engine (call "ContainerStop").
func (e engine) ContainerStop(ctx context.Context, id string, _ time.Duration) error {
	return e.w.faults.Do(ctx, CallContainerStop, func() error { return e.containerStop(ctx, id) })
}

func (e engine) containerStop(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	c := e.w.lookupLocked(id)
	if c == nil {
		return notFound("container", id)
	}
	e.w.op("stop %s", c.name)
	if c.running {
		c.finished = e.w.now()
	}
	c.running = false
	return nil
}

// ContainerRename implements docker.Engine (call "ContainerRename").
func (e engine) ContainerRename(ctx context.Context, id, newName string) error {
	return e.w.faults.Do(ctx, CallContainerRename, func() error { return e.containerRename(ctx, id, newName) })
}

func (e engine) containerRename(ctx context.Context, id, newName string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	c := e.w.lookupLocked(id)
	if c == nil {
		return notFound("container", id)
	}
	if o := e.w.lookupLocked(newName); o != nil && o != c {
		return fmt.Errorf("dockerfake: rename %s: name %q is already in use: %w", c.name, newName, ErrConflict)
	}
	e.w.op("rename %s %s", c.name, newName)
	c.name = newName
	return nil
}

// ContainerSetRestartPolicy implements docker.Engine (call "ContainerUpdate").
func (e engine) ContainerSetRestartPolicy(ctx context.Context, id string, policy container.RestartPolicy) error {
	return e.w.faults.Do(ctx, CallContainerUpdate, func() error { return e.containerSetRestartPolicy(ctx, id, policy) })
}

func (e engine) containerSetRestartPolicy(ctx context.Context, id string, policy container.RestartPolicy) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	c := e.w.lookupLocked(id)
	if c == nil {
		return notFound("container", id)
	}
	c.host.RestartPolicy = policy
	return nil
}

// ContainerRemove implements docker.Engine (call "ContainerRemove").
func (e engine) ContainerRemove(ctx context.Context, id string) error {
	return e.w.faults.Do(ctx, CallContainerRemove, func() error { return e.containerRemove(ctx, id) })
}

func (e engine) containerRemove(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	c := e.w.lookupLocked(id)
	if c == nil {
		return notFound("container", id)
	}
	e.w.op("remove %s", c.name)
	delete(e.w.containers, c.id)
	return nil
}

// Exec implements docker.Engine (call "Exec").
func (e engine) Exec(ctx context.Context, id string, spec docker.ExecSpec) (docker.ExecResult, error) {
	var res docker.ExecResult
	err := e.w.faults.Do(ctx, CallExec, func() error {
		var err error
		res, err = e.exec(ctx, id, spec)
		return err
	})
	if err != nil {
		return docker.ExecResult{}, err
	}
	return res, nil
}

func (e engine) exec(ctx context.Context, id string, spec docker.ExecSpec) (docker.ExecResult, error) {
	if err := ctx.Err(); err != nil {
		return docker.ExecResult{}, err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	c := e.w.lookupLocked(id)
	if c == nil {
		return docker.ExecResult{}, notFound("container", id)
	}
	if !c.running {
		return docker.ExecResult{}, fmt.Errorf("dockerfake: container %s is not running", c.name)
	}
	e.w.op("exec %s %s", c.name, strings.Join(spec.Cmd, " "))
	if r, ok := e.w.execs[execKey(c.name, spec.Cmd)]; ok {
		return r, nil
	}
	if r, ok := e.w.execs[execKey(c.name, nil)]; ok {
		return r, nil
	}
	return docker.ExecResult{}, nil
}

// Logs implements docker.Engine.
func (e engine) Logs(ctx context.Context, id string, opts docker.LogsOptions) ([]docker.LogLine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	c := e.w.lookupLocked(id)
	if c == nil {
		return nil, notFound("container", id)
	}
	lines := c.logs
	if opts.Tail > 0 && len(lines) > opts.Tail {
		lines = lines[len(lines)-opts.Tail:]
	}
	return slices.Clone(lines), nil
}
