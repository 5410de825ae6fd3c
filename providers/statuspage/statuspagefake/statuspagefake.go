// Package statuspagefake is a stateful in-memory fake of the Statuspage
// REST API v1: incidents with their status and updates, so that tests can
// assert "the maintenance incident was opened, and resolved by the
// rollback".
//
// A [World] is an http.Handler (serve it with httptest and give its URL as
// the provider's base_url) and, through [World.Provider], the in-process
// transport of a statuspage provider.
package statuspagefake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/httpclient"
	"github.com/handrail-dev/handrail/providers/statuspage"
	"github.com/handrail-dev/handrail/runbook"
)

// Update is one status change or message of an incident.
type Update struct {
	Status string
	Body   string
	Time   time.Time
}

// Incident is an incident as the fake holds it.
type Incident struct {
	ID             string
	PageID         string
	Name           string
	Status         string
	ImpactOverride string
	ComponentIDs   []string
	Updates        []Update
	CreatedAt      time.Time
	ResolvedAt     time.Time
}

// Resolved reports whether the incident is closed (resolved or
// completed).
func (i Incident) Resolved() bool { return i.Status == "resolved" || i.Status == "completed" }

// Request is one recorded API call.
type Request struct {
	Method        string
	Path          string
	Authorization string
	Body          string
}

// World is the fake. Create it with [New].
type World struct {
	mu         sync.Mutex
	clock      runbook.Clock
	key        string
	incidents  []*Incident
	requests   []Request
	failStatus int
	failMsg    string
	seq        int
	faults     fault.Injector
}

// Faults returns the world's fault injector. Calls through [World.Do] go
// through it by name: "CreateIncident" (POST) and "UpdateIncident" (PATCH,
// PUT). Arm a fault to fail one before its effect, apply it and lose the
// answer, or hold the answer on the run's clock (see package fault).
func (w *World) Faults() *fault.Injector { return &w.faults }

// New returns a world that accepts the API key key (any key when empty).
func New(key string) *World { return &World{clock: runbook.RealClock{}, key: key} }

// SetClock sets the clock that stamps incidents and updates.
func (w *World) SetClock(c runbook.Clock) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clock = c
}

// Provider returns a statuspage provider whose calls all reach this world.
func (w *World) Provider() provider.Provider { return &statuspage.Provider{Client: w} }

// Refuse makes every following call answer status with message (0
// accepts again).
func (w *World) Refuse(status int, message string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failStatus, w.failMsg = status, message
}

// Incidents returns every incident, in creation order.
func (w *World) Incidents() []Incident {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Incident, len(w.incidents))
	for k, i := range w.incidents {
		out[k] = *i
		out[k].Updates = append([]Update(nil), i.Updates...)
	}
	return out
}

// Open returns the incidents that are not resolved.
func (w *World) Open() []Incident {
	var out []Incident
	for _, i := range w.Incidents() {
		if !i.Resolved() {
			out = append(out, i)
		}
	}
	return out
}

// Requests returns every API call received, in order.
func (w *World) Requests() []Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Request(nil), w.requests...)
}

type payload struct {
	Incident struct {
		Name           string   `json:"name"`
		Status         string   `json:"status"`
		ImpactOverride string   `json:"impact_override"`
		Body           string   `json:"body"`
		ComponentIDs   []string `json:"component_ids"`
	} `json:"incident"`
}

// ServeHTTP implements POST /v1/pages/{page}/incidents, PATCH and GET
// /v1/pages/{page}/incidents/{id}, GET /v1/pages/{page}/incidents and GET
// /v1/pages/{page}/incidents/unresolved.
func (w *World) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests = append(w.requests, Request{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Body: string(body)})
	if w.key != "" && r.Header.Get("Authorization") != "OAuth "+w.key {
		writeErr(rw, http.StatusUnauthorized, "Could not authenticate")
		return
	}
	if w.failStatus != 0 {
		writeErr(rw, w.failStatus, w.failMsg)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 4 || parts[0] != "v1" || parts[1] != "pages" || parts[3] != "incidents" || len(parts) > 5 {
		writeErr(rw, http.StatusNotFound, "not found")
		return
	}
	page := parts[2]
	now := w.clock.Now()
	var p payload
	if len(body) > 0 {
		if err := json.Unmarshal(body, &p); err != nil {
			writeErr(rw, http.StatusBadRequest, "body is not JSON: "+err.Error())
			return
		}
	}
	switch {
	case len(parts) == 4 && r.Method == http.MethodPost:
		if p.Incident.Name == "" {
			writeErr(rw, http.StatusUnprocessableEntity, "Name can't be blank")
			return
		}
		w.seq++
		in := &Incident{ID: fmt.Sprintf("inc%04d", w.seq), PageID: page, Name: p.Incident.Name, Status: p.Incident.Status,
			ImpactOverride: p.Incident.ImpactOverride, ComponentIDs: p.Incident.ComponentIDs, CreatedAt: now}
		if in.Status == "" {
			in.Status = "investigating"
		}
		in.Updates = []Update{{Status: in.Status, Body: p.Incident.Body, Time: now}}
		if in.Resolved() {
			in.ResolvedAt = now
		}
		w.incidents = append(w.incidents, in)
		writeJSON(rw, http.StatusCreated, view(in))
	case len(parts) == 4 && r.Method == http.MethodGet:
		var list []map[string]any
		for _, in := range w.incidents {
			if in.PageID == page {
				list = append(list, view(in))
			}
		}
		writeJSON(rw, http.StatusOK, list)
	case len(parts) == 5 && parts[4] == "unresolved" && r.Method == http.MethodGet:
		list := []map[string]any{}
		for _, in := range w.incidents {
			if in.PageID == page && !in.Resolved() {
				list = append(list, view(in))
			}
		}
		writeJSON(rw, http.StatusOK, list)
	case len(parts) == 5:
		var in *Incident
		for _, x := range w.incidents {
			if x.ID == parts[4] && x.PageID == page {
				in = x
			}
		}
		if in == nil {
			writeErr(rw, http.StatusNotFound, "Incident not found")
			return
		}
		switch r.Method {
		case http.MethodGet:
		case http.MethodPatch, http.MethodPut:
			if p.Incident.Name != "" {
				in.Name = p.Incident.Name
			}
			if p.Incident.ImpactOverride != "" {
				in.ImpactOverride = p.Incident.ImpactOverride
			}
			if p.Incident.Status != "" {
				in.Status = p.Incident.Status
			}
			in.Updates = append(in.Updates, Update{Status: in.Status, Body: p.Incident.Body, Time: now})
			if in.Resolved() && in.ResolvedAt.IsZero() {
				in.ResolvedAt = now
			}
		default:
			writeErr(rw, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		writeJSON(rw, http.StatusOK, view(in))
	default:
		writeErr(rw, http.StatusMethodNotAllowed, "method not allowed")
	}
}

func view(in *Incident) map[string]any {
	var resolved any
	if !in.ResolvedAt.IsZero() {
		resolved = in.ResolvedAt.UTC().Format(time.RFC3339)
	}
	return map[string]any{"id": in.ID, "page_id": in.PageID, "name": in.Name, "status": in.Status,
		"impact_override": in.ImpactOverride, "shortlink": "https://stspg.io/" + in.ID,
		"created_at": in.CreatedAt.UTC().Format(time.RFC3339), "resolved_at": resolved}
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

func writeErr(rw http.ResponseWriter, status int, msg string) {
	writeJSON(rw, status, map[string]any{"error": msg})
}

// Do serves req in process.
func (w *World) Do(req *http.Request) (*http.Response, error) {
	return httpclient.InProcess{Handler: w, Faults: &w.faults, Call: Call}.Do(req)
}

// Call names a request for a fault injector as [World.Faults] does:
// "CreateIncident" (POST), "UpdateIncident" (PATCH, PUT), "" for reads. Give
// it to a fault.Transport to inject the same faults over a real socket.
func Call(req *http.Request) string {
	switch req.Method {
	case http.MethodPost:
		return "CreateIncident"
	case http.MethodPatch, http.MethodPut:
		return "UpdateIncident"
	}
	return ""
}
