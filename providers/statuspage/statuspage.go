// Package statuspage is Handrail's Statuspage provider (Atlassian
// Statuspage REST API v1): open a maintenance incident when a release
// starts, post updates, and resolve it at the end — or when the release is
// rolled back, as the natural rollback of the incident it opened.
//
//	provider "statuspage" "public" {
//	  api_key = var.statuspage_token   # sensitive
//	  page_id = var.statuspage_page_id
//	}
//
//	step "statuspage_incident" "maintenance" {
//	  name            = "Scheduled Maintenance - Release 2 Deployment"
//	  status          = "investigating"
//	  impact_override = "maintenance"
//	}
//	...
//	step "statuspage_resolve" "operational" {
//	  incident_id = step.maintenance.incident_id
//	}
//
// A notification that cannot be delivered is a warning, never a reason to
// roll back a release (delivered = false and a note), unless
// fail_on_error = true.
package statuspage

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

// Type is the provider type.
const Type = "statuspage"

// Action names.
const (
	ActionIncident = "statuspage_incident"
	ActionUpdate   = "statuspage_update"
	ActionResolve  = "statuspage_resolve"
)

// DefaultBaseURL is the Statuspage API.
const DefaultBaseURL = "https://api.statuspage.io"

// DefaultTimeout bounds a call when none is configured.
const DefaultTimeout = 15 * time.Second

// DefaultRollbackBody is the update posted when a rollback resolves the
// incident.
const DefaultRollbackBody = "The deployment was rolled back; the service runs the previous version."

// Incident statuses and impacts Statuspage accepts.
var (
	statuses = []string{"investigating", "identified", "monitoring", "resolved", "scheduled", "in_progress", "verifying", "completed"}
	impacts  = []string{"none", "minor", "major", "critical", "maintenance"}
)

// Doer sends HTTP requests; *net/http.Client implements it. Fakes
// (package statuspagefake) replace it.
type Doer = httpclient.Doer

// Config configures an instance.
type Config struct {
	// APIKey is sent as "Authorization: OAuth <key>" (a secret). Required.
	APIKey string
	// PageID is the status page. Required.
	PageID string
	// BaseURL defaults to [DefaultBaseURL].
	BaseURL string
	// Timeout bounds each call (default [DefaultTimeout]).
	Timeout time.Duration
}

// Provider is the "statuspage" provider. Set Client to send elsewhere.
type Provider struct {
	Client Doer
}

var _ provider.Provider = (*Provider)(nil)

// Type returns "statuspage".
func (p *Provider) Type() string { return Type }

// ConfigSchema returns the schema of a provider "statuspage" block.
func (p *Provider) ConfigSchema() provider.Schema {
	return provider.Schema{
		"api_key":  {Type: cty.String, Required: true, Sensitive: true, Description: "API key, sent as Authorization: OAuth <key>."},
		"page_id":  {Type: cty.String, Required: true, Description: "Status page id."},
		"base_url": {Type: cty.String, Description: "API base URL (default https://api.statuspage.io)."},
		"timeout":  {Type: cty.String, Description: "Per-call timeout (default 15s)."},
	}
}

// Configure returns an instance; it does not connect.
func (p *Provider) Configure(ctx context.Context, name string, config cty.Value) (provider.Instance, error) {
	a := &ctyargs.Attrs{V: config, Where: "provider statuspage." + name}
	cfg := Config{APIKey: a.Str("api_key"), PageID: a.Str("page_id"), BaseURL: a.Str("base_url"), Timeout: a.Duration("timeout")}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return p.NewInstance(name, cfg)
}

// NewInstance returns a configured instance, for Go runbooks.
func (p *Provider) NewInstance(name string, cfg Config) (*Instance, error) {
	if cfg.APIKey == "" {
		return nil, fmt.Errorf("provider statuspage.%s: api_key is required", name)
	}
	if cfg.PageID == "" || strings.ContainsAny(cfg.PageID, "/?#") {
		return nil, fmt.Errorf("provider statuspage.%s: page_id is required and must be a page id, e.g. kctbh9vrtdwd", name)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("provider statuspage.%s: base_url %q must be an absolute http(s) URL", name, cfg.BaseURL)
	}
	return &Instance{name: name, cfg: cfg, base: u, http: httpclient.New(Type+"."+name, p.Client, httpclient.TLS{})}, nil
}

// Instance is a configured "statuspage" provider. It implements
// [Incidents] over the REST API.
type Instance struct {
	name string
	cfg  Config
	base *url.URL
	http *httpclient.Client
}

// Name returns "statuspage.<name>".
func (i *Instance) Name() string { return Type + "." + i.name }

// Close releases the idle connections of the instance's own client (not
// of a Doer given through Provider.Client). It implements io.Closer.
func (i *Instance) Close() error { return i.http.Close() }

func oneOf(what, v string, allowed []string) error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%s %q is not one of %s", what, v, strings.Join(allowed, ", "))
}
