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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
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
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

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
	a := ctyargs.Of(config)
	var cfg Config
	var err error
	for _, f := range []struct {
		n string
		d *string
	}{{"api_key", &cfg.APIKey}, {"page_id", &cfg.PageID}, {"base_url", &cfg.BaseURL}} {
		if *f.d, err = a.Str(f.n); err != nil {
			return nil, fmt.Errorf("provider statuspage.%s: %w", name, err)
		}
	}
	if cfg.Timeout, err = a.Duration("timeout"); err != nil {
		return nil, fmt.Errorf("provider statuspage.%s: %w", name, err)
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
	doer := p.Client
	if doer == nil {
		doer = &http.Client{}
	}
	return &Instance{name: name, cfg: cfg, base: u, doer: doer}, nil
}

// Instance is a configured "statuspage" provider. It implements
// [Incidents] over the REST API.
type Instance struct {
	name string
	cfg  Config
	base *url.URL
	doer Doer
}

// Name returns "statuspage.<name>".
func (i *Instance) Name() string { return Type + "." + i.name }

// Incident is an incident as sent to and returned by the API. Empty
// fields are not sent.
type Incident struct {
	ID                   string   `json:"id,omitempty"`
	Name                 string   `json:"name,omitempty"`
	Status               string   `json:"status,omitempty"`
	ImpactOverride       string   `json:"impact_override,omitempty"`
	Body                 string   `json:"body,omitempty"`
	ComponentIDs         []string `json:"component_ids,omitempty"`
	DeliverNotifications *bool    `json:"deliver_notifications,omitempty"`
	Shortlink            string   `json:"shortlink,omitempty"`
}

// Incidents is what the actions need of Statuspage.
type Incidents interface {
	CreateIncident(ctx context.Context, in Incident) (Incident, error)
	UpdateIncident(ctx context.Context, id string, in Incident) (Incident, error)
}

var _ Incidents = (*Instance)(nil)

// APIError is an error answered by the API.
type APIError struct {
	StatusCode int
	Message    string
}

// Error implements error.
func (e *APIError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Message) }

// Retryable reports true for rate limits and server errors.
func (e *APIError) Retryable() bool {
	return e.StatusCode == 420 || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// CreateIncident implements [Incidents]: POST /v1/pages/{page}/incidents.
func (i *Instance) CreateIncident(ctx context.Context, in Incident) (Incident, error) {
	return i.call(ctx, http.MethodPost, i.base.JoinPath("v1", "pages", i.cfg.PageID, "incidents"), in)
}

// UpdateIncident implements [Incidents]: PATCH
// /v1/pages/{page}/incidents/{id}.
func (i *Instance) UpdateIncident(ctx context.Context, id string, in Incident) (Incident, error) {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return Incident{}, fmt.Errorf("incident id %q is not an id", id)
	}
	return i.call(ctx, http.MethodPatch, i.base.JoinPath("v1", "pages", i.cfg.PageID, "incidents", id), in)
}

func (i *Instance) call(ctx context.Context, method string, u *url.URL, in Incident) (Incident, error) {
	b, err := json.Marshal(map[string]Incident{"incident": in})
	if err != nil {
		return Incident{}, err
	}
	timeout := i.cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(b))
	if err != nil {
		return Incident{}, err
	}
	req.Header.Set("Authorization", "OAuth "+i.cfg.APIKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	path := "/" + strings.TrimPrefix(u.Path, "/")
	resp, err := i.doer.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Incident{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Incident{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Incident{}, fmt.Errorf("%s %s: %w", method, path, &APIError{StatusCode: resp.StatusCode, Message: errorText(body)})
	}
	var out Incident
	if err := json.Unmarshal(body, &out); err != nil || out.ID == "" {
		return Incident{}, fmt.Errorf("%s %s: the answer is not an incident", method, path)
	}
	return out, nil
}

// errorText extracts Statuspage's {"error": "..."} or {"error": [...]}.
func errorText(body []byte) string {
	var e struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != nil {
		switch x := e.Error.(type) {
		case string:
			return x
		case []any:
			var parts []string
			for _, p := range x {
				parts = append(parts, fmt.Sprint(p))
			}
			return strings.Join(parts, "; ")
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

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
