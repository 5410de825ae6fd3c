package statuspage

// The client interface: what the actions need of Statuspage, with the
// types they exchange. rest.go implements it over the REST API; the fake
// (package statuspagefake) answers the same API in process.

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

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
	// CreatedAt is set by the API (never sent).
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Incidents is what the actions need of Statuspage.
type Incidents interface {
	CreateIncident(ctx context.Context, in Incident) (Incident, error)
	UpdateIncident(ctx context.Context, id string, in Incident) (Incident, error)
	// UnresolvedIncidents lists the page's open incidents (to find one
	// whose creation lost its answer).
	UnresolvedIncidents(ctx context.Context) ([]Incident, error)
}

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
