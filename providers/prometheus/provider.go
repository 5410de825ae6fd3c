package prometheus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/zclconf/go-cty/cty"
)

// Type is the provider type.
const Type = "prometheus"

// DefaultTimeout bounds a query when no timeout is configured.
const DefaultTimeout = 30 * time.Second

// Doer sends HTTP requests; *net/http.Client implements it. Fakes
// (package prometheusfake) replace it.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

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
		"headers":              {Type: cty.Map(cty.String), Description: "Headers sent with every query; values of sensitive ones (Authorization, Cookie, *token*, *key*, *secret*, *password*, *auth*, *session*) are secrets."},
		"bearer_token":         {Type: cty.String, Sensitive: true, Description: "Sent as Authorization: Bearer."},
		"username":             {Type: cty.String, Description: "Basic authentication user."},
		"password":             {Type: cty.String, Sensitive: true, Description: "Basic authentication password."},
		"timeout":              {Type: cty.String, Description: "Per-query timeout (default 30s)."},
		"ca_file":              {Type: cty.String, Description: "PEM file of CAs to trust."},
		"insecure_skip_verify": {Type: cty.Bool, Description: "Skip TLS verification. Never the default."},
	}
}

// Configure returns an instance; it does not connect.
func (p *Provider) Configure(ctx context.Context, name string, config cty.Value) (provider.Instance, error) {
	a := ctyargs.Of(config)
	var cfg Config
	var err error
	fail := func(err error) (provider.Instance, error) {
		return nil, fmt.Errorf("provider prometheus.%s: %w", name, err)
	}
	for _, f := range []struct {
		n string
		d *string
	}{{"url", &cfg.URL}, {"bearer_token", &cfg.BearerToken}, {"username", &cfg.Username}, {"password", &cfg.Password}, {"ca_file", &cfg.CAFile}} {
		if *f.d, err = a.Str(f.n); err != nil {
			return fail(err)
		}
	}
	if cfg.Headers, err = a.StrMap("headers"); err != nil {
		return fail(err)
	}
	if cfg.Timeout, err = a.Duration("timeout"); err != nil {
		return fail(err)
	}
	if cfg.InsecureSkipVerify, err = a.Bool("insecure_skip_verify"); err != nil {
		return fail(err)
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
		return nil, fmt.Errorf("provider prometheus.%s: url %q must be an absolute http:// or https:// URL", name, safeURL(cfg.URL))
	}
	if cfg.BearerToken != "" && cfg.Username != "" {
		return nil, fmt.Errorf("provider prometheus.%s: give bearer_token or username/password, not both", name)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("provider prometheus.%s: timeout is negative", name)
	}
	return &Instance{name: name, cfg: cfg, base: u, doer: p.Client}, nil
}

// Instance is a configured "prometheus" provider.
type Instance struct {
	name string
	cfg  Config
	base *url.URL

	mu    sync.Mutex
	ready bool
	doer  Doer
	owned bool
	err   error
}

var _ provider.Instance = (*Instance)(nil)

// Name returns "prometheus.<name>".
func (i *Instance) Name() string { return Type + "." + i.name }

// Close releases the idle connections of the instance's own client (not
// of a Doer given through Provider.Client). It implements io.Closer.
func (i *Instance) Close() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if c, ok := i.doer.(*http.Client); ok && i.owned {
		c.CloseIdleConnections()
	}
	return nil
}

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
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: i.cfg.InsecureSkipVerify} //nolint:gosec // only when explicit
	if i.cfg.CAFile != "" {
		pem, err := os.ReadFile(i.cfg.CAFile)
		if err != nil {
			i.err = fmt.Errorf("provider %s: ca_file: %w", i.Name(), err)
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			i.err = fmt.Errorf("provider %s: ca_file %s holds no PEM certificate", i.Name(), i.cfg.CAFile)
			return
		}
		tc.RootCAs = pool
	}
	tr.TLSClientConfig = tc
	i.owned = true
	i.doer = &http.Client{Transport: tr}
}

func (i *Instance) timeout() time.Duration {
	if i.cfg.Timeout > 0 {
		return i.cfg.Timeout
	}
	return DefaultTimeout
}

// safeURL hides user info of a URL for messages.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if k := strings.IndexAny(raw, "@?"); k >= 0 {
			return raw[:k] + "…"
		}
		return raw
	}
	if u.User != nil {
		u.User = url.User("(sensitive)")
	}
	return u.String()
}
