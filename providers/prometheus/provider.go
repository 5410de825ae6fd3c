package prometheus

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/provider/httpclient"
	"github.com/zclconf/go-cty/cty"
)

// Type is the provider type.
const Type = "prometheus"

// DefaultTimeout bounds a query when no timeout is configured.
const DefaultTimeout = 30 * time.Second

// Doer sends HTTP requests; *net/http.Client implements it. Fakes
// (package prometheusfake) replace it.
type Doer = httpclient.Doer

// Config configures an instance.
type Config struct {
	// URL of the Prometheus server (or a compatible API: Thanos, Mimir),
	// e.g. http://prometheus:9090. Required.
	URL string
	// Headers are sent with every query (X-Scope-OrgID for Mimir).
	Headers map[string]string
	// BearerToken, if set, is sent as "Authorization: Bearer <token>".
	BearerToken string
	// Username and Password, if set, are sent as basic authentication.
	Username, Password string
	// Timeout bounds each query (default [DefaultTimeout]); it is also
	// passed to the server as the query's timeout.
	Timeout time.Duration
	// CAFile is a PEM bundle of CAs to trust.
	CAFile string
	// InsecureSkipVerify disables TLS verification. Only when explicit.
	InsecureSkipVerify bool
}

// Provider is the "prometheus" provider. The zero value queries real
// servers; set Client to send every instance's queries elsewhere (a fake).
type Provider struct {
	Client Doer
}

var _ provider.Provider = (*Provider)(nil)

// Type returns "prometheus".
func (p *Provider) Type() string { return Type }

// ConfigSchema returns the schema of a provider "prometheus" block.
func (p *Provider) ConfigSchema() provider.Schema {
	return provider.Schema{
		"url":                  {Type: cty.String, Required: true, Description: "Prometheus server URL, e.g. http://prometheus:9090."},
		"headers":              {Type: cty.Map(cty.String), Description: "Headers sent with every query; values of sensitive ones (Authorization, Cookie, *token*, *key*, *secret*, *password*, *auth*, *session*, *credential*, *signature*) are secrets."},
		"bearer_token":         {Type: cty.String, Sensitive: true, Description: "Sent as Authorization: Bearer."},
		"username":             {Type: cty.String, Description: "Basic authentication user."},
		"password":             {Type: cty.String, Sensitive: true, Description: "Basic authentication password."},
		"timeout":              {Type: cty.String, Description: "Per-query timeout (default 30s)."},
		"ca_file":              {Type: cty.String, LocalPath: true, Description: "PEM file of CAs to trust (relative: to the runbook file's directory)."},
		"insecure_skip_verify": {Type: cty.Bool, Description: "Skip TLS verification. Never the default."},
	}
}

// Configure returns an instance; it does not connect.
func (p *Provider) Configure(ctx context.Context, name string, config cty.Value) (provider.Instance, error) {
	a := &ctyargs.Attrs{V: config, Where: "provider prometheus." + name}
	cfg := Config{
		URL: a.Str("url"), BearerToken: a.Str("bearer_token"), Username: a.Str("username"), Password: a.Str("password"),
		CAFile: a.Str("ca_file"), Headers: a.StrMap("headers"), Timeout: a.Duration("timeout"),
		InsecureSkipVerify: a.Bool("insecure_skip_verify"),
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return p.NewInstance(name, cfg)
}

// NewInstance returns a configured instance, for Go runbooks.
func (p *Provider) NewInstance(name string, cfg Config) (*Instance, error) {
	u, err := url.Parse(cfg.URL)
	if cfg.URL == "" {
		return nil, fmt.Errorf("provider prometheus.%s: url is required (e.g. http://prometheus:9090)", name)
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("provider prometheus.%s: url %q must be an absolute http:// or https:// URL", name, httpclient.RedactURL(cfg.URL))
	}
	if cfg.BearerToken != "" && cfg.Username != "" {
		return nil, fmt.Errorf("provider prometheus.%s: give bearer_token or username/password, not both", name)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("provider prometheus.%s: timeout is negative", name)
	}
	tlsArgs := httpclient.TLS{CAFile: cfg.CAFile, InsecureSkipVerify: cfg.InsecureSkipVerify}
	return &Instance{name: name, cfg: cfg, base: u, http: httpclient.New(Type+"."+name, p.Client, tlsArgs)}, nil
}

// Instance is a configured "prometheus" provider.
type Instance struct {
	name string
	cfg  Config
	base *url.URL
	http *httpclient.Client
}

var _ provider.Instance = (*Instance)(nil)

// Name returns "prometheus.<name>".
func (i *Instance) Name() string { return Type + "." + i.name }

// Close releases the idle connections of the instance's own client (not
// of a Doer given through Provider.Client). It implements io.Closer.
func (i *Instance) Close() error { return i.http.Close() }

func (i *Instance) timeout() time.Duration {
	if i.cfg.Timeout > 0 {
		return i.cfg.Timeout
	}
	return DefaultTimeout
}
