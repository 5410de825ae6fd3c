package aws

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// DefaultMaxAttempts is how many times the SDK tries a call that fails
// with a retryable error (throttling, 5xx, connection reset) when the
// provider block gives no max_attempts.
const DefaultMaxAttempts = 5

// Config configures one AWS account and region: a `provider "aws" "name"`
// block. Credentials come from the SDK's standard chain
// (config.LoadDefaultConfig: environment, shared config and credentials
// files with Profile, SSO, web identity, container and instance roles);
// RoleARN assumes a role on top of them with STS. Static keys are used
// only when given explicitly.
type Config struct {
	// Region overrides the region of the environment or profile.
	Region string
	// Profile selects a profile of the shared config files.
	Profile string
	// RoleARN, when set, is assumed with STS (AssumeRole) using the base
	// credentials; ExternalID and SessionName go with it.
	RoleARN     string
	ExternalID  string
	SessionName string
	// AccessKeyID, SecretAccessKey and SessionToken are static
	// credentials. The secret key and the token are sensitive.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Endpoint overrides the endpoint of every service; S3Endpoint and
	// ELBv2Endpoint override it per service (a local fake, a VPC endpoint).
	Endpoint      string
	S3Endpoint    string
	ELBv2Endpoint string
	// S3UsePathStyle addresses buckets as https://host/bucket/key rather
	// than https://bucket.host/key (needed by most S3 look-alikes).
	S3UsePathStyle bool
	// MaxAttempts bounds the SDK's retries of retryable errors (zero:
	// DefaultMaxAttempts; 1 disables retries).
	MaxAttempts int
	// RetryMaxBackoff bounds the SDK's wait between retries (zero: the
	// SDK's default, 20s).
	RetryMaxBackoff time.Duration
}

// Clients are the service clients of an instance.
type Clients struct {
	S3    S3Client
	ELBv2 ELBv2Client
}

// ClientFactory builds the clients of an instance. It is called on first
// use, never by Configure.
type ClientFactory func(ctx context.Context, cfg Config) (Clients, error)

// Option configures [NewInstance].
type Option func(*options)

type options struct {
	factory ClientFactory
	files   LocalFiles
}

// WithClientFactory replaces the real SDK adapters (the fake in awsfake
// uses it).
func WithClientFactory(f ClientFactory) Option {
	return func(o *options) { o.factory = f }
}

func buildOptions(opts []Option) options {
	o := options{factory: NewSDKClients, files: osFiles{}}
	for _, f := range opts {
		f(&o)
	}
	if o.files == nil {
		o.files = osFiles{}
	}
	return o
}

// Instance is a configured account and region. It creates its clients
// lazily, on the first action that needs them, and is safe for concurrent
// use.
type Instance struct {
	name    string
	cfg     Config
	factory ClientFactory
	files   LocalFiles

	mu      sync.Mutex
	clients *Clients
}

var _ provider.Instance = (*Instance)(nil)

// NewInstance returns the instance "aws.<name>" of cfg. It checks the
// configuration but neither reads credentials nor connects.
func NewInstance(name string, cfg Config, opts ...Option) (*Instance, error) {
	o := buildOptions(opts)
	full := "aws." + name
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, fmt.Errorf("%s: give both access_key_id and secret_access_key, or neither (to use the standard credential chain)", full)
	}
	if cfg.SessionToken != "" && cfg.AccessKeyID == "" {
		return nil, fmt.Errorf("%s: session_token needs access_key_id and secret_access_key", full)
	}
	if cfg.RoleARN == "" && (cfg.ExternalID != "" || cfg.SessionName != "") {
		return nil, fmt.Errorf("%s: external_id and session_name go with role_arn: give the role to assume", full)
	}
	for _, e := range []struct{ name, v string }{{"endpoint", cfg.Endpoint}, {"s3_endpoint", cfg.S3Endpoint}, {"elbv2_endpoint", cfg.ELBv2Endpoint}} {
		if e.v == "" {
			continue
		}
		u, err := url.Parse(e.v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s: %s %q is not a URL such as https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000", full, e.name, e.v)
		}
	}
	if cfg.MaxAttempts < 0 {
		return nil, fmt.Errorf("%s: max_attempts %d is negative", full, cfg.MaxAttempts)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.RetryMaxBackoff < 0 {
		return nil, fmt.Errorf("%s: retry_max_backoff %s is negative", full, cfg.RetryMaxBackoff)
	}
	return &Instance{name: name, cfg: cfg, factory: o.factory, files: o.files}, nil
}

// Name returns "aws.<name>".
func (i *Instance) Name() string { return "aws." + i.name }

// Clients returns the instance's clients, creating them on first use.
func (i *Instance) Clients(ctx context.Context) (Clients, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.clients != nil {
		return *i.clients, nil
	}
	c, err := i.factory(ctx, i.cfg)
	if err != nil {
		return Clients{}, fmt.Errorf("%s: %w", i.Name(), err)
	}
	i.clients = &c
	return c, nil
}

func (i *Instance) s3(ctx context.Context) (S3Client, error) {
	c, err := i.Clients(ctx)
	if err != nil {
		return nil, err
	}
	if c.S3 == nil {
		return nil, fmt.Errorf("%s: no S3 client", i.Name())
	}
	return c.S3, nil
}

func (i *Instance) elbv2(ctx context.Context) (ELBv2Client, error) {
	c, err := i.Clients(ctx)
	if err != nil {
		return nil, err
	}
	if c.ELBv2 == nil {
		return nil, fmt.Errorf("%s: no ELBv2 client", i.Name())
	}
	return c.ELBv2, nil
}

// register makes the run redact the static secrets.
func (i *Instance) register(env *runbook.Env) {
	if env == nil {
		return
	}
	if i.cfg.SecretAccessKey != "" {
		env.AddSecret(i.cfg.SecretAccessKey)
	}
	if i.cfg.SessionToken != "" {
		env.AddSecret(i.cfg.SessionToken)
	}
}

// Provider is the "aws" provider type. The zero value uses the real SDK
// adapters and the machine's disk: &aws.Provider{}.
type Provider struct {
	// ClientFactory, if set, builds every instance's clients (the fake of
	// package awsfake). Nil: [NewSDKClients].
	ClientFactory ClientFactory
	// Files, if set, is where every instance reads local files (s3_upload's
	// source) and, when they are [WritableFiles], writes s3_download's file,
	// as [WithLocalFiles]. Nil: the machine's disk.
	Files LocalFiles
}

var _ provider.Provider = (*Provider)(nil)

// options returns the instance options of the provider's fields.
func (p *Provider) options() []Option {
	var opts []Option
	if p.ClientFactory != nil {
		opts = append(opts, WithClientFactory(p.ClientFactory))
	}
	if p.Files != nil {
		opts = append(opts, WithLocalFiles(p.Files))
	}
	return opts
}

// Type returns "aws".
func (*Provider) Type() string { return "aws" }

// ConfigSchema returns the provider block's schema.
func (*Provider) ConfigSchema() provider.Schema {
	return provider.Schema{
		"region":            {Type: cty.String, Description: "AWS region (default: AWS_REGION or the profile's region)"},
		"profile":           {Type: cty.String, Description: "profile of the shared config files (~/.aws/config), SSO profiles included"},
		"role_arn":          {Type: cty.String, Description: "role to assume with STS on top of the base credentials"},
		"external_id":       {Type: cty.String, Description: "external ID required by the role's trust policy"},
		"session_name":      {Type: cty.String, Description: "role session name (default handrail)"},
		"access_key_id":     {Type: cty.String, Description: "static access key (only when given; otherwise the standard credential chain)"},
		"secret_access_key": {Type: cty.String, Sensitive: true, Description: "static secret key, with access_key_id"},
		"session_token":     {Type: cty.String, Sensitive: true, Description: "session token of temporary static credentials"},
		"endpoint":          {Type: cty.String, Description: "endpoint URL for every service"},
		"s3_endpoint":       {Type: cty.String, Description: "endpoint URL for S3 (an S3-compatible store, a VPC endpoint)"},
		"elbv2_endpoint":    {Type: cty.String, Description: "endpoint URL for Elastic Load Balancing v2"},
		"s3_use_path_style": {Type: cty.Bool, Description: "address buckets by path (http://host/bucket/key), for S3-compatible stores"},
		"max_attempts":      {Type: cty.Number, Description: "attempts of a call failing with a retryable error, throttling included (default 5)"},
		"retry_max_backoff": {Type: cty.String, Description: "longest wait between retries, as a Go duration (default 20s)"},
	}
}

// Configure returns the instance of one provider block. It neither reads
// credentials nor connects.
func (p *Provider) Configure(_ context.Context, name string, config cty.Value) (provider.Instance, error) {
	a := &ctyargs.Attrs{V: config, Where: "provider aws." + name}
	cfg := Config{
		Region: a.Str("region"), Profile: a.Str("profile"), RoleARN: a.Str("role_arn"), ExternalID: a.Str("external_id"),
		SessionName: a.Str("session_name"), AccessKeyID: a.Str("access_key_id"), SecretAccessKey: a.Str("secret_access_key"),
		SessionToken: a.Str("session_token"), Endpoint: a.Str("endpoint"), S3Endpoint: a.Str("s3_endpoint"),
		ELBv2Endpoint: a.Str("elbv2_endpoint"), S3UsePathStyle: a.Bool("s3_use_path_style"),
		MaxAttempts: a.Int("max_attempts"), RetryMaxBackoff: a.Duration("retry_max_backoff"),
	}
	if n := cfg.MaxAttempts; a.IsSet("max_attempts") && (n < 1 || n > 100) {
		a.Fail("max_attempts", fmt.Sprintf("%d is out of range: give 1 (no retry) to 100", n))
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return NewInstance(name, cfg, p.options()...)
}

// Actions returns the provider's action types.
func (p *Provider) Actions() map[string]provider.ActionType {
	return actionTypes()
}

// instanceOf unwraps a provider.Instance into an aws instance.
func instanceOf(action string, inst provider.Instance) (*Instance, error) {
	if inst == nil {
		return nil, fmt.Errorf("%s: no provider instance: set provider = aws.<name>", action)
	}
	ai, ok := inst.(*Instance)
	if !ok {
		return nil, fmt.Errorf("%s: provider %s is not an aws provider: set provider = aws.<name>", action, inst.Name())
	}
	return ai, nil
}
