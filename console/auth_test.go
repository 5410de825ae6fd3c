package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/handrail-dev/handrail/console"
	"github.com/handrail-dev/handrail/runbook"
)

func TestUsersFile(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	require.NoError(t, err)
	tok := sha256.Sum256([]byte("bot-token-123"))
	src := fmt.Sprintf("# release people\nalice:%s:sre,release\n\nci-bot:sha256:%s\n", h, hex.EncodeToString(tok[:]))
	u, err := console.ParseUsers("users", strings.NewReader(src))
	require.NoError(t, err)
	ctx := context.Background()

	id, err := u.Authenticate(ctx, "alice", "s3cret")
	require.NoError(t, err)
	assert.Equal(t, console.Identity{Name: "alice", Groups: []string{"sre", "release"}, Method: "password"}, id)
	_, err = u.Authenticate(ctx, "alice", "wrong")
	assert.ErrorIs(t, err, console.ErrBadCredentials)
	_, err = u.Authenticate(ctx, "nobody", "s3cret")
	assert.ErrorIs(t, err, console.ErrBadCredentials)
	id, err = u.Authenticate(ctx, "ci-bot", "bot-token-123")
	require.NoError(t, err)
	assert.Equal(t, "token", id.Method)
	_, err = u.Authenticate(ctx, "ci-bot", "bot-token-124")
	assert.ErrorIs(t, err, console.ErrBadCredentials)
	got, ok := u.Lookup("alice")
	assert.True(t, ok)
	assert.Equal(t, []string{"sre", "release"}, got.Groups)

	for _, tc := range []struct{ src, want string }{
		{"alice\n", "users:1: want name:hash[:groups]"},
		{"alice:plaintext\n", "users:1: the password hash of alice is not a bcrypt hash"},
		{"# c\nbot:sha256:abcd\n", "users:2: the token of bot is not a SHA-256"},
		{fmt.Sprintf("a:%s\na:%s\n", h, h), "users:2: a is listed twice"},
	} {
		_, err := console.ParseUsers("users", strings.NewReader(tc.src))
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestSignedLinks(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := console.Link{Run: "r1", Gate: "go_no_go", PlanHash: "abc123", As: "alice", Expires: now.Add(time.Hour)}
	q := l.Query(key)
	got, err := console.ParseLink(q, key, now)
	require.NoError(t, err)
	assert.Equal(t, l.Run, got.Run)
	assert.Equal(t, l.As, got.As)

	// Every field is covered by the signature.
	for _, field := range []string{"run", "gate", "plan", "as", "exp"} {
		bad := url.Values{}
		for k, v := range q {
			bad[k] = append([]string(nil), v...)
		}
		bad.Set(field, bad.Get(field)+"1")
		_, err := console.ParseLink(bad, key, now)
		assert.ErrorIs(t, err, console.ErrBadLink, field)
	}
	_, err = console.ParseLink(q, []byte("another key of the same length!!"), now)
	assert.ErrorContains(t, err, "signature does not match")
	_, err = console.ParseLink(q, key, now.Add(2*time.Hour))
	assert.ErrorContains(t, err, "expired")
	// The signature is HMAC-SHA256 (RFC 2104) over the fields, checked
	// against a value computed independently with openssl:
	//   printf 'handrail-approval-link-v1|r1|go_no_go|abc123|alice|1767272400' |
	//   openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef -binary | basenc --base64url
	assert.Equal(t, "_dPyYuM46SwOz1MX3XAK94jO299afQCYSKw8pFILXyw", q.Get("sig"))
	assert.Equal(t, "1767272400", q.Get("exp"))
}

// client is a browser-like HTTP client with cookies that sends Origin.
type client struct {
	*http.Client
	base string
}

func newClient(t *testing.T, base string) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &client{Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, base: base}
}

func (c *client) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := c.Get(c.base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = fmt.Fprint(&b, readAll(resp))
	return resp.StatusCode, b.String()
}

func readAll(resp *http.Response) string {
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

func (c *client) post(t *testing.T, path string, form url.Values, origin string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp, readAll(resp)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) signIn(t *testing.T, name, password string) *http.Response {
	t.Helper()
	_, page := c.get(t, "/signin")
	m := csrfField.FindStringSubmatch(page)
	require.NotNil(t, m, page)
	resp, _ := c.post(t, "/signin", url.Values{"csrf": {m[1]}, "name": {name}, "password": {password}, "next": {"/"}}, c.base)
	return resp
}

func TestSignInIsRateLimitedAndCSRFProtected(t *testing.T) {
	srv, err := console.New(console.Options{Addr: "127.0.0.1:0", Auth: users(t, "alice")})
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	c := newClient(t, ts.URL)

	// No token: refused.
	resp, body := c.post(t, "/signin", url.Values{"name": {"alice"}, "password": {"alice-pw"}}, ts.URL)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, body, "anti-forgery")
	// Another site's form: refused before anything else.
	resp, body = c.post(t, "/signin", url.Values{}, "https://evil.example")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, body, "another site")

	for i := 0; i < 5; i++ {
		assert.Equal(t, http.StatusUnauthorized, c.signIn(t, "alice", "guess").StatusCode)
	}
	// The sixth attempt is refused even with the right password.
	resp = c.signIn(t, "alice", "alice-pw")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))

	// Another user from another client signs in fine; the session cookie
	// is HttpOnly and SameSite=Strict.
	srv2, err := console.New(console.Options{Addr: "127.0.0.1:0", Auth: users(t, "bob")})
	require.NoError(t, err)
	ts2 := httptest.NewServer(srv2.Handler())
	defer ts2.Close()
	c2 := newClient(t, ts2.URL)
	resp = c2.signIn(t, "bob", "bob-pw")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "handrail_session" {
			session = ck
		}
	}
	require.NotNil(t, session)
	assert.True(t, session.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, session.SameSite)
	_, page := c2.get(t, "/")
	assert.Contains(t, page, "bob")
}

func TestListeningBeyondLoopbackNeedsAuthentication(t *testing.T) {
	_, err := console.New(console.Options{Addr: "0.0.0.0:8080"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a loopback address")
	_, err = console.New(console.Options{Addr: "0.0.0.0:8080", Auth: users(t, "alice")})
	assert.NoError(t, err)
	_, err = console.New(console.Options{Addr: "0.0.0.0:8080", TrustHeader: "X-Forwarded-User"})
	assert.NoError(t, err)
	_, err = console.New(console.Options{Addr: "127.0.0.1:8080"})
	assert.NoError(t, err)
}

// remoteAs makes requests look as if they came from addr.
type remoteAs struct {
	h    http.Handler
	addr string
}

func (r remoteAs) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	req.RemoteAddr = r.addr
	r.h.ServeHTTP(w, req)
}

func TestApprovalsAreRefusedOverPlainHTTPFromAnotherMachine(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		t.Run(fmt.Sprintf("insecure=%v", insecure), func(t *testing.T) {
			srv, err := console.New(console.Options{Addr: "0.0.0.0:0", Auth: users(t, "alice"), Insecure: insecure})
			require.NoError(t, err)
			b := srv.Broker()
			bld := runbook.NewBuilder("r")
			bld.Gate(runbook.Gate{Name: "go", Kind: runbook.GateApproval, Approval: &runbook.Approval{Message: "Go?"}})
			p, err := bld.Build()
			require.NoError(t, err)
			ex := &runbook.Executor{Approver: b, Observer: srv.Watch(p)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan *runbook.Result, 1)
			go func() { res, _ := ex.Run(ctx, p, runbook.RunOptions{RunID: "r1"}); done <- res }()
			require.Eventually(t, func() bool { _, ok := b.Waiting("go"); return ok }, 5*time.Second, 10*time.Millisecond)

			local := httptest.NewServer(remoteAs{srv.Handler(), "127.0.0.1:5555"})
			defer local.Close()
			remote := httptest.NewServer(remoteAs{srv.Handler(), "10.1.2.3:4444"})
			defer remote.Close()

			// Signing in from another machine over plain HTTP would send the
			// password in the clear.
			rc := newClient(t, remote.URL)
			if !insecure {
				assert.Equal(t, http.StatusForbidden, rc.signIn(t, "alice", "alice-pw").StatusCode)
			}
			// A session made on this machine, then used from another one.
			lc := newClient(t, local.URL)
			require.Equal(t, http.StatusSeeOther, lc.signIn(t, "alice", "alice-pw").StatusCode)
			u, _ := url.Parse(local.URL)
			ru, _ := url.Parse(remote.URL)
			rc.Jar.SetCookies(ru, lc.Jar.Cookies(u))
			_, page := rc.get(t, "/runs/r1")
			m := regexp.MustCompile(`data-csrf="([^"]+)"`).FindStringSubmatch(page)
			require.NotNil(t, m, page)
			_, state := rc.get(t, "/runs/r1/state")
			var v console.View
			require.NoError(t, json.Unmarshal([]byte(state), &v))
			require.Len(t, v.Asks, 1)
			assert.Equal(t, insecure, v.CanApprove)
			form := url.Values{"csrf": {m[1]}, "node": {"go"}, "plan": {p.Hash()}, "answer": {"approve"}, "evidence": {v.Asks[0].Evidence}}

			// Without the session's CSRF token: refused.
			bad := url.Values{}
			for k, vs := range form {
				bad[k] = vs
			}
			bad.Set("csrf", "forged")
			resp, body := rc.post(t, "/runs/r1/answer", bad, remote.URL)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.Contains(t, body, "anti-forgery")

			resp, body = rc.post(t, "/runs/r1/answer", form, remote.URL)
			if !insecure {
				assert.Equal(t, http.StatusForbidden, resp.StatusCode)
				assert.Contains(t, body, "not accepted over plain HTTP from 10.1.2.3")
				_, still := b.Waiting("go")
				assert.True(t, still)
				return
			}
			assert.Equal(t, http.StatusOK, resp.StatusCode, body)
			res := <-done
			assert.Equal(t, runbook.StatusSucceeded, res.Status)
			assert.Equal(t, "alice", res.Nodes["go"].Outputs["by"])
		})
	}
}

func TestTrustedHeaderOnlyFromLoopback(t *testing.T) {
	srv, err := console.New(console.Options{Addr: "0.0.0.0:0", TrustHeader: "X-Forwarded-User", TrustGroupsHeader: "X-Forwarded-Groups"})
	require.NoError(t, err)
	for _, tc := range []struct {
		remote string
		want   int
	}{{"127.0.0.1:1", http.StatusOK}, {"10.1.2.3:1", http.StatusSeeOther}} {
		ts := httptest.NewServer(remoteAs{srv.Handler(), tc.remote})
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
		req.Header.Set("X-Forwarded-User", "alice")
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		require.NoError(t, err)
		body := readAll(resp)
		resp.Body.Close()
		ts.Close()
		assert.Equal(t, tc.want, resp.StatusCode, tc.remote)
		if tc.want == http.StatusOK {
			assert.Contains(t, body, "alice")
		}
	}
}

func TestAnswerWhenNothingWaits(t *testing.T) {
	b := &console.Broker{}
	err := b.Answer("go", runbook.Decision{Approved: true, By: "alice"})
	assert.True(t, errors.Is(err, console.ErrNotWaiting))
}
