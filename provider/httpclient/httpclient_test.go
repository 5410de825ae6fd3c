package httpclient_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/httpclient"
	"github.com/handrail-dev/handrail/runbook"
)

// tlsServer is an HTTPS server answering "ok", and its certificate written
// to a PEM file.
func tlsServer(t *testing.T, configure func(*tls.Config)) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are what some cases test
	if configure != nil {
		srv.TLS = &tls.Config{}
		configure(srv.TLS)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	return srv, ca
}

func get(t *testing.T, c *httpclient.Client, u string) (string, error) {
	t.Helper()
	req, err := httpclient.NewRequest(context.Background(), http.MethodGet, u, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := httpclient.ReadBody(resp.Body, 1<<10)
	return string(b), err
}

func TestTLSWithCAFile(t *testing.T) {
	srv, ca := tlsServer(t, nil)
	bad := filepath.Join(t.TempDir(), "bad.pem")
	require.NoError(t, os.WriteFile(bad, []byte("not a certificate"), 0o600))
	for _, tc := range []struct {
		name string
		tls  httpclient.TLS
		fail string // "" when the GET must succeed
	}{
		{"untrusted by default", httpclient.TLS{}, "certificate signed by unknown authority"},
		{"ca_file", httpclient.TLS{CAFile: ca}, ""},
		{"insecure when explicit", httpclient.TLS{InsecureSkipVerify: true}, ""},
		{"missing ca_file", httpclient.TLS{CAFile: ca + ".nope"}, "provider web.app: ca_file: open "},
		{"ca_file without PEM", httpclient.TLS{CAFile: bad}, "provider web.app: ca_file " + bad + " holds no PEM certificate"},
		{"cert without key", httpclient.TLS{CAFile: ca, ClientCertFile: ca}, "provider web.app: client_cert_file and client_key_file go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := httpclient.New("web.app", nil, tc.tls)
			defer c.Close()
			body, err := get(t, c, srv.URL)
			if tc.fail == "" {
				require.NoError(t, err)
				assert.Equal(t, "ok", body)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.fail)
		})
	}
}

// TestMutualTLS: the server requires a client certificate; the client
// sends the one in client_cert_file/client_key_file.
func TestMutualTLS(t *testing.T) {
	certFile, keyFile, cert := clientCert(t)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	srv, ca := tlsServer(t, func(c *tls.Config) { c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, pool })

	without := httpclient.New("web.app", nil, httpclient.TLS{CAFile: ca})
	defer without.Close()
	_, err := get(t, without, srv.URL)
	require.Error(t, err, "the server requires a client certificate")

	with := httpclient.New("web.app", nil, httpclient.TLS{CAFile: ca, ClientCertFile: certFile, ClientKeyFile: keyFile})
	defer with.Close()
	body, err := get(t, with, srv.URL)
	require.NoError(t, err)
	assert.Equal(t, "ok", body)

	wrongKey := httpclient.New("web.app", nil, httpclient.TLS{CAFile: ca, ClientCertFile: certFile, ClientKeyFile: ca})
	_, err = get(t, wrongKey, srv.URL)
	assert.ErrorContains(t, err, "provider web.app: client certificate: ")
}

// clientCert writes a self-signed client certificate and its key.
func clientCert(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "handrail"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err = x509.ParseCertificate(der)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile, cert
}

// TestClientReadsFilesOnFirstUse: New reads nothing (an instance is
// configured before its files exist, as in a plan), the first request
// reads them, and the error of a failed build is kept.
func TestClientReadsFilesOnFirstUse(t *testing.T) {
	srv, ca := tlsServer(t, nil)
	later := filepath.Join(t.TempDir(), "ca.pem")
	c := httpclient.New("web.app", nil, httpclient.TLS{CAFile: later})
	defer c.Close()
	b, err := os.ReadFile(ca)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(later, b, 0o600))
	body, err := get(t, c, srv.URL)
	require.NoError(t, err)
	assert.Equal(t, "ok", body)

	broken := httpclient.New("web.app", nil, httpclient.TLS{CAFile: later + ".nope"})
	_, err1 := broken.Doer()
	require.NoError(t, os.WriteFile(later+".nope", b, 0o600))
	_, err2 := broken.Doer()
	require.Error(t, err1)
	assert.Equal(t, err1, err2, "the client is built once")
}

// TestGivenDoer: a Doer given to the provider (a fake) serves every
// request, whatever the TLS settings, and Close leaves it alone.
func TestGivenDoer(t *testing.T) {
	var n atomic.Int32
	fake := &httpclient.InProcess{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		assert.Equal(t, httpclient.UserAgent, r.Header.Get("User-Agent"))
		_, _ = io.WriteString(w, "fake")
	})}
	c := httpclient.New("web.app", fake, httpclient.TLS{CAFile: "/nonexistent/ca.pem"})
	body, err := get(t, c, "https://nowhere.invalid/x")
	require.NoError(t, err)
	assert.Equal(t, "fake", body)
	assert.NoError(t, c.Close())
	d, err := c.Doer()
	require.NoError(t, err)
	assert.Same(t, fake, d)
	assert.Equal(t, int32(1), n.Load())
}

// TestTransportErrorsHideTheURL: net/http's *url.Error prints the whole
// URL; a webhook's path or a token in the query must not reach an error.
func TestTransportErrorsHideTheURL(t *testing.T) {
	c := httpclient.New("slack.deploy", nil, httpclient.TLS{})
	defer c.Close()
	for _, u := range []string{
		"http://127.0.0.1:1/services/T000/B000/XXXXsecretXXXX",
		"http://user:pa55-secret@127.0.0.1:1/?access_token=XXXXsecretXXXX",
	} {
		req, err := httpclient.NewRequest(context.Background(), http.MethodPost, u, []byte(`{}`))
		require.NoError(t, err)
		_, err = c.Do(req)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "secret")
		assert.NotContains(t, err.Error(), "127.0.0.1:1/")
		var ue interface{ Timeout() bool }
		assert.True(t, errors.As(err, &ue), "the cause is kept: %T", err)
	}
}

func TestNewRequest(t *testing.T) {
	req, err := httpclient.NewRequest(context.Background(), http.MethodGet, "http://h/x", nil)
	require.NoError(t, err)
	assert.Equal(t, "handrail", req.Header.Get("User-Agent"))
	assert.Equal(t, http.NoBody, req.Body)
	assert.Zero(t, req.ContentLength)

	req, err = httpclient.NewRequest(context.Background(), http.MethodPost, "http://h/x", []byte("abc"))
	require.NoError(t, err)
	assert.EqualValues(t, 3, req.ContentLength)
	b, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	assert.Equal(t, "abc", string(b))
}

func TestReadBody(t *testing.T) {
	b, err := httpclient.ReadBody(strings.NewReader("12345"), 5)
	require.NoError(t, err)
	assert.Equal(t, "12345", string(b))

	b, err = httpclient.ReadBody(strings.NewReader("123456"), 5)
	assert.ErrorIs(t, err, httpclient.ErrTooLarge)
	assert.EqualError(t, err, "response body larger than 5 bytes")
	assert.Equal(t, "12345", string(b))

	_, err = httpclient.ReadBody(io.MultiReader(strings.NewReader("12"), errReader{}), 5)
	assert.EqualError(t, err, "read body: connection reset")
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestExcerpt(t *testing.T) {
	assert.Equal(t, "bad gateway", httpclient.Excerpt([]byte("  bad gateway\n"), 200))
	assert.Equal(t, "abc…", httpclient.Excerpt([]byte("abcdef"), 3))
	// "é" is two bytes: a cut in its middle moves before it.
	assert.Equal(t, "ab…", httpclient.Excerpt([]byte("abé"), 3))
}

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://dcmms.com/api/health":                          "https://dcmms.com/api/health",
		"https://ops:pa55@dcmms.com/x":                          "https://%28sensitive%29@dcmms.com/x",
		"https://dcmms.com/x?page=2&api_key=k3y&token=t0k#frag": "https://dcmms.com/x?api_key=(sensitive)&page=2&token=(sensitive)",
		"http://[::1:bad/x?token=t0k":                           "http://[::1:bad/x…",
		"https://ops:pa55@dcmms.com:bad/x?token=t0k":            "https://(sensitive)@dcmms.com:bad/x…",
		"ops:pa55@dcmms.com:bad port":                           "(sensitive)@dcmms.com:bad port",
		"ops:pa55@dcmms.com/x":                                  "(sensitive)@dcmms.com/x",
		"mailto:ops@dcmms.com":                                  "(sensitive)@dcmms.com",
	} {
		assert.Equal(t, want, httpclient.RedactURL(raw), raw)
	}
}

func TestIsSensitiveHeader(t *testing.T) {
	for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-API-Key", "X-Auth-Token", "X-Session", "X-Client-Secret", "X-Signature", "X-Credential"} {
		assert.True(t, httpclient.IsSensitiveHeader(h), h)
	}
	for _, h := range []string{"Accept", "Content-Type", "X-Scope-OrgID", "User-Agent"} {
		assert.False(t, httpclient.IsSensitiveHeader(h), h)
	}
}

func TestAddHeaderSecret(t *testing.T) {
	env := runbook.NewEnv(runbook.EnvConfig{Node: "n"})
	httpclient.AddHeaderSecret(env, "Bearer tok-123")
	httpclient.AddHeaderSecret(env, "plainvalue")
	assert.Equal(t, "a (sensitive) b (sensitive) c (sensitive)", env.Redact("a Bearer tok-123 b tok-123 c plainvalue"))
}

// TestInProcessFaults: a request reaches the handler in process; a fault
// armed Before fails it unseen, After lets the handler act and loses the
// answer; an ended context is an error.
func TestInProcessFaults(t *testing.T) {
	var seen atomic.Int32
	var faults fault.Injector
	d := httpclient.InProcess{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.Add(1)
			b, _ := io.ReadAll(r.Body)
			_, _ = w.Write(b)
		}),
		Faults: &faults,
		Call:   func(r *http.Request) string { return r.Method + " " + r.URL.Path },
	}
	post := func(ctx context.Context) (string, error) {
		req, err := httpclient.NewRequest(ctx, http.MethodPost, "https://any.host/echo", []byte("hello"))
		require.NoError(t, err)
		resp, err := httpclient.Do(d, req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	body, err := post(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "hello", body)
	assert.Equal(t, int32(1), seen.Load())

	faults.Arm("POST /echo", fault.Fault{Kind: fault.Before})
	_, err = post(context.Background())
	assert.ErrorIs(t, err, fault.ErrInjected)
	assert.Equal(t, int32(1), seen.Load(), "Before: the handler never saw it")

	faults.Arm("POST /echo", fault.Fault{Kind: fault.After})
	_, err = post(context.Background())
	assert.ErrorIs(t, err, fault.ErrInjected)
	assert.Equal(t, int32(2), seen.Load(), "After: the handler acted")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = post(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int32(2), seen.Load())
}
