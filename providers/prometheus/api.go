package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/provider/httpclient"
)

// API is what the actions need of Prometheus: instant and range queries.
// *Instance implements it over the HTTP API.
type API interface {
	// Query evaluates an instant query at time at.
	Query(ctx context.Context, query string, at time.Time) (Result, error)
	// QueryRange evaluates a query at every step from start to end.
	QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (Result, error)
}

// Point is one value at one time.
type Point struct {
	Time  time.Time
	Value float64
}

// Series is one labelled time series of a result.
type Series struct {
	Labels map[string]string
	Points []Point
}

// String shows the series' labels as PromQL does: {job="api",path="/x"}.
func (s Series) String() string {
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	if n := s.Labels["__name__"]; n != "" {
		b.WriteString(n)
	}
	b.WriteByte('{')
	first := true
	for _, k := range keys {
		if k == "__name__" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%s=%q", k, s.Labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// Result is a query result. A scalar is one series without labels holding
// one point.
type Result struct {
	// Type is "scalar", "vector" or "matrix".
	Type     string
	Series   []Series
	Warnings []string
}

// APIError is an error answered by the server.
type APIError struct {
	StatusCode int
	// Type is Prometheus' errorType: bad_data, execution, timeout,
	// canceled, unavailable, internal...
	Type    string
	Message string
}

// Error implements error.
func (e *APIError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Type, e.Message)
}

// Retryable reports false for bad queries, which fail the same way again.
func (e *APIError) Retryable() bool {
	return e.Type != "bad_data" && e.StatusCode != http.StatusBadRequest && e.StatusCode != http.StatusUnprocessableEntity
}

// maxBodyBytes caps how much of an answer is read; a longer one is an
// error.
const maxBodyBytes = 64 << 20

// ErrNoData is wrapped by errors of steps that found no data.
var ErrNoData = errors.New("prometheus: no data")

// Query implements [API] with POST /api/v1/query.
func (i *Instance) Query(ctx context.Context, query string, at time.Time) (Result, error) {
	form := url.Values{"query": {query}}
	if !at.IsZero() {
		form.Set("time", formatTime(at))
	}
	return i.call(ctx, "query", form)
}

// QueryRange implements [API] with POST /api/v1/query_range.
func (i *Instance) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (Result, error) {
	if step <= 0 {
		return Result{}, fmt.Errorf("query_range: step must be positive")
	}
	form := url.Values{"query": {query}, "start": {formatTime(start)}, "end": {formatTime(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	return i.call(ctx, "query_range", form)
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

func (i *Instance) call(ctx context.Context, endpoint string, form url.Values) (Result, error) {
	doer, err := i.http.Doer()
	if err != nil {
		return Result{}, err
	}
	timeout := i.timeout()
	form.Set("timeout", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64)+"s")
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := i.base.JoinPath("api", "v1", endpoint)
	req, err := httpclient.NewRequest(ctx, http.MethodPost, u.String(), []byte(form.Encode()))
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range i.cfg.Headers {
		req.Header.Set(k, v)
	}
	if i.cfg.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+i.cfg.BearerToken)
	}
	if i.cfg.Username != "" {
		req.SetBasicAuth(i.cfg.Username, i.cfg.Password)
	}
	resp, err := httpclient.Do(doer, req)
	if err != nil {
		return Result{}, fmt.Errorf("%s %s: %w", endpoint, httpclient.RedactURL(i.cfg.URL), err)
	}
	defer resp.Body.Close()
	body, err := httpclient.ReadBody(resp.Body, maxBodyBytes)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", endpoint, err)
	}
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Warnings  []string        `json:"warnings"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Status == "" {
		return Result{}, &APIError{StatusCode: resp.StatusCode, Message: fmt.Sprintf("not a Prometheus API answer: %q", httpclient.Excerpt(body, 200))}
	}
	if env.Status != "success" {
		return Result{}, &APIError{StatusCode: resp.StatusCode, Type: env.ErrorType, Message: env.Error}
	}
	res, err := parseData(env.Data)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", endpoint, err)
	}
	res.Warnings = env.Warnings
	return res, nil
}

func parseData(raw json.RawMessage) (Result, error) {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return Result{}, fmt.Errorf("bad data: %w", err)
	}
	res := Result{Type: d.ResultType}
	switch d.ResultType {
	case "scalar":
		var p [2]any
		if err := json.Unmarshal(d.Result, &p); err != nil {
			return res, fmt.Errorf("bad scalar: %w", err)
		}
		pt, err := point(p)
		if err != nil {
			return res, err
		}
		res.Series = []Series{{Labels: map[string]string{}, Points: []Point{pt}}}
	case "vector":
		var vs []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(d.Result, &vs); err != nil {
			return res, fmt.Errorf("bad vector: %w", err)
		}
		for _, v := range vs {
			pt, err := point(v.Value)
			if err != nil {
				return res, err
			}
			res.Series = append(res.Series, Series{Labels: v.Metric, Points: []Point{pt}})
		}
	case "matrix":
		var ms []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		}
		if err := json.Unmarshal(d.Result, &ms); err != nil {
			return res, fmt.Errorf("bad matrix: %w", err)
		}
		for _, m := range ms {
			s := Series{Labels: m.Metric}
			for _, v := range m.Values {
				pt, err := point(v)
				if err != nil {
					return res, err
				}
				s.Points = append(s.Points, pt)
			}
			res.Series = append(res.Series, s)
		}
	default:
		return res, fmt.Errorf("result type %q is not a number (want scalar, vector or matrix)", d.ResultType)
	}
	return res, nil
}

func point(p [2]any) (Point, error) {
	ts, ok := p[0].(float64)
	vs, ok2 := p[1].(string)
	if !ok || !ok2 {
		return Point{}, fmt.Errorf("bad sample %v", p)
	}
	v, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return Point{}, fmt.Errorf("bad sample value %q", vs)
	}
	sec, frac := math.Modf(ts)
	return Point{Time: time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), Value: v}, nil
}
