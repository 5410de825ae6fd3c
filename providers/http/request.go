package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	nethttp "net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/provider/httpclient"
	"github.com/handrail-dev/handrail/runbook"
)

// MaxBodyBytes caps how much of a response body is read.
const MaxBodyBytes = 8 << 20

// Request describes one HTTP call of an http_check or http_request action.
type Request struct {
	// Method defaults to GET.
	Method string
	// URL is absolute, or relative to the instance's base URL.
	URL string
	// Headers are added to the instance's headers (and win over them).
	Headers map[string]string
	// SensitiveHeaders names more headers whose values are secrets.
	SensitiveHeaders []string
	// Body is sent as is when a string or []byte, else encoded as JSON
	// (with Content-Type: application/json unless a header sets it).
	Body any
	// Timeout bounds the call (default: the instance's).
	Timeout time.Duration
	// ExpectStatus lists the acceptable status codes (default: any 2xx).
	ExpectStatus []int
	// Expect are conditions on the JSON body (see [Expectation]). On a body
	// that is not JSON, the root ("$") is the body text.
	Expect []Expectation
	// Extract maps output names to paths in the JSON body (http_request):
	// {"token": "token"} makes the body's token the step's output "token".
	Extract map[string]string
	// SensitiveOutputs names extracted outputs that are secrets: they are
	// returned as runbook.Secret and registered with the run's redactor.
	SensitiveOutputs []string
	// Bind, if set, completes a copy of the request at run time from
	// earlier steps' outputs (Go runbooks: a token from a login step).
	Bind func(env *runbook.Env, r *Request) error
}

// fixedOutputs are the outputs every call returns; extracted names may not
// reuse them.
var fixedOutputs = map[string]bool{"status_code": true, "latency_ms": true, "body": true, "json": true,
	"headers": true, "ok": true, "failures": true, "extracted": true, "value": true}

// compiled is a validated Request.
type compiled struct {
	req    Request
	expect []expectation
	status map[int]bool
	paths  map[string][]pathStep
	secret map[string]bool
}

func compileRequest(r Request) (*compiled, error) {
	c := &compiled{req: r, status: map[int]bool{}, paths: map[string][]pathStep{}, secret: map[string]bool{}}
	if c.req.Method == "" {
		c.req.Method = nethttp.MethodGet
	}
	c.req.Method = strings.ToUpper(c.req.Method)
	if !validHeaderName(c.req.Method) {
		return nil, fmt.Errorf("method %q is not a valid HTTP method", r.Method)
	}
	if r.URL == "" {
		return nil, errors.New("url is required")
	}
	if r.Timeout < 0 {
		return nil, fmt.Errorf("timeout %s is negative", r.Timeout)
	}
	for k := range r.Headers {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("headers: %q is not a valid header name", k)
		}
	}
	for _, s := range r.ExpectStatus {
		if s < 100 || s > 599 {
			return nil, fmt.Errorf("expect_status: %d is not an HTTP status code (100-599)", s)
		}
		c.status[s] = true
	}
	for _, e := range r.Expect {
		ce, err := compile(e)
		if err != nil {
			return nil, err
		}
		c.expect = append(c.expect, ce)
	}
	for name, p := range r.Extract {
		if fixedOutputs[name] {
			return nil, fmt.Errorf("extract: %q is already an output of the action; pick another name", name)
		}
		steps, err := parsePath(p)
		if err != nil {
			return nil, fmt.Errorf("extract %s: %w", name, err)
		}
		c.paths[name] = steps
	}
	for _, n := range r.SensitiveOutputs {
		if _, ok := r.Extract[n]; !ok {
			return nil, fmt.Errorf("sensitive_outputs: %q is not an extracted output (extract = { %s = \"path\" })", n, n)
		}
		c.secret[n] = true
	}
	return c, nil
}

// bind applies Request.Bind, if any, and compiles the result.
func (c *compiled) bind(env *runbook.Env) (*compiled, error) {
	if c.req.Bind == nil {
		return c, nil
	}
	r := c.req
	r.Headers = cloneMap(r.Headers)
	r.Extract = cloneMap(r.Extract)
	r.Expect = append([]Expectation(nil), r.Expect...)
	r.Bind = nil
	if err := c.req.Bind(env, &r); err != nil {
		return nil, fmt.Errorf("bind request: %w", err)
	}
	return compileRequest(r)
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// response is what came back.
type response struct {
	method  string
	url     string // safe for messages
	status  int
	header  nethttp.Header
	body    []byte
	json    any // normalized; nil when the body is not JSON
	isJSON  bool
	latency time.Duration
}

// root is what expectations and the probe's sample see: the decoded JSON,
// or the body text.
func (r *response) root() any {
	if r.isJSON {
		return r.json
	}
	return string(r.body)
}

// send performs the call. Sensitive header values are registered with env
// before anything is sent.
func (i *Instance) send(ctx context.Context, env *runbook.Env, c *compiled) (*response, error) {
	r := c.req
	u, err := i.resolve(r.URL)
	if err != nil {
		return nil, runbook.Permanent(err)
	}
	safe := httpclient.SafeURL(u)
	body, ctype, err := encodeBody(r.Body)
	if err != nil {
		return nil, runbook.Permanent(fmt.Errorf("%s %s: body: %w", r.Method, safe, err))
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = i.cfg.Timeout
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := httpclient.NewRequest(cctx, r.Method, u.String(), body)
	if err != nil {
		return nil, runbook.Permanent(fmt.Errorf("%s %s: %w", r.Method, safe, err))
	}
	sens := map[string]bool{}
	for _, h := range append(append([]string(nil), i.cfg.SensitiveHeaders...), r.SensitiveHeaders...) {
		sens[strings.ToLower(h)] = true
	}
	set := func(k, v string) {
		if sens[strings.ToLower(k)] || IsSensitiveHeader(k) {
			httpclient.AddHeaderSecret(env, v)
		}
		req.Header.Set(k, v)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for _, k := range sortedKeys(i.cfg.Headers) {
		set(k, i.cfg.Headers[k])
	}
	for _, k := range sortedKeys(r.Headers) {
		set(k, r.Headers[k])
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			httpclient.AddHeaderSecret(env, p)
		}
	}
	doer, err := i.http.Doer()
	if err != nil {
		return nil, runbook.Permanent(err)
	}
	clock := env.Clock()
	start := clock.Now()
	resp, err := httpclient.Do(doer, req)
	if err != nil {
		if cctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("%s %s: no answer within %s: %w", r.Method, safe, timeout, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("%s %s: %w", r.Method, safe, err)
	}
	defer resp.Body.Close()
	b, err := httpclient.ReadBody(resp.Body, MaxBodyBytes)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, safe, err)
	}
	out := &response{method: r.Method, url: safe, status: resp.StatusCode, header: resp.Header, body: b, latency: clock.Now().Sub(start)}
	if len(bytes.TrimSpace(b)) > 0 {
		if v, err := decodeJSON(b); err == nil {
			out.json, out.isJSON = v, true
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func encodeBody(b any) ([]byte, string, error) {
	switch x := b.(type) {
	case nil:
		return nil, "", nil
	case string:
		return []byte(x), "", nil
	case []byte:
		return x, "", nil
	}
	out, err := json.Marshal(plain(b))
	if err != nil {
		return nil, "", err
	}
	return out, "application/json", nil
}

// evaluate checks the status and expectations; it returns the failures.
func (c *compiled) evaluate(r *response) []string {
	var fails []string
	if len(c.status) > 0 {
		if !c.status[r.status] {
			codes := make([]int, 0, len(c.status))
			for s := range c.status {
				codes = append(codes, s)
			}
			sort.Ints(codes)
			want := make([]string, len(codes))
			for k, s := range codes {
				want[k] = strconv.Itoa(s)
			}
			fails = append(fails, fmt.Sprintf("status: want %s, got %d", strings.Join(want, " or "), r.status))
		}
	} else if r.status < 200 || r.status > 299 {
		fails = append(fails, fmt.Sprintf("status: want 2xx, got %d", r.status))
	}
	if len(c.expect) > 0 && !r.isJSON && needsJSON(c.expect) {
		ct := r.header.Get("Content-Type")
		if ct == "" {
			ct = "no content type"
		}
		fails = append(fails, fmt.Sprintf("body: want JSON, got %d bytes of %s", len(r.body), ct))
		return fails
	}
	for _, e := range c.expect {
		if msg := e.check(r.root()); msg != "" {
			fails = append(fails, msg)
		}
	}
	return fails
}

// needsJSON reports whether some expectation looks into the body.
func needsJSON(es []expectation) bool {
	for _, e := range es {
		if len(e.steps) > 0 {
			return true
		}
	}
	return false
}

// outputs are the outputs every call returns.
func (r *response) outputs(env *runbook.Env, sens map[string]bool) runbook.Outputs {
	headers := map[string]any{}
	for k, vs := range r.header {
		v := strings.Join(vs, ", ")
		if sens[strings.ToLower(k)] || IsSensitiveHeader(k) {
			headers[k] = env.AddSecret(v)
			continue
		}
		headers[k] = v
	}
	var js any
	if r.isJSON {
		js = plain(r.json)
	}
	return runbook.Outputs{
		"status_code": r.status,
		"latency_ms":  float64(r.latency.Microseconds()) / 1000,
		"body":        string(r.body),
		"json":        js,
		"headers":     headers,
	}
}

// ErrExpectation is matched (errors.Is) by every [ExpectationError].
var ErrExpectation = errors.New("http: expectation failed")

// ExpectationError reports a response that did not meet its status or body
// expectations. Each failure names the path, the expected and the actual
// value; no header value or whole body is ever included.
type ExpectationError struct {
	Method     string
	URL        string
	StatusCode int
	Failures   []string
}

// Error implements error.
func (e *ExpectationError) Error() string {
	n := "1 expectation"
	if len(e.Failures) != 1 {
		n = fmt.Sprintf("%d expectations", len(e.Failures))
	}
	return fmt.Sprintf("%s %s: %s failed: %s", e.Method, e.URL, n, strings.Join(e.Failures, "; "))
}

// Is matches [ErrExpectation].
func (e *ExpectationError) Is(target error) bool { return target == ErrExpectation }
