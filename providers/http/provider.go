package http

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	nethttp "net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
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
type Doer interface {
	Do(req *nethttp.Request) (*nethttp.Response, error)
}

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
		"ca_file":              {Type: cty.String, Description: "PEM file of CAs to trust instead of the system roots."},
		"client_cert_file":     {Type: cty.String, Description: "PEM client certificate for mutual TLS."},
		"client_key_file":      {Type: cty.String, Description: "PEM key of client_cert_file."},
		"insecure_skip_verify": {Type: cty.Bool, Description: "Skip TLS verification. Never the default."},
	}
}

// Configure returns an instance for `provider "http" "<name>"`. It reads no
// file and opens no connection: TLS files are loaded on first use.
func (p *Provider) Configure(ctx context.Context, name string, config cty.Value) (provider.Instance, error) {
	a := ctyargs.Of(config)
	var cfg Config
	var err error
	if cfg.BaseURL, err = a.Str("base_url"); err != nil {
		return nil, fmt.Errorf("provider http.%s: %w", name, err)
	}
	if cfg.Headers, err = a.StrMap("headers"); err != nil {
		return nil, fmt.Errorf("provider http.%s: %w", name, err)
	}
	if cfg.SensitiveHeaders, err = a.StrList("sensitive_headers"); err != nil {
		return nil, fmt.Errorf("provider http.%s: %w", name, err)
	}
	if cfg.Timeout, err = a.Duration("timeout"); err != nil {
		return nil, fmt.Errorf("provider http.%s: %w", name, err)
	}
	for _, f := range []struct {
		n string
		d *string
	}{{"ca_file", &cfg.CAFile}, {"client_cert_file", &cfg.ClientCertFile}, {"client_key_file", &cfg.ClientKeyFile}} {
		if *f.d, err = a.Str(f.n); err != nil {
			return nil, fmt.Errorf("provider http.%s: %w", name, err)
		}
	}
	if cfg.InsecureSkipVerify, err = a.Bool("insecure_skip_verify"); err != nil {
		return nil, fmt.Errorf("provider http.%s: %w", name, err)
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
			return nil, fmt.Errorf("provider http.%s: base_url %q must be an absolute http:// or https:// URL", name, redactURL(cfg.BaseURL))
		}
	}
	if (cfg.ClientCertFile == "") != (cfg.ClientKeyFile == "") {
		return nil, fmt.Errorf("provider http.%s: client_cert_file and client_key_file go together", name)
	}
	for k := range cfg.Headers {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("provider http.%s: %q is not a valid header name", name, k)
		}
	}
	return &Instance{name: name, cfg: cfg, doer: p.Client}, nil
}

// Instance is a configured "http" provider.
type Instance struct {
	name string
	cfg  Config

	mu    sync.Mutex
	ready bool
	doer  Doer
	owned bool
	err   error
}

var _ provider.Instance = (*Instance)(nil)

// Name returns "http.<name>".
func (i *Instance) Name() string { return Type + "." + i.name }

// Config returns the instance's configuration.
func (i *Instance) Config() Config { return i.cfg }

// Close releases the idle connections of the instance's own client (not
// of a Doer given through Provider.Client). It implements io.Closer.
func (i *Instance) Close() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if c, ok := i.doer.(*nethttp.Client); ok && i.owned {
		c.CloseIdleConnections()
	}
	return nil
}

// client returns the Doer, building the net/http client on first use.
func (i *Instance) client() (Doer, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.ready {
		i.ready = true
		i.init()
	}
	return i.doer, i.err
}

// init builds the net/http client from the configuration (once, under mu).
func (i *Instance) init() {
	if i.doer != nil {
		return
	}
	tr := nethttp.DefaultTransport.(*nethttp.Transport).Clone()
	tc, err := i.tlsConfig()
	if err != nil {
		i.err = err
		return
	}
	tr.TLSClientConfig = tc
	i.owned = true
	i.doer = &nethttp.Client{Transport: tr, CheckRedirect: func(req *nethttp.Request, via []*nethttp.Request) error {
		if len(via) >= 10 {
			return fmt.Errorf("stopped after 10 redirects")
		}
		return nil
	}}
}

func (i *Instance) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: i.cfg.InsecureSkipVerify} //nolint:gosec // only when explicitly asked
	if i.cfg.CAFile != "" {
		pem, err := os.ReadFile(i.cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("provider %s: ca_file: %w", i.Name(), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("provider %s: ca_file %s holds no PEM certificate", i.Name(), i.cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if i.cfg.ClientCertFile != "" {
		cert, err := tls.LoadX509KeyPair(i.cfg.ClientCertFile, i.cfg.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("provider %s: client certificate: %w", i.Name(), err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// resolve makes a request URL absolute against the base URL.
func (i *Instance) resolve(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", redactURL(raw), err)
	}
	if u.IsAbs() {
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("url %q: scheme must be http or https", redactURL(raw))
		}
		return u, nil
	}
	if i.cfg.BaseURL == "" {
		return nil, fmt.Errorf("url %q is relative and provider %s has no base_url", redactURL(raw), i.Name())
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

// defaultSensitive are header names whose values are always secrets.
var defaultSensitive = []string{"authorization", "proxy-authorization", "cookie", "set-cookie"}

// sensitiveWords mark a header as sensitive when its name contains one.
var sensitiveWords = []string{"token", "secret", "key", "password", "auth", "session", "credential", "signature"}

// IsSensitiveHeader reports whether a header's value is treated as a secret
// by default: Authorization, Proxy-Authorization, Cookie, Set-Cookie, and
// any name containing token, secret, key, password, auth, session,
// credential or signature.
func IsSensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	for _, s := range defaultSensitive {
		if n == s {
			return true
		}
	}
	for _, w := range sensitiveWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

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

// redactURL drops user info and the query string's values from a URL for
// error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?@"); i >= 0 {
			return raw[:i] + "…"
		}
		return raw
	}
	return safeURL(u)
}

func safeURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("(sensitive)")
	}
	c.Fragment = ""
	if c.RawQuery == "" {
		return c.String()
	}
	q := c.Query()
	c.RawQuery = ""
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range q[k] {
			if IsSensitiveHeader(k) {
				v = "(sensitive)"
			}
			parts = append(parts, url.QueryEscape(k)+"="+v)
		}
	}
	return c.String() + "?" + strings.Join(parts, "&")
}
