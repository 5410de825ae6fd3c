package tracing

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/provider/httpclient"
)

// Defaults of the OTLP/HTTP exporter, as the OpenTelemetry specification
// gives them.
const (
	// DefaultEndpoint is where spans go when no OTEL_EXPORTER_OTLP_*ENDPOINT
	// variable is set.
	DefaultEndpoint = "http://localhost:4318/v1/traces"
	// DefaultTimeout bounds one export (every attempt and the waits between
	// them) when OTEL_EXPORTER_OTLP_*TIMEOUT is not set.
	DefaultTimeout = 10 * time.Second
)

// ExporterConfig configures an [Exporter]. [ExporterConfigFromEnv] fills it
// from the standard environment variables.
type ExporterConfig struct {
	// URL is the full address spans are POSTed to, e.g.
	// https://collector:4318/v1/traces. Its scheme (http or https) decides
	// whether TLS is used.
	URL string
	// Headers are sent with every request (e.g. an API key). Their values
	// never appear in errors.
	Headers map[string]string
	// Timeout bounds one export, retries included; 0 means DefaultTimeout.
	Timeout time.Duration
	// Gzip compresses request bodies.
	Gzip bool
	// TLS, when not nil, is the TLS configuration of an https URL (a CA
	// pool, a client certificate).
	TLS *tls.Config
}

// ExporterConfigFromEnv reads the exporter's configuration from the
// standard OpenTelemetry variables, through getenv (os.Getenv) and readFile
// (os.ReadFile, for certificate files). A per-signal variable
// (OTEL_EXPORTER_OTLP_TRACES_*) wins over the generic one
// (OTEL_EXPORTER_OTLP_*):
//
//   - ENDPOINT: base URL; /v1/traces is appended to its path.
//     TRACES_ENDPOINT: used as-is (an empty path becomes /). Default
//     [DefaultEndpoint]. The scheme must be http or https.
//   - INSECURE: true forces http, false https, whatever the URL's scheme
//     (as the OpenTelemetry Go exporter did).
//   - HEADERS: comma-separated key=value pairs, values URL-decoded; the
//     per-signal list replaces the generic one.
//   - TIMEOUT: milliseconds per export (default 10000).
//   - COMPRESSION: gzip, or none.
//   - CERTIFICATE: PEM file of the CAs to trust; CLIENT_CERTIFICATE and
//     CLIENT_KEY: PEM files of a client certificate (mutual TLS).
//   - PROTOCOL: only http/protobuf (the default) is supported; http/json
//     and grpc are errors.
//
// Malformed values are errors (they name the variable, never a header's
// value), so a typo does not silently send spans without their API key.
func ExporterConfigFromEnv(getenv func(string) string, readFile func(string) ([]byte, error)) (ExporterConfig, error) {
	env := func(name string) (value, from string) {
		if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_" + name)); v != "" {
			return v, "OTEL_EXPORTER_OTLP_TRACES_" + name
		}
		return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_" + name)), "OTEL_EXPORTER_OTLP_" + name
	}
	cfg := ExporterConfig{URL: DefaultEndpoint, Timeout: DefaultTimeout}

	var u *url.URL
	if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); v != "" {
		p, err := parseEndpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", v)
		if err != nil {
			return cfg, err
		}
		if p.Path == "" {
			p.Path = "/"
		}
		u = p
	} else if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); v != "" {
		p, err := parseEndpoint("OTEL_EXPORTER_OTLP_ENDPOINT", v)
		if err != nil {
			return cfg, err
		}
		p.Path = path.Join("/", p.Path, "v1/traces")
		p.RawPath = ""
		u = p
	}
	if v, from := env("INSECURE"); v != "" {
		if u == nil {
			u, _ = url.Parse(DefaultEndpoint)
		}
		switch strings.ToLower(v) {
		case "true":
			u.Scheme = "http"
		case "false":
			u.Scheme = "https"
		default:
			return cfg, fmt.Errorf("tracing: %s must be true or false", from)
		}
	}
	if u != nil {
		cfg.URL = u.String()
	}

	if v, from := env("HEADERS"); v != "" {
		h, err := parseHeaders(from, v)
		if err != nil {
			return cfg, err
		}
		cfg.Headers = h
	}
	if v, from := env("TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			return cfg, fmt.Errorf("tracing: %s must be a whole number of milliseconds, not %q", from, v)
		}
		if ms > 0 {
			cfg.Timeout = time.Duration(ms) * time.Millisecond
		}
	}
	if v, from := env("COMPRESSION"); v != "" {
		switch strings.ToLower(v) {
		case "gzip":
			cfg.Gzip = true
		case "none":
		default:
			return cfg, fmt.Errorf("tracing: %s must be gzip or none, not %q", from, v)
		}
	}
	if v, from := env("PROTOCOL"); v != "" && v != "http/protobuf" {
		return cfg, fmt.Errorf("tracing: %s=%q: Handrail exports traces over OTLP/HTTP with protobuf only (http/protobuf)", from, v)
	}

	var tlsCfg tls.Config
	if v, from := env("CERTIFICATE"); v != "" {
		pem, err := readFile(v)
		if err != nil {
			return cfg, fmt.Errorf("tracing: %s: %w", from, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return cfg, fmt.Errorf("tracing: %s: no PEM certificate in %s", from, v)
		}
		tlsCfg.RootCAs = pool
	}
	certFile, certFrom := env("CLIENT_CERTIFICATE")
	keyFile, keyFrom := env("CLIENT_KEY")
	if (certFile == "") != (keyFile == "") {
		return cfg, errors.New("tracing: OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE and _CLIENT_KEY must be set together")
	}
	if certFile != "" {
		certPEM, err := readFile(certFile)
		if err != nil {
			return cfg, fmt.Errorf("tracing: %s: %w", certFrom, err)
		}
		keyPEM, err := readFile(keyFile)
		if err != nil {
			return cfg, fmt.Errorf("tracing: %s: %w", keyFrom, err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			// The error of X509KeyPair never quotes the key itself.
			return cfg, fmt.Errorf("tracing: %s / %s: %w", certFrom, keyFrom, err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	if tlsCfg.RootCAs != nil || tlsCfg.Certificates != nil {
		if strings.HasPrefix(cfg.URL, "http:") {
			return cfg, fmt.Errorf("tracing: a certificate is configured but the endpoint %s is plain http", httpclient.RedactURL(cfg.URL))
		}
		cfg.TLS = &tlsCfg
	}
	return cfg, nil
}

// parseEndpoint parses an endpoint variable's URL; only http and https are
// accepted.
func parseEndpoint(name, v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil {
		// url.Parse's error quotes the value, which may hold a password.
		return nil, fmt.Errorf("tracing: %s is not a URL", name)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing: %s is not an http:// or https:// URL with a host", name)
	}
	return u, nil
}

// parseHeaders parses a W3C-baggage-like header list: key=value pairs
// separated by commas, keys trimmed and checked to be HTTP tokens, values
// URL-decoded and trimmed. Errors name the entry by position and key, never
// by value.
func parseHeaders(from, v string) (map[string]string, error) {
	h := map[string]string{}
	for i, pair := range strings.Split(v, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, fmt.Errorf("tracing: %s: entry %d has no '='", from, i+1)
		}
		if !isToken(k) {
			return nil, fmt.Errorf("tracing: %s: entry %d: %q is not a valid header name", from, i+1, k)
		}
		dec, err := url.PathUnescape(val)
		if err != nil {
			return nil, fmt.Errorf("tracing: %s: the value of %s is not URL-encoded correctly", from, k)
		}
		h[k] = strings.TrimSpace(dec)
	}
	return h, nil
}

// isToken reports whether s is an HTTP token (RFC 9110), as header names
// must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
