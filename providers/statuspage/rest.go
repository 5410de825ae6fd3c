package statuspage

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/handrail-dev/handrail/provider/httpclient"
)

// The adapter: *Instance implements [Incidents] over the Statuspage REST
// API v1, with the shared HTTP client (package provider/httpclient).
var _ Incidents = (*Instance)(nil)

// maxBodyBytes caps how much of an answer is read; a longer one is an
// error.
const maxBodyBytes = 1 << 20

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

// UnresolvedIncidents implements [Incidents]: GET
// /v1/pages/{page}/incidents/unresolved.
func (i *Instance) UnresolvedIncidents(ctx context.Context) ([]Incident, error) {
	var out []Incident
	err := i.do(ctx, http.MethodGet, i.base.JoinPath("v1", "pages", i.cfg.PageID, "incidents", "unresolved"), nil, &out)
	return out, err
}

func (i *Instance) call(ctx context.Context, method string, u *url.URL, in Incident) (Incident, error) {
	b, err := json.Marshal(map[string]Incident{"incident": in})
	if err != nil {
		return Incident{}, err
	}
	var out Incident
	if err := i.do(ctx, method, u, b, &out); err != nil {
		return Incident{}, err
	}
	if out.ID == "" {
		return Incident{}, fmt.Errorf("%s /%s: the answer is not an incident", method, strings.TrimPrefix(u.Path, "/"))
	}
	return out, nil
}

// do sends one request with body b (nil: none) and decodes the answer
// into out.
func (i *Instance) do(ctx context.Context, method string, u *url.URL, b []byte, out any) error {
	timeout := i.cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := httpclient.NewRequest(ctx, method, u.String(), b)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "OAuth "+i.cfg.APIKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	path := "/" + strings.TrimPrefix(u.Path, "/")
	resp, err := i.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	answer, err := httpclient.ReadBody(resp.Body, maxBodyBytes)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %w", method, path, &APIError{StatusCode: resp.StatusCode, Message: errorText(answer)})
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not what was asked for: %w", method, path, err)
	}
	return nil
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
	return httpclient.Excerpt(body, 200)
}
