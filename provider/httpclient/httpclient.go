// Package httpclient is what Handrail's providers that speak HTTP share
// (http, prometheus, slack, statuspage): the [Doer] their fakes replace,
// the net/http client built on first use from a provider block's TLS
// arguments ([TLS], [Client]), and the request and response habits that
// keep secrets out of errors — a transport error never carries the request
// URL ([Do]), a URL shown in a message is redacted ([RedactURL]), a body
// is read up to a limit ([ReadBody]) and quoted only in part ([Excerpt]),
// and every request says who sends it ([NewRequest], [UserAgent]).
//
// The client honours HTTP_PROXY, HTTPS_PROXY and NO_PROXY, as net/http's
// default transport does. Timeouts stay with each provider: every call
// runs under a context deadline from the provider's own timeout argument.
//
// A provider keeps its own argument names and decoding; it copies them
// into a [TLS] value (email, which speaks SMTP, uses [TLS] alone). [InProcess] is the Doer of the providers' fakes: it
// serves each request with an http.Handler in this process, through the
// fake's fault injector.
package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/runbook"
)

// UserAgent is the User-Agent of every request made with [NewRequest].
const UserAgent = "handrail"

// Doer sends HTTP requests; *net/http.Client implements it. It is a
// provider's only dependency on the network, so fakes replace it.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// TLS is the TLS configuration of a provider block (ca_file,
// client_cert_file, client_key_file, insecure_skip_verify). The zero value
// trusts the system roots and sends no client certificate.
type TLS struct {
	// CAFile is a PEM bundle of CAs to trust instead of the system roots.
	CAFile string
	// ClientCertFile and ClientKeyFile are a PEM client certificate and
	// key for mutual TLS; they go together.
	ClientCertFile, ClientKeyFile string
	// InsecureSkipVerify disables certificate verification. Only when
	// explicit.
	InsecureSkipVerify bool
}

// Check reports a configuration that cannot work, without reading any
// file: a client certificate without its key, or a key without its
// certificate.
func (t TLS) Check() error {
	if (t.ClientCertFile == "") != (t.ClientKeyFile == "") {
		return errors.New("client_cert_file and client_key_file go together")
	}
	return nil
}

// Config reads the files and returns the tls.Config (TLS 1.2 at least).
// Its errors name the argument ("ca_file: open ...").
func (t TLS) Config() (*tls.Config, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // only when explicitly asked
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.ClientCertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.ClientCertFile, t.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Client is the Doer of one provider instance: the Doer given to the
// provider (a fake), or a net/http client built on first use from [TLS],
// so that configuring an instance reads no file. It is safe for
// concurrent use.
type Client struct {
	name  string
	given Doer
	tls   TLS

	mu    sync.Mutex
	built bool
	doer  Doer
	owned *http.Client
	err   error
}

// New returns the client of the instance name ("http.app", used in
// errors): given when not nil, else a net/http client with the TLS
// settings t, built on first use.
func New(name string, given Doer, t TLS) *Client {
	return &Client{name: name, given: given, tls: t}
}

// Doer returns the Doer, building the net/http client on first use. An
// error (a TLS file that cannot be read) is the same on every call and
// names the instance: "provider http.app: ca_file: open ...".
func (c *Client) Doer() (Doer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.built {
		return c.doer, c.err
	}
	c.built = true
	if c.given != nil {
		c.doer = c.given
		return c.doer, nil
	}
	tc, err := c.tls.Config()
	if err != nil {
		c.err = fmt.Errorf("provider %s: %w", c.name, err)
		return nil, c.err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	c.owned = &http.Client{Transport: tr}
	c.doer = c.owned
	return c.doer, nil
}

// Do sends req with the client's Doer through [Do].
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	d, err := c.Doer()
	if err != nil {
		return nil, err
	}
	return Do(d, req)
}

// Close releases the idle connections of the client built here (a given
// Doer is left alone). It implements io.Closer.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.owned != nil {
		c.owned.CloseIdleConnections()
	}
	return nil
}

// Do sends req with d. A transport error is returned without the
// *url.Error around it, whose message holds the whole request URL — with
// its query, user info, or a webhook's secret path.
func Do(d Doer, req *http.Request) (*http.Response, error) {
	resp, err := d.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	return resp, nil
}

// NewRequest returns a request with the context ctx, the body b (none when
// nil) and the User-Agent [UserAgent].
func NewRequest(ctx context.Context, method, rawURL string, b []byte) (*http.Request, error) {
	var body io.Reader = http.NoBody
	if b != nil {
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", UserAgent)
	return req, nil
}

// ErrTooLarge is matched (errors.Is) by the error of [ReadBody] for a body
// over its limit.
var ErrTooLarge = errors.New("httpclient: response body too large")

// tooLarge is the error of a body over limit bytes.
type tooLarge struct{ limit int64 }

func (e tooLarge) Error() string        { return fmt.Sprintf("response body larger than %d bytes", e.limit) }
func (e tooLarge) Is(target error) bool { return target == ErrTooLarge }

// ReadBody reads r (a response body) up to limit bytes. A longer body is
// an error matching [ErrTooLarge], returned with its first limit bytes.
func ReadBody(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > limit {
		return b[:limit], tooLarge{limit}
	}
	return b, nil
}

// Excerpt returns b without surrounding space, cut to max bytes (on a
// character boundary) and marked "…" when cut: a body quoted in an error.
func Excerpt(b []byte, max int) string {
	s := strings.TrimSpace(string(b))
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// defaultSensitive are header names whose values are always secrets.
var defaultSensitive = []string{"authorization", "proxy-authorization", "cookie", "set-cookie"}

// sensitiveWords mark a header as sensitive when its name contains one.
var sensitiveWords = []string{"token", "secret", "key", "password", "auth", "session", "credential", "signature"}

// IsSensitiveHeader reports whether a header's value (or a query
// parameter's) is a secret: Authorization, Proxy-Authorization, Cookie,
// Set-Cookie, and any name containing token, secret, key, password, auth,
// session, credential or signature.
func IsSensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	for _, s := range defaultSensitive {
		if n == s {
			return true
		}
	}
	for _, w := range sensitiveWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// AddHeaderSecret registers a sensitive header's value with the run's
// redactor and, for a "Scheme credentials" value (Bearer, Basic, OAuth),
// the credentials alone.
func AddHeaderSecret(env *runbook.Env, value string) {
	env.AddSecret(value)
	if _, cred, ok := strings.Cut(value, " "); ok {
		if cred = strings.TrimSpace(cred); cred != "" {
			env.AddSecret(cred)
		}
	}
}

// Redacted stands for a secret in a URL shown in a message.
const Redacted = "(sensitive)"

// RedactURL returns raw fit for a message: user info replaced, the
// fragment dropped, and the values of sensitive query parameters (see
// [IsSensitiveHeader]) replaced. A URL that does not parse, or parses
// without a "//" ("ops:pa55@host", a scheme forgotten), loses its query
// and fragment, and all before its last "@" (but a scheme before "://").
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.Opaque == "" {
		return SafeURL(u)
	}
	s, cut := raw, ""
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s, cut = s[:i], "…"
	}
	if at := strings.LastIndex(s, "@"); at >= 0 {
		start := 0
		if i := strings.Index(s[:at], "://"); i >= 0 {
			start = i + len("://")
		}
		s = s[:start] + Redacted + s[at:]
	}
	return s + cut
}

// SafeURL is [RedactURL] for a parsed URL; u is not changed.
func SafeURL(u *url.URL) string {
	if u.Opaque != "" {
		return RedactURL(u.String())
	}
	c := *u
	if c.User != nil {
		c.User = url.User(Redacted)
	}
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery == "" {
		return c.String()
	}
	q := c.Query()
	c.RawQuery = ""
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range q[k] {
			if IsSensitiveHeader(k) {
				v = Redacted
			}
			parts = append(parts, url.QueryEscape(k)+"="+v)
		}
	}
	return c.String() + "?" + strings.Join(parts, "&")
}

// InProcess is the Doer of a provider's fake: it serves each request with
// Handler in this process, whatever the request's host, and returns the
// answer with its body read. With Faults set, every request runs through
// Faults.Do as the call Call names (see package fault), so an armed fault
// fails it before the handler sees it, or after the handler acted. A
// request whose context has ended gets the context's error, as from a
// real client.
type InProcess struct {
	// Handler serves the requests.
	Handler http.Handler
	// Faults, if set, holds the faults armed for the requests.
	Faults *fault.Injector
	// Call names a request for Faults ("POST /api/login", "PostMessage").
	// Nil names every request "".
	Call func(req *http.Request) string
}

// Do serves req with the handler.
func (p InProcess) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.Body == nil {
		req.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	serve := func() error { p.Handler.ServeHTTP(rec, req); return nil }
	if p.Faults != nil {
		call := ""
		if p.Call != nil {
			call = p.Call(req)
		}
		if err := p.Faults.Do(ctx, call, serve); err != nil {
			return nil, err
		}
	} else {
		_ = serve()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := rec.Result()
	res.Request = req
	b, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res, nil
}
