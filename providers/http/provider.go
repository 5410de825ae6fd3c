package http

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/provider/httpclient"
	"github.com/zclconf/go-cty/cty"
)

// Type is the provider type, as in `provider "http" "app" { }`.
const Type = "http"

// DefaultTimeout bounds a request when neither the action nor the provider
// sets a timeout.
const DefaultTimeout = 30 * time.Second

// Doer sends HTTP requests; *net/http.Client implements it. It is the
// provider's only dependency on the network, so fakes (package httpfake)
// replace it.
type Doer = httpclient.Doer

// Config configures an instance (one provider block).
type Config struct {
	// BaseURL is prepended to relative request URLs ("https://dcmms.com").
	BaseURL string
	// Headers are sent with every request (action headers win).
	Headers map[string]string
	// SensitiveHeaders names more headers whose values are secrets, on top
	// of the default ones (see [IsSensitiveHeader]).
	SensitiveHeaders []string
	// Timeout bounds each request (default [DefaultTimeout]).
	Timeout time.Duration
	// CAFile is a PEM bundle of CAs to trust instead of the system roots.
	CAFile string
	// ClientCertFile and ClientKeyFile are a PEM client certificate and key
	// for mutual TLS.
	ClientCertFile, ClientKeyFile string
	// InsecureSkipVerify disables TLS verification. Only when explicit.
	InsecureSkipVerify bool
}

// Provider is the "http" provider. The zero value sends real requests; set
// Client to route every instance's requests elsewhere (a fake).
type Provider struct {
	// Client, if set, sends the requests of every instance, instead of a
	// net/http client built from the instance's TLS settings.
	Client Doer
}

var _ provider.Provider = (*Provider)(nil)

// Type returns "http".
func (p *Provider) Type() string { return Type }

// ConfigSchema returns the schema of a provider "http" block.
func (p *Provider) ConfigSchema() provider.Schema {
	return provider.Schema{
		"base_url":             {Type: cty.String, Description: "Prepended to relative URLs, e.g. https://dcmms.com."},
		"headers":              {Type: cty.Map(cty.String), Description: "Headers sent with every request. Values of sensitive headers (Authorization, Cookie, *token*, *key*, *secret*, *password*) are secrets."},
		"sensitive_headers":    {Type: cty.List(cty.String), Description: "More header names whose values are secrets."},
		"timeout":              {Type: cty.String, Description: "Per-request timeout (default 30s)."},
		"ca_file":              {Type: cty.String, LocalPath: true, Description: "PEM file of CAs to trust instead of the system roots (relative: to the runbook file's directory)."},
		"client_cert_file":     {Type: cty.String, LocalPath: true, Description: "PEM client certificate for mutual TLS (relative: to the runbook file's directory)."},
		"client_key_file":      {Type: cty.String, LocalPath: true, Description: "PEM key of client_cert_file (relative: to the runbook file's directory)."},
		"insecure_skip_verify": {Type: cty.Bool, Description: "Skip TLS verification. Never the default."},
	}
}

// Configure returns an instance for `provider "http" "<name>"`. It reads no
// file and opens no connection: TLS files are loaded on first use.
func (p *Provider) Configure(ctx context.Context, name string, config cty.Value) (provider.Instance, error) {
	a := &ctyargs.Attrs{V: config, Where: "provider http." + name}
	cfg := Config{
		BaseURL: a.Str("base_url"), Headers: a.StrMap("headers"), SensitiveHeaders: a.Strs("sensitive_headers"), Timeout: a.Duration("timeout"),
		CAFile: a.Str("ca_file"), ClientCertFile: a.Str("client_cert_file"), ClientKeyFile: a.Str("client_key_file"),
		InsecureSkipVerify: a.Bool("insecure_skip_verify"),
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	inst, err := p.NewInstance(name, cfg)
	if err != nil {
		return nil, err
	}
	return inst, nil
}

// NewInstance returns a configured instance, for Go runbooks. It checks the
// configuration but touches neither files nor the network.
func (p *Provider) NewInstance(name string, cfg Config) (*Instance, error) {
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("provider http.%s: base_url %q must be an absolute http:// or https:// URL", name, httpclient.RedactURL(cfg.BaseURL))
		}
	}
	if err := cfg.tlsArgs().Check(); err != nil {
		return nil, fmt.Errorf("provider http.%s: %w", name, err)
	}
	for k := range cfg.Headers {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("provider http.%s: %q is not a valid header name", name, k)
		}
	}
	return &Instance{name: name, cfg: cfg, http: httpclient.New(Type+"."+name, p.Client, cfg.tlsArgs())}, nil
}

// tlsArgs returns the TLS arguments of the configuration.
func (c Config) tlsArgs() httpclient.TLS {
	return httpclient.TLS{CAFile: c.CAFile, ClientCertFile: c.ClientCertFile, ClientKeyFile: c.ClientKeyFile, InsecureSkipVerify: c.InsecureSkipVerify}
}

// Instance is a configured "http" provider.
type Instance struct {
	name string
	cfg  Config
	http *httpclient.Client
}

var _ provider.Instance = (*Instance)(nil)

// Name returns "http.<name>".
func (i *Instance) Name() string { return Type + "." + i.name }

// Config returns the instance's configuration.
func (i *Instance) Config() Config { return i.cfg }

// Close releases the idle connections of the instance's own client (not
// of a Doer given through Provider.Client). It implements io.Closer.
func (i *Instance) Close() error { return i.http.Close() }

// resolve makes a request URL absolute against the base URL.
func (i *Instance) resolve(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", httpclient.RedactURL(raw), err)
	}
	if u.IsAbs() {
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("url %q: scheme must be http or https", httpclient.RedactURL(raw))
		}
		return u, nil
	}
	if i.cfg.BaseURL == "" {
		return nil, fmt.Errorf("url %q is relative and provider %s has no base_url", httpclient.RedactURL(raw), i.Name())
	}
	base, err := url.Parse(i.cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("base_url: %w", err)
	}
	// Join paths so that base "https://h/api" + "v1/x" and "/v1/x" both
	// land under the base path's host; an absolute path replaces the
	// base path, as in a browser.
	return base.ResolveReference(u), nil
}

// IsSensitiveHeader reports whether a header's value is treated as a secret
// by default: Authorization, Proxy-Authorization, Cookie, Set-Cookie, and
// any name containing token, secret, key, password, auth, session,
// credential or signature (see [httpclient.IsSensitiveHeader]).
func IsSensitiveHeader(name string) bool { return httpclient.IsSensitiveHeader(name) }

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return false
		}
	}
	return true
}
