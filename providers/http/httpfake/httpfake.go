// Package httpfake is a stateful in-memory fake of the HTTP services a
// runbook calls: scripted endpoints whose answers change over calls or
// time ("health returns unhealthy from minute 9 of the soak"), and a record
// of every call for assertions.
//
// A [World] is an http.Handler (serve it with httptest for a real URL) and
// the Doer of the http provider it returns from [World.Provider], which
// routes requests to the world in process, whatever their host.
package httpfake

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
	httpprov "github.com/handrail-dev/handrail/providers/http"
	"github.com/handrail-dev/handrail/runbook"
)

// Response is a scripted answer.
type Response struct {
	Status int
	Header http.Header
	Body   string
	// Latency delays the answer on the world's clock.
	Latency time.Duration
}

// JSON returns a response with a JSON body (a 500 naming the problem when v
// cannot be encoded).
func JSON(status int, v any) Response {
	b, err := json.Marshal(v)
	if err != nil {
		return Text(http.StatusInternalServerError, fmt.Sprintf("httpfake.JSON: the scripted value is not JSON: %v", err))
	}
	return Response{Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: string(b)}
}

// Text returns a response with a plain-text body.
func Text(status int, body string) Response {
	return Response{Status: status, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, Body: body}
}

// Call is one recorded request.
type Call struct {
	Method string
	URL    string
	Path   string
	Header http.Header
	Body   string
	Time   time.Time
}

// World is the fake. The zero value is not usable; call [New].
type World struct {
	mu     sync.Mutex
	clock  runbook.Clock
	routes []*Endpoint
	calls  []Call
	starts map[string]time.Time
	faults fault.Injector
}

// Faults returns the world's fault injector. Every request through
// [World.Do] is the call "METHOD /path" ("POST /api/login"): arm a fault to
// fail one before the endpoint sees it, let the endpoint answer and lose
// the answer, or hold the answer on the run's clock (see package fault).
func (w *World) Faults() *fault.Injector { return &w.faults }

// New returns an empty world on the real clock.
func New() *World {
	return &World{clock: runbook.RealClock{}, starts: map[string]time.Time{}}
}

// SetClock makes the world read time (for time-scripted answers and
// latency) from c: pass the run's simulated clock.
func (w *World) SetClock(c runbook.Clock) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clock = c
}

// Provider returns an http provider whose requests all go to this world.
func (w *World) Provider() provider.Provider { return &httpprov.Provider{Client: w} }

// Observe records when nodes start, for [Endpoint.AfterNode]. Pass the
// world as (one of) the executor's observers.
func (w *World) Observe(ev runbook.Event) {
	if s, ok := ev.(runbook.NodeStarted); ok {
		w.mu.Lock()
		if _, seen := w.starts[s.Node]; !seen {
			w.starts[s.Node] = s.Time
		}
		w.mu.Unlock()
	}
}

// Route returns the endpoint for method and path (any host), creating it.
// Until scripted, it answers 200 with an empty JSON object.
func (w *World) Route(method, path string) *Endpoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	method = strings.ToUpper(method)
	for _, e := range w.routes {
		if e.method == method && e.path == path {
			return e
		}
	}
	e := &Endpoint{w: w, method: method, path: path}
	e.script = []entry{{resp: JSON(200, map[string]any{})}}
	w.routes = append(w.routes, e)
	return e
}

// Calls returns every request received, in order.
func (w *World) Calls() []Call {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Call(nil), w.calls...)
}

// CallCount returns how many requests method and path received.
func (w *World) CallCount(method, path string) int {
	n := 0
	for _, c := range w.Calls() {
		if c.Method == strings.ToUpper(method) && c.Path == path {
			n++
		}
	}
	return n
}

// Endpoint is one scripted route.
type Endpoint struct {
	w      *World
	method string
	path   string
	script []entry
	calls  int
	header map[string]string
}

type entry struct {
	resp     Response
	fromCall int           // 1-based call number, 0: not a call trigger
	at       time.Time     // absolute time trigger
	node     string        // node-relative trigger
	after    time.Duration // offset from the node's start
}

func (e entry) active(calls int, now time.Time, starts map[string]time.Time) bool {
	switch {
	case e.fromCall > 0:
		return calls >= e.fromCall
	case !e.at.IsZero():
		return !now.Before(e.at)
	case e.node != "":
		t, ok := starts[e.node]
		return ok && !now.Before(t.Add(e.after))
	}
	return true
}

// Reply replaces the endpoint's script with a single answer, from now on.
func (e *Endpoint) Reply(r Response) *Endpoint {
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	e.script = []entry{{resp: r}}
	return e
}

// FromCall makes the n-th call (1-based) and later ones answer r.
func (e *Endpoint) FromCall(n int, r Response) *Endpoint {
	return e.add(entry{resp: r, fromCall: n})
}

// At makes calls from time t on (the world's clock) answer r.
func (e *Endpoint) At(t time.Time, r Response) *Endpoint { return e.add(entry{resp: r, at: t}) }

// AfterNode makes calls from d after node started answer r (the world must
// observe the run's events: see [World.Observe]).
func (e *Endpoint) AfterNode(node string, d time.Duration, r Response) *Endpoint {
	return e.add(entry{resp: r, node: node, after: d})
}

// RequireHeader answers 401 to calls without header name set to value.
func (e *Endpoint) RequireHeader(name, value string) *Endpoint {
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	if e.header == nil {
		e.header = map[string]string{}
	}
	e.header[http.CanonicalHeaderKey(name)] = value
	return e
}

// Calls returns how many calls the endpoint received.
func (e *Endpoint) Calls() int {
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	return e.calls
}

func (e *Endpoint) add(en entry) *Endpoint {
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	e.script = append(e.script, en)
	return e
}

// ServeHTTP answers from the script.
func (w *World) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	w.mu.Lock()
	clock := w.clock
	now := clock.Now()
	w.calls = append(w.calls, Call{Method: req.Method, URL: req.URL.String(), Path: req.URL.Path, Header: req.Header.Clone(), Body: string(body), Time: now})
	var ep *Endpoint
	for _, e := range w.routes {
		if e.method == req.Method && e.path == req.URL.Path {
			ep = e
		}
	}
	if ep == nil {
		w.mu.Unlock()
		writeResp(rw, JSON(http.StatusNotFound, map[string]string{"error": fmt.Sprintf("httpfake: no route for %s %s", req.Method, req.URL.Path)}))
		return
	}
	ep.calls++
	resp := ep.script[0].resp
	for k := len(ep.script) - 1; k >= 0; k-- {
		if ep.script[k].active(ep.calls, now, w.starts) {
			resp = ep.script[k].resp
			break
		}
	}
	for k, v := range ep.header {
		if req.Header.Get(k) != v {
			resp = JSON(http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
			break
		}
	}
	w.mu.Unlock()
	if resp.Latency > 0 {
		if err := clock.Sleep(req.Context(), resp.Latency); err != nil {
			return
		}
	}
	writeResp(rw, resp)
}

func writeResp(rw http.ResponseWriter, r Response) {
	for k, vs := range r.Header {
		for _, v := range vs {
			rw.Header().Add(k, v)
		}
	}
	status := r.Status
	if status == 0 {
		status = http.StatusOK
	}
	rw.WriteHeader(status)
	_, _ = io.WriteString(rw, r.Body)
}

// Do serves req in process; it makes the world the provider's Doer.
func (w *World) Do(req *http.Request) (*http.Response, error) {
	return httpclient.InProcess{Handler: w, Faults: &w.faults, Call: func(req *http.Request) string { return req.Method + " " + req.URL.Path }}.Do(req)
}

var _ interface {
	Do(*http.Request) (*http.Response, error)
} = (*World)(nil)
