// Package testbackend implements a fake "dcmms-backend" HTTP service for
// Handrail's tests.
//
// The service imitates the backend of a maintenance-management product that
// Handrail runbooks deploy, probe and roll back: it has a health endpoint, a
// Prometheus /metrics endpoint reflecting the traffic it served, a login
// endpoint, a few authenticated and unauthenticated API endpoints, and control
// endpoints that let a test inject failures, latency and an unhealthy state at
// run time.
//
// Tests usually serve a [Backend] with net/http/httptest; the
// cmd/dcmms-backend program serves the same handler as a static binary that
// scripts/test-services bakes into the dcmms/backend Docker images.
//
// Routes:
//
//	GET  /api/v1/health             {"status":"healthy","version":"…","database":"connected"}; 503 and "unhealthy" when unhealthy
//	GET  /metrics                   Prometheus text exposition format
//	POST /api/v1/auth/login         {"email":"…","password":"…"} → {"token":"…"}; 401 on a wrong password
//	GET  /api/v1/work-orders        needs "Authorization: Bearer <token>"; ?page=&per_page=&status=
//	GET  /api/v1/compliance/reports {"data":[…]}
//	POST /api/v1/ml/predict/anomaly {"sensor_id":"…","values":[…]} → {"anomaly":…,"score":…}
//	POST /control/fail?rate=0.5     that fraction of API requests (all /api/v1 routes but health) answer 500
//	POST /control/latency?ms=300    every /api/v1 request (health included) is delayed that long
//	POST /control/healthy           resets failure rate, latency and health
//	POST /control/unhealthy         the health endpoint answers 503
//	GET  /control/state             the current [State] as JSON
//
// Requests to /metrics and /control/ are not counted in the metrics, so that
// scraping and steering the service does not change what it reports.
package testbackend

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultVersion is the version a Backend reports when Options.Version is
// empty.
const DefaultVersion = "0.3.0"

// DefaultPassword is the password that POST /api/v1/auth/login accepts when
// Options.Password is empty. Any non-empty email is accepted.
const DefaultPassword = "handrail-test"

// DefaultWorkOrders is the number of fake work orders GET
// /api/v1/work-orders pages through when Options.WorkOrders is zero.
const DefaultWorkOrders = 42

// MaxLatency is the largest latency SetLatency and /control/latency accept.
const MaxLatency = time.Minute

// Options configures a Backend. The zero value is usable.
type Options struct {
	// Version is reported by the health endpoint and the dcmms_build_info
	// metric. Empty means DefaultVersion.
	Version string
	// Password is the password the login endpoint accepts. Empty means
	// DefaultPassword.
	Password string
	// Unhealthy makes the Backend start unhealthy: the health endpoint
	// answers 503 until SetHealthy(true), Reset or POST /control/healthy.
	Unhealthy bool
	// AlwaysUnhealthy makes the health endpoint answer 503 whatever the
	// controls say (a "broken" release).
	AlwaysUnhealthy bool
	// FailureRate is the initial fraction of API requests that answer 500,
	// in [0, 1]. See SetFailureRate.
	FailureRate float64
	// Latency is the initial latency added to every /api/v1 request, in
	// [0, MaxLatency].
	Latency time.Duration
	// WorkOrders is the number of fake work orders. Zero means
	// DefaultWorkOrders; negative means none.
	WorkOrders int
}

// State is a snapshot of a Backend's controls and traffic counters.
type State struct {
	// Version is the version the Backend reports.
	Version string `json:"version"`
	// Healthy tells whether the health endpoint currently answers 200.
	Healthy bool `json:"healthy"`
	// FailureRate is the fraction of API requests that answer 500.
	FailureRate float64 `json:"failure_rate"`
	// LatencyMS is the added latency in milliseconds.
	LatencyMS int64 `json:"latency_ms"`
	// Requests is the number of requests counted in http_requests_total.
	Requests uint64 `json:"requests"`
	// Errors is the number of those requests that answered 5xx.
	Errors uint64 `json:"errors"`
}

// ppm is one million: failure rates are kept in parts per million so that
// failure injection is exact and deterministic.
const ppm = 1_000_000

// Backend is the fake dcmms-backend service. It is an http.Handler; all its
// methods are safe for concurrent use. Create one with New.
type Backend struct {
	version         string
	password        string
	alwaysUnhealthy bool
	secret          []byte
	workOrders      []workOrder
	mux             *http.ServeMux

	mu        sync.Mutex
	healthy   bool
	failPPM   int64 // failure rate in parts per million
	failAcc   int64 // failure accumulator, see injectFailure
	latency   time.Duration
	metrics   metrics
	startedAt time.Time
}

// New returns a Backend configured by opts. Out-of-range FailureRate and
// Latency values are clamped into range.
func New(opts Options) *Backend {
	b := &Backend{
		version:         opts.Version,
		password:        opts.Password,
		alwaysUnhealthy: opts.AlwaysUnhealthy,
		secret:          make([]byte, 32),
		healthy:         !opts.Unhealthy,
		failPPM:         ratePPM(clamp(opts.FailureRate, 0, 1)),
		latency:         time.Duration(clamp(float64(opts.Latency), 0, float64(MaxLatency))),
		metrics:         newMetrics(),
		startedAt:       time.Now(),
	}
	if b.version == "" {
		b.version = DefaultVersion
	}
	if b.password == "" {
		b.password = DefaultPassword
	}
	// crypto/rand.Read never returns an error and always fills the slice.
	_, _ = rand.Read(b.secret)
	n := opts.WorkOrders
	if n == 0 {
		n = DefaultWorkOrders
	}
	b.workOrders = makeWorkOrders(n)
	b.mux = b.routes()
	return b
}

// Version returns the version the Backend reports.
func (b *Backend) Version() string { return b.version }

// Password returns the password the login endpoint accepts.
func (b *Backend) Password() string { return b.password }

// Token returns a bearer token valid for email, the same one the login
// endpoint hands out, so tests can call authenticated endpoints directly.
func (b *Backend) Token(email string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(email)) + "." + b.sign(email)
}

// validToken reports whether token was issued by this Backend.
func (b *Backend) validToken(token string) bool {
	enc, sig, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	email, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(email) == 0 {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(b.sign(string(email))))
}

func (b *Backend) sign(email string) string {
	mac := hmac.New(sha256.New, b.secret)
	mac.Write([]byte(email))
	return hex.EncodeToString(mac.Sum(nil))
}

// ErrInvalidRate is returned by SetFailureRate for a rate outside [0, 1].
var ErrInvalidRate = errors.New("testbackend: failure rate must be a number in [0, 1]")

// ErrInvalidLatency is returned by SetLatency for a latency outside
// [0, MaxLatency].
var ErrInvalidLatency = fmt.Errorf("testbackend: latency must be in [0, %s]", MaxLatency)

// SetFailureRate makes that fraction of API requests (every /api/v1 route
// except health) answer 500. Failures are spread deterministically: with
// rate r, the n-th API request after the call fails exactly when
// floor(n·r) > floor((n-1)·r), so a rate of 0.5 fails every second request
// and 1 fails them all. The rate is kept to six decimal places.
func (b *Backend) SetFailureRate(rate float64) error {
	if math.IsNaN(rate) || rate < 0 || rate > 1 {
		return fmt.Errorf("set failure rate %v: %w", rate, ErrInvalidRate)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failPPM = ratePPM(rate)
	b.failAcc = 0
	return nil
}

// FailureRate returns the current failure rate.
func (b *Backend) FailureRate() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return float64(b.failPPM) / ppm
}

// SetLatency adds d to the response time of every /api/v1 request, health
// included. Zero removes the added latency.
func (b *Backend) SetLatency(d time.Duration) error {
	if d < 0 || d > MaxLatency {
		return fmt.Errorf("set latency %s: %w", d, ErrInvalidLatency)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.latency = d
	return nil
}

// Latency returns the current added latency.
func (b *Backend) Latency() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.latency
}

// SetHealthy sets whether the health endpoint answers 200 (true) or 503
// (false). It has no effect on a Backend created with AlwaysUnhealthy.
func (b *Backend) SetHealthy(healthy bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.healthy = healthy
}

// Healthy reports whether the health endpoint currently answers 200.
func (b *Backend) Healthy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.healthy && !b.alwaysUnhealthy
}

// Reset makes the Backend healthy with no injected failures or latency, as
// POST /control/healthy does. Metrics are kept.
func (b *Backend) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.healthy = true
	b.failPPM = 0
	b.failAcc = 0
	b.latency = 0
}

// State returns a snapshot of the Backend's controls and counters.
func (b *Backend) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	var reqs, errs uint64
	for _, n := range b.metrics.requests {
		reqs += n
	}
	for _, n := range b.metrics.errors {
		errs += n
	}
	return State{
		Version:     b.version,
		Healthy:     b.healthy && !b.alwaysUnhealthy,
		FailureRate: float64(b.failPPM) / ppm,
		LatencyMS:   b.latency.Milliseconds(),
		Requests:    reqs,
		Errors:      errs,
	}
}

// injectFailure decides whether the current API request fails, advancing the
// deterministic failure accumulator.
func (b *Backend) injectFailure() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failPPM == 0 {
		return false
	}
	b.failAcc += b.failPPM
	if b.failAcc >= ppm {
		b.failAcc -= ppm
		return true
	}
	return false
}

func ratePPM(rate float64) int64 { return int64(math.Round(rate * ppm)) }

func clamp(v, lo, hi float64) float64 {
	if math.IsNaN(v) || v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
