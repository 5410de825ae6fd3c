// Package prometheusfake is a stateful in-memory fake of a Prometheus
// server: each query has a scripted series over (simulated) time — "the
// error rate is 0.2% and climbs to 6% nine minutes into soak_50" — and
// every query asked is recorded.
//
// A [World] speaks the Prometheus HTTP API (/api/v1/query and
// /api/v1/query_range): serve it with httptest for a real URL, or use
// [World.Provider], which routes queries to it in process. Queries are
// evaluated at the time they ask for (the run clock's now), so scripts
// follow the simulated clock with no wiring.
package prometheusfake

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/httpclient"
	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/runbook"
)

// Query is one recorded query.
type Query struct {
	Expr string
	// At is the evaluation time (the end of a range query).
	At    time.Time
	Range bool
}

// World is the fake server. Create it with [New].
type World struct {
	mu      sync.Mutex
	clock   runbook.Clock
	scripts map[string]*Script
	queries []Query
	starts  map[string]time.Time
}

// New returns a world where every query answers an empty result until
// scripted.
func New() *World {
	return &World{clock: runbook.RealClock{}, scripts: map[string]*Script{}, starts: map[string]time.Time{}}
}

// SetClock sets the clock used for queries that give no time.
func (w *World) SetClock(c runbook.Clock) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clock = c
}

// Provider returns a prometheus provider whose queries all go to this
// world, whatever the configured URL.
func (w *World) Provider() provider.Provider { return &prometheus.Provider{Client: w} }

// Observe records when nodes start, for [Script.AfterNode]. Pass the world
// as (one of) the executor's observers.
func (w *World) Observe(ev runbook.Event) {
	if s, ok := ev.(runbook.NodeStarted); ok {
		w.mu.Lock()
		if _, seen := w.starts[s.Node]; !seen {
			w.starts[s.Node] = s.Time
		}
		w.mu.Unlock()
	}
}

// Queries returns every query asked, in order.
func (w *World) Queries() []Query {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Query(nil), w.queries...)
}

func normalize(q string) string { return strings.Join(strings.Fields(q), " ") }

// Script returns the script of a query (whitespace-insensitive), creating
// an empty one (no data).
func (w *World) Script(query string) *Script {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := normalize(query)
	s, ok := w.scripts[k]
	if !ok {
		s = &Script{w: w}
		w.scripts[k] = s
	}
	return s
}

// Script is the scripted answer of one query over time: a list of entries,
// the latest-declared active one wins.
type Script struct {
	w       *World
	entries []entry
}

// Labelled is one series of a multi-series answer.
type Labelled struct {
	Labels map[string]string
	Value  float64
}

type entry struct {
	// trigger
	at    time.Time
	node  string
	after time.Duration
	// answer
	value   float64
	noData  bool
	fn      func(time.Time) (float64, bool)
	series  []Labelled
	errType string
	errMsg  string
}

func (e entry) active(t time.Time, starts map[string]time.Time) bool {
	switch {
	case e.node != "":
		s, ok := starts[e.node]
		return ok && !t.Before(s.Add(e.after))
	case !e.at.IsZero():
		return !t.Before(e.at)
	}
	return true
}

func (s *Script) add(e entry) *Script {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.entries = append(s.entries, e)
	return s
}

// Value makes the query answer v from now on (until a later entry).
func (s *Script) Value(v float64) *Script { return s.add(entry{value: v}) }

// NoData makes the query answer an empty result.
func (s *Script) NoData() *Script { return s.add(entry{noData: true}) }

// At makes the query answer v from time t.
func (s *Script) At(t time.Time, v float64) *Script { return s.add(entry{at: t, value: v}) }

// AfterNode makes the query answer v from d after node started (the
// world must observe the run: see [World.Observe]).
func (s *Script) AfterNode(node string, d time.Duration, v float64) *Script {
	return s.add(entry{node: node, after: d, value: v})
}

// Func makes the query answer f(t) (no data when f returns false).
func (s *Script) Func(f func(t time.Time) (float64, bool)) *Script { return s.add(entry{fn: f}) }

// Series makes the query answer several series (an unaggregated query).
func (s *Script) Series(series ...Labelled) *Script { return s.add(entry{series: series}) }

// Fail makes the query fail with a Prometheus error (errorType such as
// "execution" or "bad_data").
func (s *Script) Fail(errType, msg string) *Script {
	return s.add(entry{errType: errType, errMsg: msg})
}

// eval answers the script at time t: series (nil: no data) or an error.
func (w *World) eval(query string, t time.Time) ([]Labelled, *entry) {
	s, ok := w.scripts[normalize(query)]
	if !ok {
		return nil, nil
	}
	for k := len(s.entries) - 1; k >= 0; k-- {
		e := s.entries[k]
		if !e.active(t, w.starts) {
			continue
		}
		switch {
		case e.errType != "":
			return nil, &e
		case e.noData:
			return nil, nil
		case e.fn != nil:
			v, ok := e.fn(t)
			if !ok {
				return nil, nil
			}
			return []Labelled{{Labels: map[string]string{}, Value: v}}, nil
		case e.series != nil:
			return e.series, nil
		default:
			return []Labelled{{Labels: map[string]string{}, Value: e.value}}, nil
		}
	}
	return nil, nil
}

// ServeHTTP implements the query endpoints of the Prometheus HTTP API.
func (w *World) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeErr(rw, http.StatusBadRequest, "bad_data", err.Error())
		return
	}
	q := r.Form.Get("query")
	w.mu.Lock()
	now := w.clock.Now()
	w.mu.Unlock()
	switch r.URL.Path {
	case "/api/v1/query":
		t, err := parseTime(r.Form.Get("time"), now)
		if err != nil || q == "" {
			writeErr(rw, http.StatusBadRequest, "bad_data", fmt.Sprintf("invalid parameters: query %q, time %q", q, r.Form.Get("time")))
			return
		}
		w.mu.Lock()
		w.queries = append(w.queries, Query{Expr: q, At: t})
		series, fail := w.eval(q, t)
		w.mu.Unlock()
		if fail != nil {
			writeErr(rw, http.StatusUnprocessableEntity, fail.errType, fail.errMsg)
			return
		}
		result := []map[string]any{}
		for _, s := range series {
			result = append(result, map[string]any{"metric": labelsOf(s), "value": pair(t, s.Value)})
		}
		writeOK(rw, "vector", result)
	case "/api/v1/query_range":
		start, err1 := parseTime(r.Form.Get("start"), time.Time{})
		end, err2 := parseTime(r.Form.Get("end"), time.Time{})
		step, err3 := strconv.ParseFloat(r.Form.Get("step"), 64)
		if err1 != nil || err2 != nil || err3 != nil || step <= 0 || q == "" || end.Before(start) {
			writeErr(rw, http.StatusBadRequest, "bad_data", "invalid query_range parameters")
			return
		}
		w.mu.Lock()
		w.queries = append(w.queries, Query{Expr: q, At: end, Range: true})
		byKey := map[string]map[string]any{}
		var order []string
		var fail *entry
		d := time.Duration(step * float64(time.Second))
		for t := start; !t.After(end); t = t.Add(d) {
			series, f := w.eval(q, t)
			if f != nil {
				fail = f
				break
			}
			for _, s := range series {
				b, _ := json.Marshal(labelsOf(s))
				k := string(b)
				m, ok := byKey[k]
				if !ok {
					m = map[string]any{"metric": labelsOf(s), "values": []any{}}
					byKey[k] = m
					order = append(order, k)
				}
				m["values"] = append(m["values"].([]any), pair(t, s.Value))
			}
		}
		w.mu.Unlock()
		if fail != nil {
			writeErr(rw, http.StatusUnprocessableEntity, fail.errType, fail.errMsg)
			return
		}
		result := []map[string]any{}
		for _, k := range order {
			result = append(result, byKey[k])
		}
		writeOK(rw, "matrix", result)
	default:
		writeErr(rw, http.StatusNotFound, "not_found", "prometheusfake serves /api/v1/query and /api/v1/query_range only")
	}
}

func labelsOf(s Labelled) map[string]string {
	if s.Labels == nil {
		return map[string]string{}
	}
	return s.Labels
}

func pair(t time.Time, v float64) []any {
	var s string
	switch {
	case math.IsNaN(v):
		s = "NaN"
	case math.IsInf(v, 1):
		s = "+Inf"
	case math.IsInf(v, -1):
		s = "-Inf"
	default:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return []any{float64(t.UnixNano()) / 1e9, s}
}

func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		if def.IsZero() {
			return def, fmt.Errorf("missing time")
		}
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

func writeOK(rw http.ResponseWriter, typ string, result any) {
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": typ, "result": result}})
}

func writeErr(rw http.ResponseWriter, status int, typ, msg string) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]any{"status": "error", "errorType": typ, "error": msg})
}

// Do serves req in process; it makes the world the provider's Doer.
func (w *World) Do(req *http.Request) (*http.Response, error) {
	return httpclient.InProcess{Handler: w}.Do(req)
}
