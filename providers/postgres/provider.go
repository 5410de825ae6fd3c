package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/zclconf/go-cty/cty"
)

// DefaultConnectTimeout bounds connecting to the server when the provider
// block gives no connect_timeout.
const DefaultConnectTimeout = 10 * time.Second

// Config configures one database: a `provider "postgres" "name"` block.
type Config struct {
	// DSN is a PostgreSQL URL or keyword/value connection string. It is
	// sensitive: its password never appears in an error.
	DSN string
	// ConnectTimeout bounds connecting (zero: DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// Via, when set, runs pg_dump and pg_restore on another host (an SSH
	// instance); the DSN must then make sense from that host. Queries and
	// migrations always connect from here.
	Via provider.CommandRunner
	// ViaName names Via in messages ("ssh.db").
	ViaName string
}

// ClientFactory builds the client of an instance. It is called on first
// use, never by Configure.
type ClientFactory func(ctx context.Context, cfg Config) (Client, error)

// Option configures [NewInstance].
type Option func(*options)

type options struct {
	factory ClientFactory
}

// WithClientFactory replaces the real pgx adapter (the fake in postgresfake
// uses it).
func WithClientFactory(f ClientFactory) Option {
	return func(o *options) { o.factory = f }
}

func buildOptions(opts []Option) options {
	o := options{factory: NewPgxClient}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Instance is a configured database. It connects lazily, on the first
// action that needs the server, and is safe for concurrent use.
type Instance struct {
	name    string
	cfg     Config
	factory ClientFactory
	secret  string // the DSN's password, for redaction

	mu     sync.Mutex
	client Client
}

var _ provider.Instance = (*Instance)(nil)

// NewInstance returns the instance "postgres.<name>" of cfg. It checks the
// DSN's syntax but does not connect.
func NewInstance(name string, cfg Config, opts ...Option) (*Instance, error) {
	o := buildOptions(opts)
	if cfg.DSN == "" {
		return nil, fmt.Errorf("postgres.%s: dsn is empty: give a URL such as postgres://user@host:5432/db", name)
	}
	info, err := parseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres.%s: %w", name, err)
	}
	if cfg.ConnectTimeout < 0 {
		return nil, fmt.Errorf("postgres.%s: connect_timeout %s is negative", name, cfg.ConnectTimeout)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	return &Instance{name: name, cfg: cfg, factory: o.factory, secret: info.password}, nil
}

// Name returns "postgres.<name>".
func (i *Instance) Name() string { return "postgres." + i.name }

// Client returns the instance's client, connecting on first use.
func (i *Instance) Client(ctx context.Context) (Client, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.client != nil {
		return i.client, nil
	}
	c, err := i.factory(ctx, i.cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", i.Name(), err)
	}
	i.client = c
	return c, nil
}

// Close closes the instance's connections, if any were opened.
func (i *Instance) Close() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.client == nil {
		return nil
	}
	err := i.client.Close()
	i.client = nil
	return err
}

// Provider is the "postgres" provider type. The zero value uses the real
// pgx adapter: &postgres.Provider{}.
type Provider struct {
	// ClientFactory, if set, builds every instance's client (the fake of
	// package postgresfake). Nil: [NewPgxClient].
	ClientFactory ClientFactory
}

var _ provider.Provider = (*Provider)(nil)

// Type returns "postgres".
func (*Provider) Type() string { return "postgres" }

// ConfigSchema returns the provider block's schema.
func (*Provider) ConfigSchema() provider.Schema {
	return provider.Schema{
		"dsn": {Type: cty.String, Required: true, Sensitive: true,
			Description: "PostgreSQL URL (postgres://user:password@host:5432/db?sslmode=disable) or keyword/value string"},
		"connect_timeout": {Type: cty.String,
			Description: "how long connecting may take, as a Go duration (default 10s)"},
		"via": {Type: provider.InstanceType,
			Description: "an instance that runs commands (ssh.db): pg_dump and pg_restore run there"},
	}
}

// Configure returns the instance of one provider block. It does not
// connect.
func (p *Provider) Configure(_ context.Context, name string, config cty.Value) (provider.Instance, error) {
	full := "postgres." + name
	a := &ctyargs.Attrs{V: config, Where: full}
	cfg := Config{DSN: a.Str("dsn"), ConnectTimeout: positiveDuration(a, "connect_timeout")}
	via, hasVia := a.Get("via")
	if err := a.Err(); err != nil {
		return nil, err
	}
	if cfg.DSN == "" {
		return nil, fmt.Errorf("%s: dsn is required (a string such as postgres://user@host:5432/db)", full)
	}
	if hasVia {
		inst, err := provider.InstanceFromValue(via)
		if err != nil {
			return nil, fmt.Errorf("%s: via: %w", full, err)
		}
		runner, ok := inst.(provider.CommandRunner)
		if !ok {
			return nil, fmt.Errorf("%s: via = %s cannot run commands: give an instance that can (an ssh provider)", full, inst.Name())
		}
		cfg.Via, cfg.ViaName = runner, inst.Name()
	}
	var opts []Option
	if p.ClientFactory != nil {
		opts = append(opts, WithClientFactory(p.ClientFactory))
	}
	return NewInstance(name, cfg, opts...)
}

// Actions returns the provider's action types.
func (p *Provider) Actions() map[string]provider.ActionType {
	return actionTypes()
}

// instanceOf unwraps a provider.Instance into a postgres instance.
func instanceOf(action string, inst provider.Instance) (*Instance, error) {
	if inst == nil {
		return nil, fmt.Errorf("%s: no provider instance: set provider = postgres.<name>", action)
	}
	pi, ok := inst.(*Instance)
	if !ok {
		return nil, fmt.Errorf("%s: provider %s is not a postgres provider: set provider = postgres.<name>", action, inst.Name())
	}
	return pi, nil
}
