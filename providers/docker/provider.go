package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/zclconf/go-cty/cty"
)

// DefaultHost is the engine used when neither the provider block nor
// DOCKER_HOST names one.
const DefaultHost = "unix:///var/run/docker.sock"

// DefaultRemoteSocket is the socket path dialled on the far side of `via`.
const DefaultRemoteSocket = "/var/run/docker.sock"

// Config is the configuration of one docker provider instance.
type Config struct {
	// Host is the engine in DOCKER_HOST form (unix:// or tcp://). Empty
	// means $DOCKER_HOST when the engine is built, else [DefaultHost].
	// Ignored when Via is set.
	Host string
	// Via, when set, opens every connection through this dialer (an SSH
	// provider instance), to Socket on the far side.
	Via provider.Dialer
	// ViaName names Via in messages ("ssh.app").
	ViaName string
	// Socket is the engine's unix socket on the far side of Via (default
	// [DefaultRemoteSocket]).
	Socket string
	// HealthTransport, if set, carries the health_url probes (a sandbox's
	// fake network). Nil: a connection of their own, through Via when set.
	HealthTransport http.RoundTripper
}

// EngineFactory builds the engine of an instance; it is called once, on
// first use.
type EngineFactory func(ctx context.Context, cfg Config) (Engine, error)

// Provider is the "docker" provider: it talks to a Docker engine through its
// API (no docker CLI needed), locally, at DOCKER_HOST, or through another
// provider instance's connection (`via = ssh.app`). The zero value talks to
// real engines: &docker.Provider{}.
type Provider struct {
	// EngineFactory, if set, builds every instance's engine (the in-memory
	// fake of package dockerfake). Nil: [MobyFactory].
	EngineFactory EngineFactory
	// HealthTransport, if set, carries every instance's health_url probes
	// ([Config.HealthTransport]): the sandbox routes them to its fake HTTP
	// hosts.
	HealthTransport http.RoundTripper
}

var _ provider.Provider = (*Provider)(nil)

// MobyFactory is the [EngineFactory] of real engines.
func MobyFactory(_ context.Context, cfg Config) (Engine, error) {
	if cfg.Via != nil {
		sock := cfg.Socket
		if sock == "" {
			sock = DefaultRemoteSocket
		}
		dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := cfg.Via.DialContext(ctx, "unix", sock)
			if err != nil {
				return nil, fmt.Errorf("dial %s through %s: %w", sock, cfg.ViaName, err)
			}
			return c, nil
		}
		return NewMobyEngine("unix://"+sock, dial)
	}
	host := cfg.Host
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host == "" {
		host = DefaultHost
	}
	if err := checkHost(host); err != nil {
		return nil, err
	}
	return NewMobyEngine(host, nil)
}

// Type returns "docker".
func (p *Provider) Type() string { return "docker" }

// ConfigSchema returns the schema of a `provider "docker" "name"` block.
func (p *Provider) ConfigSchema() provider.Schema {
	return provider.Schema{
		"host":   {Type: cty.String, Description: "Engine address in DOCKER_HOST form (unix:///var/run/docker.sock, tcp://host:2375); default $DOCKER_HOST, else the local socket."},
		"via":    {Type: provider.InstanceType, Description: "Another provider instance to connect through (an SSH provider: via = ssh.app); the engine's socket on that host is dialled."},
		"socket": {Type: cty.String, Description: "With via: the engine's unix socket on the far host (default /var/run/docker.sock)."},
	}
}

// Configure returns an instance for the provider block named name. It does
// not connect.
func (p *Provider) Configure(_ context.Context, name string, config cty.Value) (provider.Instance, error) {
	a := argsOf(config, "provider docker."+name)
	host, sock := a.Str("host"), a.Str("socket")
	via, hasVia := a.Get("via")
	if err := a.Err(); err != nil {
		return nil, err
	}
	cfg := Config{Host: host, Socket: sock}
	if hasVia {
		inst, err := provider.InstanceFromValue(via)
		if err != nil {
			return nil, fmt.Errorf("provider docker.%s: via: %w", name, err)
		}
		d, ok := inst.(provider.Dialer)
		if !ok {
			return nil, fmt.Errorf("provider docker.%s: via = %s: that provider cannot open connections (it does not implement provider.Dialer); use an ssh provider", name, inst.Name())
		}
		if host != "" {
			return nil, fmt.Errorf("provider docker.%s: give host or via, not both (with via, set socket to the engine's socket path on the far host)", name)
		}
		cfg.Via, cfg.ViaName = d, inst.Name()
	} else if sock != "" {
		return nil, fmt.Errorf("provider docker.%s: socket is only meaningful with via; for a local socket write host = \"unix://%s\"", name, sock)
	}
	if cfg.Via == nil && cfg.Host != "" {
		if err := checkHost(cfg.Host); err != nil {
			return nil, fmt.Errorf("provider docker.%s: %w", name, err)
		}
	}
	cfg.HealthTransport = p.HealthTransport
	return NewInstance(name, cfg, p.EngineFactory), nil
}

// checkHost refuses engine addresses the API client cannot use.
func checkHost(host string) error {
	scheme, rest, ok := strings.Cut(host, "://")
	if !ok || rest == "" {
		return fmt.Errorf("host %q: want unix:///path/to/docker.sock or tcp://host:port", host)
	}
	switch scheme {
	case "unix", "tcp", "http", "https", "npipe":
		return nil
	case "ssh":
		return fmt.Errorf("host %q: ssh:// needs the docker CLI; declare an ssh provider for that host and write via = ssh.<name> instead", host)
	default:
		return fmt.Errorf("host %q: unknown scheme %q (want unix or tcp)", host, scheme)
	}
}

// Actions returns the docker action types.
func (p *Provider) Actions() map[string]provider.ActionType { return actionTypes() }

// Instance is a configured docker provider: one engine. It connects on first
// use and is safe for concurrent use.
type Instance struct {
	name    string
	cfg     Config
	factory EngineFactory

	mu  sync.Mutex
	eng Engine
}

var (
	_ provider.Instance = (*Instance)(nil)
	_ io.Closer         = (*Instance)(nil)
)

// NewInstance returns an instance named "docker.<name>" whose engine is
// built by factory on first use (nil factory: [MobyFactory]).
func NewInstance(name string, cfg Config, factory EngineFactory) *Instance {
	if factory == nil {
		factory = MobyFactory
	}
	return &Instance{name: name, cfg: cfg, factory: factory}
}

// NewInstanceWithEngine returns an instance named "docker.<name>" that uses
// eng (a fake, or an engine built by hand).
func NewInstanceWithEngine(name string, eng Engine) *Instance {
	return &Instance{name: name, eng: eng}
}

// Name returns "docker.<name>".
func (i *Instance) Name() string { return "docker." + i.name }

// where describes the engine for messages.
func (i *Instance) where() string {
	switch {
	case i.cfg.Via != nil:
		s := i.cfg.Socket
		if s == "" {
			s = DefaultRemoteSocket
		}
		return fmt.Sprintf("%s (unix://%s via %s)", i.Name(), s, i.cfg.ViaName)
	case i.cfg.Host != "":
		return fmt.Sprintf("%s (%s)", i.Name(), i.cfg.Host)
	default:
		return i.Name()
	}
}

// Engine returns the instance's engine, building it on first use.
func (i *Instance) Engine(ctx context.Context) (Engine, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.eng != nil {
		return i.eng, nil
	}
	if i.factory == nil {
		return nil, fmt.Errorf("%s: no engine configured", i.Name())
	}
	eng, err := i.factory(ctx, i.cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", i.where(), err)
	}
	i.eng = eng
	return eng, nil
}

// httpClient returns the client for health_url probes: through Via when
// set, so that "http://127.0.0.1:8080" means the far host's loopback.
func (i *Instance) httpClient() *http.Client {
	if i.cfg.HealthTransport != nil {
		return &http.Client{Transport: i.cfg.HealthTransport}
	}
	tr := &http.Transport{DisableKeepAlives: true}
	if i.cfg.Via != nil {
		tr.DialContext = i.cfg.Via.DialContext
	}
	return &http.Client{Transport: tr}
}

// Close releases the engine's connections.
func (i *Instance) Close() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if c, ok := i.eng.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// errBadArgs is wrapped by every argument error.
var errBadArgs = errors.New("invalid arguments")

// argsOf reads the arguments v of what ("provider docker.x", "app
// docker_exec"); its errors wrap errBadArgs.
func argsOf(v cty.Value, what string) *ctyargs.Attrs {
	return &ctyargs.Attrs{V: v, Where: what, Invalid: errBadArgs}
}
