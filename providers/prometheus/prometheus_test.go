package prometheus_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

type seen struct {
	mu       sync.Mutex
	method   string
	path     string
	auth     string
	ctype    string
	form     url.Values
	requests int
}

// server answers body to every request and records the last one.
func server(t *testing.T, status int, body string) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		s.mu.Lock()
		s.method, s.path, s.auth, s.ctype, s.form = r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), form
		s.requests++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

var at = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) + ".000" }

func clockEnv() *runbook.Env {
	return runbook.NewEnv(runbook.EnvConfig{Clock: runbook.NewSimClock(at)})
}

func TestQueryRequestAndResults(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		value  any
		noData bool
		err    string
	}{
		{"scalar", 200, `{"status":"success","data":{"resultType":"scalar","result":[1795662000,"0.25"]}}`, 0.25, false, ""},
		{"one series", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"api"},"value":[1795662000,"0.004"]}]}}`, 0.004, false, ""},
		{"empty", 200, `{"status":"success","data":{"resultType":"vector","result":[]}}`, nil, true, ""},
		{"NaN is no data", 200, `{"status":"success","data":{"resultType":"scalar","result":[1795662000,"NaN"]}}`, nil, true, ""},
		{"Inf", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795662000,"+Inf"]}]}}`, nil, false, "the result is +Inf, not a usable number"},
		{"several series", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"path":"/a"},"value":[1,"1"]},{"metric":{"path":"/b"},"value":[1,"2"]}]}}`, nil, false, `the query returned 2 series ({path="/a"}, {path="/b"}), want one: aggregate it`},
		{"bad query", 400, `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"}`, nil, false, "bad_data: 1:5: parse error"},
		{"not prometheus", 502, `<html>bad gateway</html>`, nil, false, `HTTP 502: not a Prometheus API answer: "<html>bad gateway</html>"`},
		{"string result", 200, `{"status":"success","data":{"resultType":"string","result":[1,"x"]}}`, nil, false, `result type "string" is not a number`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, s := server(t, tc.status, tc.body)
			inst, err := (&prometheus.Provider{}).NewInstance("main", prometheus.Config{URL: srv.URL + "/prom", BearerToken: "tok-very-secret", Timeout: 3 * time.Second})
			require.NoError(t, err)
			q, err := prometheus.NewQuery(inst, `sum(rate(http_errors_total[1m]))`)
			require.NoError(t, err)
			sample, err := q.Sample(context.Background(), clockEnv())
			s.mu.Lock()
			assert.Equal(t, "POST", s.method)
			assert.Equal(t, "/prom/api/v1/query", s.path)
			assert.Equal(t, "Bearer tok-very-secret", s.auth)
			assert.Equal(t, "application/x-www-form-urlencoded", s.ctype)
			assert.Equal(t, url.Values{"query": {`sum(rate(http_errors_total[1m]))`}, "time": {unix(at)}, "timeout": {"3s"}}, s.form)
			s.mu.Unlock()
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Contains(t, err.Error(), `prometheus.main "sum(rate(http_errors_total[1m]))"`)
				assert.NotContains(t, err.Error(), "tok-very-secret")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.noData, sample.NoData)
			assert.Equal(t, tc.value, sample.Value)
		})
	}
}

func TestBadQueryIsPermanent(t *testing.T) {
	srv, _ := server(t, 400, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
	inst, _ := (&prometheus.Provider{}).NewInstance("main", prometheus.Config{URL: srv.URL})
	q, _ := prometheus.NewQuery(inst, "foo(")
	_, err := q.Do(context.Background(), clockEnv())
	var ae *prometheus.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "bad_data", ae.Type)
	assert.True(t, runbook.IsPermanent(err))

	srv, _ = server(t, 503, `{"status":"error","errorType":"unavailable","error":"overloaded"}`)
	inst, _ = (&prometheus.Provider{}).NewInstance("main", prometheus.Config{URL: srv.URL})
	q, _ = prometheus.NewQuery(inst, "up")
	_, err = q.Do(context.Background(), clockEnv())
	assert.ErrorContains(t, err, "unavailable: overloaded")
	assert.False(t, runbook.IsPermanent(err))
}

func TestQueryStepNoData(t *testing.T) {
	srv, _ := server(t, 200, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
	inst, _ := (&prometheus.Provider{}).NewInstance("main", prometheus.Config{URL: srv.URL})
	q, _ := prometheus.NewQuery(inst, "up")
	_, err := q.Do(context.Background(), clockEnv())
	assert.ErrorIs(t, err, prometheus.ErrNoData)
}

func TestBaseline(t *testing.T) {
	matrix := `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"0.1"],[2,"0.3"],[3,"NaN"],[4,"0.2"]]}]}}`
	srv, s := server(t, 200, matrix)
	inst, _ := (&prometheus.Provider{}).NewInstance("main", prometheus.Config{URL: srv.URL, Username: "ops", Password: "pw-secret-1"})
	for _, tc := range []struct {
		reduce string
		want   float64
	}{{"", 0.2}, {"avg", 0.2}, {"max", 0.3}, {"min", 0.1}, {"last", 0.2}, {"median", 0.2}, {"p95", 0.3}} {
		b, err := prometheus.NewBaseline(inst, prometheus.BaselineConfig{Query: "p95", Window: 30 * time.Minute, Offset: time.Minute, Reduce: tc.reduce})
		require.NoError(t, err)
		out, err := b.Do(context.Background(), clockEnv())
		require.NoError(t, err)
		assert.InDelta(t, tc.want, out["value"], 1e-9, tc.reduce)
		assert.Equal(t, 3, out["samples"])
		assert.Equal(t, "2026-11-26T02:29:00Z", out["from"])
		assert.Equal(t, "2026-11-26T02:59:00Z", out["to"])
	}
	s.mu.Lock()
	assert.Equal(t, "/api/v1/query_range", s.path)
	assert.Equal(t, "15", s.form.Get("step"))
	assert.Equal(t, unix(at.Add(-31*time.Minute)), s.form.Get("start"))
	assert.Equal(t, unix(at.Add(-time.Minute)), s.form.Get("end"))
	assert.True(t, strings.HasPrefix(s.auth, "Basic "))
	s.mu.Unlock()

	_, err := prometheus.NewBaseline(inst, prometheus.BaselineConfig{Query: "x", Reduce: "mean"})
	assert.ErrorContains(t, err, `reduce "mean" is not one of avg, min, max, last, median, p90, p95, p99`)
	_, err = prometheus.NewBaseline(inst, prometheus.BaselineConfig{Query: "x", Window: 24 * time.Hour, Step: time.Second})
	assert.ErrorContains(t, err, "more than 11000 points")

	srv, _ = server(t, 200, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
	inst, _ = (&prometheus.Provider{}).NewInstance("main", prometheus.Config{URL: srv.URL})
	b, _ := prometheus.NewBaseline(inst, prometheus.BaselineConfig{Query: "x"})
	_, err = b.Do(context.Background(), clockEnv())
	assert.ErrorIs(t, err, prometheus.ErrNoData)
	assert.ErrorContains(t, err, "over the 30m0s before 2026-11-26T03:00:00Z")
}

func TestHCLSchema(t *testing.T) {
	srv, _ := server(t, 200, `{"status":"success","data":{"resultType":"scalar","result":[1,"7"]}}`)
	p := &prometheus.Provider{}
	assert.True(t, p.ConfigSchema()["bearer_token"].Sensitive)
	assert.True(t, p.ConfigSchema()["password"].Sensitive)
	inst, err := p.Configure(context.Background(), "main", cty.ObjectVal(map[string]cty.Value{"url": cty.StringVal(srv.URL), "timeout": cty.StringVal("2s")}))
	require.NoError(t, err)
	at := p.Actions()["prometheus_query"]
	probe, err := at.NewProbe(inst, cty.ObjectVal(map[string]cty.Value{"query": cty.StringVal("up")}))
	require.NoError(t, err)
	s, err := probe.Sample(context.Background(), clockEnv())
	require.NoError(t, err)
	assert.Equal(t, 7.0, s.Value)
	assert.Equal(t, runbook.Description{Provider: "prometheus.main", Action: "prometheus_query"}, runbook.Describe(probe))

	bt := p.Actions()["prometheus_baseline"]
	assert.True(t, bt.ReadOnly)
	_, err = bt.New(inst, cty.ObjectVal(map[string]cty.Value{"query": cty.StringVal("up"), "window": cty.StringVal("an hour")}))
	assert.ErrorContains(t, err, `window: "an hour" is not a duration`)

	for _, bad := range []struct {
		cfg  map[string]cty.Value
		want string
	}{
		{map[string]cty.Value{}, "url is required"},
		{map[string]cty.Value{"url": cty.StringVal("prometheus:9090")}, "must be an absolute http:// or https:// URL"},
		{map[string]cty.Value{"url": cty.StringVal("http://p"), "bearer_token": cty.StringVal("t"), "username": cty.StringVal("u")}, "not both"},
	} {
		_, err := p.Configure(context.Background(), "x", cty.ObjectVal(bad.cfg))
		assert.ErrorContains(t, err, bad.want)
	}
}

func TestAPIErrorJSON(t *testing.T) {
	// The error types are matchable with errors.As through the step error.
	err := error(&prometheus.APIError{StatusCode: 422, Type: "execution", Message: "boom"})
	wrapped := &runbook.StepError{Node: "n", Err: err}
	var ae *prometheus.APIError
	assert.True(t, errors.As(wrapped, &ae))
	b, _ := json.Marshal(ae)
	assert.Contains(t, string(b), "execution")
}

// TestSecretsStayOutOfErrors: a URL's password or token, the bearer token
// and a sensitive header's credentials never reach an error; the header's
// credentials are registered with the run's redactor.
func TestSecretsStayOutOfErrors(t *testing.T) {
	inst, err := (&prometheus.Provider{}).NewInstance("main", prometheus.Config{
		URL:         "http://ops:pw-secret-9@127.0.0.1:1/prom?api_key=key-secret-9",
		Headers:     map[string]string{"X-Auth-Token": "Bearer hdr-secret-9", "X-Scope-OrgID": "tenant-1"},
		BearerToken: "tok-secret-9",
	})
	require.NoError(t, err)
	q, err := prometheus.NewQuery(inst, `up`)
	require.NoError(t, err)
	env := clockEnv()
	_, err = q.Sample(context.Background(), env)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "query http://%28sensitive%29@127.0.0.1:1/prom?api_key=(sensitive): ")
	assert.NotContains(t, err.Error(), "secret-9")
	assert.Equal(t, "(sensitive) (sensitive) tenant-1", env.Redact("hdr-secret-9 tok-secret-9 tenant-1"))
}

// TestCAFile: a server with a private CA is trusted with ca_file only.
func TestCAFile(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"success","data":{"resultType":"scalar","result":[1795662000,"1"]}}`)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	for _, tc := range []struct {
		cfg  prometheus.Config
		fail string
	}{
		{prometheus.Config{URL: srv.URL}, "certificate"},
		{prometheus.Config{URL: srv.URL, CAFile: ca}, ""},
		{prometheus.Config{URL: srv.URL, InsecureSkipVerify: true}, ""},
		{prometheus.Config{URL: srv.URL, CAFile: ca + ".nope"}, "provider prometheus.main: ca_file: open "},
	} {
		inst, err := (&prometheus.Provider{}).NewInstance("main", tc.cfg)
		require.NoError(t, err)
		q, err := prometheus.NewQuery(inst, `up`)
		require.NoError(t, err)
		s, err := q.Sample(context.Background(), clockEnv())
		if tc.fail == "" {
			require.NoError(t, err)
			assert.Equal(t, 1.0, s.Value)
		} else {
			assert.ErrorContains(t, err, tc.fail)
		}
		assert.NoError(t, inst.Close())
	}
}
