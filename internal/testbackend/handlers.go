package testbackend

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBodyBytes bounds the JSON bodies the Backend reads.
const maxBodyBytes = 1 << 20

// unmatchedPath is the path label of requests that matched no route.
const unmatchedPath = "unmatched"

func (b *Backend) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/health", b.withLatency(b.handleHealth))
	mux.HandleFunc("POST /api/v1/auth/login", b.api(b.handleLogin))
	mux.HandleFunc("GET /api/v1/work-orders", b.api(b.requireAuth(b.handleWorkOrders)))
	mux.HandleFunc("GET /api/v1/compliance/reports", b.api(b.handleComplianceReports))
	mux.HandleFunc("POST /api/v1/ml/predict/anomaly", b.api(b.handlePredictAnomaly))
	mux.HandleFunc("GET /metrics", b.handleMetrics)
	mux.HandleFunc("POST /control/fail", b.handleControlFail)
	mux.HandleFunc("POST /control/latency", b.handleControlLatency)
	mux.HandleFunc("POST /control/healthy", b.handleControlHealthy)
	mux.HandleFunc("POST /control/unhealthy", b.handleControlUnhealthy)
	mux.HandleFunc("GET /control/state", b.handleControlState)
	return mux
}

// ServeHTTP serves the fake dcmms-backend API and records every request
// except those to /metrics and /control/ in the metrics.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" || strings.HasPrefix(r.URL.Path, "/control/") {
		b.mux.ServeHTTP(w, r)
		return
	}
	_, pattern := b.mux.Handler(r)
	path := unmatchedPath
	if pattern != "" {
		_, path, _ = strings.Cut(pattern, " ")
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	b.mux.ServeHTTP(rec, r)
	b.observe(metricMethod(r.Method), path, rec.statusCode(), time.Since(start))
}

// metricMethod bounds the method label to the standard methods.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	default:
		return "OTHER"
	}
}

// statusRecorder remembers the status code a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status code and passes it on.
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and passes p on.
func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	if err != nil {
		return n, fmt.Errorf("write response: %w", err)
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) statusCode() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// withLatency delays the request by the configured latency, or until the
// client goes away.
func (b *Backend) withLatency(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if d := b.Latency(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				writeError(w, http.StatusServiceUnavailable, "request cancelled")
				return
			}
		}
		next(w, r)
	}
}

// api wraps an API route: added latency, then injected failures.
func (b *Backend) api(next http.HandlerFunc) http.HandlerFunc {
	return b.withLatency(func(w http.ResponseWriter, r *http.Request) {
		if b.injectFailure() {
			writeError(w, http.StatusInternalServerError, "injected failure")
			return
		}
		next(w, r)
	})
}

// requireAuth answers 401 unless the request carries a bearer token issued
// by this Backend.
func (b *Backend) requireAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !b.validToken(strings.TrimSpace(token)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dcmms"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid bearer token")
			return
		}
		next(w, r)
	}
}

type healthResponse struct {
	Status   string `json:"status"`
	Version  string `json:"version"`
	Database string `json:"database"`
}

func (b *Backend) handleHealth(w http.ResponseWriter, _ *http.Request) {
	if !b.Healthy() {
		writeJSON(w, http.StatusServiceUnavailable, healthResponse{Status: "unhealthy", Version: b.version, Database: "disconnected"})
		return
	}
	writeJSON(w, http.StatusOK, healthResponse{Status: "healthy", Version: b.version, Database: "connected"})
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token     string `json:"token"`
	TokenType string `json:"token_type"`
	ExpiresIn int    `json:"expires_in"`
}

func (b *Backend) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Email == "" {
		writeError(w, http.StatusBadRequest, "email is required")
		return
	}
	if req.Password != b.password {
		writeError(w, http.StatusUnauthorized, "invalid credentials")
		return
	}
	writeJSON(w, http.StatusOK, loginResponse{Token: b.Token(req.Email), TokenType: "Bearer", ExpiresIn: 3600})
}

type workOrder struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Asset     string `json:"asset"`
	Status    string `json:"status"`
	Priority  string `json:"priority"`
	CreatedAt string `json:"created_at"`
}

func makeWorkOrders(n int) []workOrder {
	statuses := [...]string{"open", "in_progress", "completed"}
	priorities := [...]string{"low", "medium", "high", "critical"}
	tasks := [...]string{"Inspect", "Replace filter on", "Calibrate", "Lubricate", "Repair"}
	assets := [...]string{"pump", "compressor", "conveyor", "chiller", "generator"}
	base := time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC)
	out := make([]workOrder, 0, max(n, 0))
	for i := range max(n, 0) {
		asset := fmt.Sprintf("%s-%02d", assets[i%len(assets)], i%7+1)
		out = append(out, workOrder{
			ID:        fmt.Sprintf("WO-%05d", i+1),
			Title:     tasks[i%len(tasks)] + " " + asset,
			Asset:     asset,
			Status:    statuses[i%len(statuses)],
			Priority:  priorities[i%len(priorities)],
			CreatedAt: base.Add(time.Duration(i) * 6 * time.Hour).Format(time.RFC3339),
		})
	}
	return out
}

type pagination struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Total      int `json:"total"`
	TotalPages int `json:"total_pages"`
}

type workOrdersResponse struct {
	Data       []workOrder `json:"data"`
	Pagination pagination  `json:"pagination"`
}

func (b *Backend) handleWorkOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, err := intParam(q.Get("page"), 1, 1, math.MaxInt32)
	if err != nil {
		writeError(w, http.StatusBadRequest, "page: "+err.Error())
		return
	}
	perPage, err := intParam(q.Get("per_page"), 20, 1, 100)
	if err != nil {
		writeError(w, http.StatusBadRequest, "per_page: "+err.Error())
		return
	}
	status := q.Get("status")
	matching := make([]workOrder, 0, len(b.workOrders))
	for _, wo := range b.workOrders {
		if status == "" || wo.Status == status {
			matching = append(matching, wo)
		}
	}
	data := []workOrder{}
	if from := (page - 1) * perPage; from < len(matching) {
		data = matching[from:min(from+perPage, len(matching))]
	}
	writeJSON(w, http.StatusOK, workOrdersResponse{
		Data: data,
		Pagination: pagination{
			Page:       page,
			PerPage:    perPage,
			Total:      len(matching),
			TotalPages: (len(matching) + perPage - 1) / perPage,
		},
	})
}

type complianceReport struct {
	ID          string `json:"id"`
	Standard    string `json:"standard"`
	Site        string `json:"site"`
	Status      string `json:"status"`
	Findings    int    `json:"findings"`
	GeneratedAt string `json:"generated_at"`
}

type complianceResponse struct {
	Data []complianceReport `json:"data"`
}

func (b *Backend) handleComplianceReports(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, complianceResponse{Data: []complianceReport{
		{ID: "CR-2025-001", Standard: "ISO 55001", Site: "plant-north", Status: "compliant", Findings: 0, GeneratedAt: "2025-03-01T00:00:00Z"},
		{ID: "CR-2025-002", Standard: "ISO 14224", Site: "plant-north", Status: "non_compliant", Findings: 3, GeneratedAt: "2025-03-01T00:00:00Z"},
		{ID: "CR-2025-003", Standard: "OSHA 1910", Site: "plant-south", Status: "compliant", Findings: 1, GeneratedAt: "2025-03-02T00:00:00Z"},
	}})
}

type predictRequest struct {
	SensorID string    `json:"sensor_id"`
	Values   []float64 `json:"values"`
	Readings []float64 `json:"readings"`
}

type predictResponse struct {
	SensorID     string  `json:"sensor_id,omitempty"`
	Anomaly      bool    `json:"anomaly"`
	Score        float64 `json:"score"`
	Threshold    float64 `json:"threshold"`
	ModelVersion string  `json:"model_version"`
}

// anomalyThreshold is the z-score above which the last value is an anomaly.
const anomalyThreshold = 3.0

func (b *Backend) handlePredictAnomaly(w http.ResponseWriter, r *http.Request) {
	var req predictRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	values := req.Values
	if len(values) == 0 {
		values = req.Readings
	}
	if len(values) == 0 {
		writeError(w, http.StatusBadRequest, `"values" must hold at least one number`)
		return
	}
	score := anomalyScore(values)
	writeJSON(w, http.StatusOK, predictResponse{
		SensorID:     req.SensorID,
		Anomaly:      score > anomalyThreshold,
		Score:        math.Round(score*1000) / 1000,
		Threshold:    anomalyThreshold,
		ModelVersion: "zscore-" + b.version,
	})
}

// anomalyScore is the z-score of the last value against the others, capped
// at 1000.
func anomalyScore(values []float64) float64 {
	if len(values) < 2 {
		return 0
	}
	hist, last := values[:len(values)-1], values[len(values)-1]
	var mean float64
	for _, v := range hist {
		mean += v
	}
	mean /= float64(len(hist))
	var variance float64
	for _, v := range hist {
		variance += (v - mean) * (v - mean)
	}
	std := math.Sqrt(variance / float64(len(hist)))
	diff := math.Abs(last - mean)
	if diff == 0 {
		return 0
	}
	if std < 1e-9 {
		return 1000
	}
	return min(diff/std, 1000)
}

func (b *Backend) handleControlFail(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("rate")
	rate, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("rate %q: want a number in [0, 1]", raw))
		return
	}
	if err := b.SetFailureRate(rate); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, b.State())
}

func (b *Backend) handleControlLatency(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("ms")
	ms, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || ms < 0 || ms > MaxLatency.Milliseconds() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("ms %q: want an integer in [0, %d]", raw, MaxLatency.Milliseconds()))
		return
	}
	if err := b.SetLatency(time.Duration(ms) * time.Millisecond); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, b.State())
}

func (b *Backend) handleControlHealthy(w http.ResponseWriter, _ *http.Request) {
	b.Reset()
	writeJSON(w, http.StatusOK, b.State())
}

func (b *Backend) handleControlUnhealthy(w http.ResponseWriter, _ *http.Request) {
	b.SetHealthy(false)
	writeJSON(w, http.StatusOK, b.State())
}

func (b *Backend) handleControlState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, b.State())
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(raw string, def, lo, hi int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer: %w", raw, err)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is outside [%d, %d]", n, lo, hi)
	}
	return n, nil
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if dec.More() {
		return errors.New("invalid JSON body: trailing data")
	}
	return nil
}

type errorResponse struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorResponse{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"internal: cannot encode response"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	// A failed write means the client went away; there is no one to tell.
	_, _ = w.Write(append(body, '\n'))
}
