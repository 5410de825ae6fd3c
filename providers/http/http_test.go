package http_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/testbackend"
	httpprov "github.com/handrail-dev/handrail/providers/http"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

const healthBody = `{"status":"healthy","version":"0.3.0","database":"connected","uptime":12.5,
"data":[{"id":"WO-1"},{"id":"WO-2"}],"tags":["a","b"],"meta":{"k.x":1},"big":12345678901234567890,"nothing":null}`

func jsonServer(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func instance(t *testing.T, cfg httpprov.Config) *httpprov.Instance {
	t.Helper()
	inst, err := (&httpprov.Provider{}).NewInstance("app", cfg)
	require.NoError(t, err)
	return inst
}

func env() *runbook.Env { return runbook.NewEnv(runbook.EnvConfig{Node: "health"}) }

func TestExpectationKinds(t *testing.T) {
	srv := jsonServer(t, 200, healthBody)
	inst := instance(t, httpprov.Config{BaseURL: srv.URL})
	cases := []struct {
		name string
		exp  httpprov.Expectation
		fail string // "" when it must hold
	}{
		{"equals string", httpprov.Equal("status", "healthy"), ""},
		{"equals string fails", httpprov.Equal("status", "ok"), `status: want "ok", got "healthy"`},
		{"equals number int vs float", httpprov.Equal("meta[\"k.x\"]", 1.0), ""},
		{"equals big int exact", httpprov.Equal("big", json.Number("12345678901234567890")), ""},
		{"equals big int off by one", httpprov.Equal("big", json.Number("12345678901234567891")), `big: want 12345678901234567891, got 12345678901234567890`},
		{"equals object", httpprov.Equal("data.0", map[string]any{"id": "WO-1"}), ""},
		{"equals null", httpprov.Equal("nothing", nil), ""},
		{"equals missing path", httpprov.Equal("missing.deep", "x"), `missing.deep: want "x", got nothing (no such path)`},
		{"not equals", httpprov.NotEqual("version", "0.2.9"), ""},
		{"not equals fails", httpprov.NotEqual("version", "0.3.0"), `version: want anything but "0.3.0", got it`},
		{"exists", httpprov.Exists("data[1].id"), ""},
		{"exists fails", httpprov.Exists("data[2].id"), `data[2].id: want it to exist, it does not`},
		{"absent", httpprov.Absent("error"), ""},
		{"absent fails", httpprov.Absent("status"), `status: want it absent, got "healthy"`},
		{"one of", httpprov.OneOf("database", "connected", "degraded"), ""},
		{"one of fails", httpprov.OneOf("version", "0.3.1", "0.4.0"), `version: want one of ["0.3.1","0.4.0"], got "0.3.0"`},
		{"regex", httpprov.Matches("version", `^0\.3\.`), ""},
		{"regex fails", httpprov.Matches("version", `^1\.`), `version: want a string matching /^1\./, got "0.3.0"`},
		{"regex on number fails", httpprov.Matches("uptime", `.`), `uptime: want a string matching /./, got 12.5`},
		{"contains substring", httpprov.Contains("status", "health"), ""},
		{"contains element", httpprov.Contains("tags", "b"), ""},
		{"contains key", httpprov.Contains("meta", "k.x"), ""},
		{"contains fails", httpprov.Contains("tags", "c"), `tags: want something containing "c", got ["a","b"]`},
		{"length", httpprov.Length("data", 2), ""},
		{"length fails", httpprov.Length("data", 3), `data: want length 3, got length 2`},
		{"gt", httpprov.Compare("uptime", httpprov.OpGT, 12), ""},
		{"gt fails", httpprov.Compare("uptime", httpprov.OpGT, 12.5), `uptime: want a number > 12.5, got 12.5`},
		{"gte", httpprov.Compare("uptime", httpprov.OpGTE, 12.5), ""},
		{"lt", httpprov.Compare("uptime", httpprov.OpLT, 13), ""},
		{"lt fails", httpprov.Compare("uptime", httpprov.OpLT, 10), `uptime: want a number < 10, got 12.5`},
		{"lte fails on string", httpprov.Compare("status", httpprov.OpLTE, 1), `status: want a number <= 1, got "healthy" (not a number)`},
		{"root", httpprov.Exists("$"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			chk, err := httpprov.NewCheck(inst, httpprov.Request{URL: "/api/v1/health", Expect: []httpprov.Expectation{tc.exp}})
			require.NoError(t, err)
			out, err := chk.Do(context.Background(), env())
			if tc.fail == "" {
				require.NoError(t, err)
				assert.Equal(t, 200, out["status_code"])
				assert.Equal(t, true, out["ok"])
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, httpprov.ErrExpectation)
			var ee *httpprov.ExpectationError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, []string{tc.fail}, ee.Failures)
			assert.Contains(t, err.Error(), "GET "+srv.URL+"/api/v1/health: 1 expectation failed: "+tc.fail)

			// The probe form reports the same failure as a sample.
			s, err := chk.Sample(context.Background(), env())
			require.NoError(t, err)
			assert.Equal(t, false, s.Outputs["ok"])
			assert.Equal(t, []any{tc.fail}, s.Outputs["failures"])
		})
	}
}

func TestStatusExpectations(t *testing.T) {
	srv := jsonServer(t, 503, `{"status":"unhealthy"}`)
	inst := instance(t, httpprov.Config{BaseURL: srv.URL})
	for _, tc := range []struct {
		name   string
		status []int
		fail   string
	}{
		{"default 2xx", nil, "status: want 2xx, got 503"},
		{"listed", []int{200, 204}, "status: want 200 or 204, got 503"},
		{"accepted", []int{503}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chk, err := httpprov.NewCheck(inst, httpprov.Request{URL: "/", ExpectStatus: tc.status})
			require.NoError(t, err)
			_, err = chk.Do(context.Background(), env())
			if tc.fail == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.fail)
			}
		})
	}
	// Two failures are both reported.
	chk, err := httpprov.NewCheck(inst, httpprov.Request{URL: "/", Expect: []httpprov.Expectation{httpprov.Equal("status", "healthy")}})
	require.NoError(t, err)
	_, err = chk.Do(context.Background(), env())
	assert.EqualError(t, err, "GET "+srv.URL+`/: 2 expectations failed: status: want 2xx, got 503; status: want "healthy", got "unhealthy"`)
}

func TestTextBody(t *testing.T) {
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) { io.WriteString(w, "OK ready") }))
	defer srv.Close()
	inst := instance(t, httpprov.Config{})
	chk, err := httpprov.NewCheck(inst, httpprov.Request{URL: srv.URL, Expect: []httpprov.Expectation{httpprov.Contains("$", "ready")}})
	require.NoError(t, err)
	out, err := chk.Do(context.Background(), env())
	require.NoError(t, err)
	assert.Equal(t, "OK ready", out["body"])
	assert.Nil(t, out["json"])

	chk, err = httpprov.NewCheck(inst, httpprov.Request{URL: srv.URL, Expect: []httpprov.Expectation{httpprov.Equal("status", "ok")}})
	require.NoError(t, err)
	_, err = chk.Do(context.Background(), env())
	assert.ErrorContains(t, err, "body: want JSON, got 8 bytes of text/plain")
}

// ctyArgs builds an object from Go values the way a front end would.
func ctyArgs(m map[string]cty.Value) cty.Value { return cty.ObjectVal(m) }

func TestHCLArguments(t *testing.T) {
	b := testbackend.New(testbackend.Options{Version: "0.3.0"})
	srv := httptest.NewServer(b)
	defer srv.Close()
	p := &httpprov.Provider{}
	inst, err := p.Configure(context.Background(), "app", ctyArgs(map[string]cty.Value{
		"base_url": cty.StringVal(srv.URL), "timeout": cty.StringVal("5s"),
		"headers": cty.MapVal(map[string]cty.Value{"X-Team": cty.StringVal("devops")}),
	}))
	require.NoError(t, err)
	assert.Equal(t, "http.app", inst.Name())
	at := p.Actions()[httpprov.ActionCheck]
	require.True(t, at.ReadOnly)
	act, err := at.New(inst, ctyArgs(map[string]cty.Value{
		"url":           cty.StringVal("/api/v1/health"),
		"expect_status": cty.TupleVal([]cty.Value{cty.NumberIntVal(200), cty.NumberIntVal(204)}),
		"expect":        cty.ObjectVal(map[string]cty.Value{"status": cty.StringVal("healthy"), "version": cty.StringVal("0.3.0"), "database": cty.StringVal("connected")}),
		"match": cty.ObjectVal(map[string]cty.Value{
			"version": cty.ObjectVal(map[string]cty.Value{"regex": cty.StringVal(`^0\.3`), "one_of": cty.TupleVal([]cty.Value{cty.StringVal("0.3.0")})}),
		}),
	}))
	require.NoError(t, err)
	assert.Equal(t, runbook.Description{Provider: "http.app", Action: "http_check"}, runbook.Describe(act))
	out, err := act.Do(context.Background(), env())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"status": "healthy", "version": "0.3.0", "database": "connected"}, out["json"])

	act, err = at.New(inst, ctyArgs(map[string]cty.Value{
		"url":    cty.StringVal("/api/v1/health"),
		"expect": cty.ObjectVal(map[string]cty.Value{"version": cty.StringVal("0.2.9")}),
	}))
	require.NoError(t, err)
	_, err = act.Do(context.Background(), env())
	assert.ErrorContains(t, err, `version: want "0.2.9", got "0.3.0"`)

	bad := []struct {
		name string
		args map[string]cty.Value
		want string
	}{
		{"no url", map[string]cty.Value{}, "url is required"},
		{"unknown kind", map[string]cty.Value{"url": cty.StringVal("/"), "match": cty.ObjectVal(map[string]cty.Value{"a": cty.ObjectVal(map[string]cty.Value{"bigger": cty.NumberIntVal(1)})})}, `unknown kind "bigger"`},
		{"bad regex", map[string]cty.Value{"url": cty.StringVal("/"), "match": cty.ObjectVal(map[string]cty.Value{"a": cty.ObjectVal(map[string]cty.Value{"regex": cty.StringVal("(")})})}, "expectation regex on \"a\""},
		{"gt needs number", map[string]cty.Value{"url": cty.StringVal("/"), "match": cty.ObjectVal(map[string]cty.Value{"a": cty.ObjectVal(map[string]cty.Value{"gt": cty.StringVal("x")})})}, "want a number"},
		{"match not conditions", map[string]cty.Value{"url": cty.StringVal("/"), "match": cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x")})}, `match["a"]: want conditions`},
		{"bad status", map[string]cty.Value{"url": cty.StringVal("/"), "expect_status": cty.NumberIntVal(42)}, "42 is not an HTTP status code"},
		{"status not number", map[string]cty.Value{"url": cty.StringVal("/"), "expect_status": cty.StringVal("ok")}, "want a status code"},
		{"bad timeout", map[string]cty.Value{"url": cty.StringVal("/"), "timeout": cty.StringVal("soon")}, `timeout: "soon" is not a duration`},
		{"bad path", map[string]cty.Value{"url": cty.StringVal("/"), "expect": cty.ObjectVal(map[string]cty.Value{"a[x": cty.StringVal("x")})}, `path "a[x": unclosed [`},
		{"bad method", map[string]cty.Value{"url": cty.StringVal("/"), "method": cty.StringVal("GE T")}, "not a valid HTTP method"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := at.New(inst, ctyArgs(tc.args))
			assert.ErrorContains(t, err, tc.want)
		})
	}
	rt := p.Actions()[httpprov.ActionRequest]
	_, err = rt.New(inst, ctyArgs(map[string]cty.Value{"url": cty.StringVal("/"), "extract": cty.MapVal(map[string]cty.Value{"body": cty.StringVal("x")})}))
	assert.ErrorContains(t, err, `"body" is already an output`)
	_, err = rt.New(inst, ctyArgs(map[string]cty.Value{"url": cty.StringVal("/"), "sensitive_outputs": cty.ListVal([]cty.Value{cty.StringVal("token")})}))
	assert.ErrorContains(t, err, `"token" is not an extracted output`)

	_, err = p.Configure(context.Background(), "x", ctyArgs(map[string]cty.Value{"base_url": cty.StringVal("dcmms.com")}))
	assert.ErrorContains(t, err, "must be an absolute http:// or https:// URL")
	_, err = p.Configure(context.Background(), "x", ctyArgs(map[string]cty.Value{"client_cert_file": cty.StringVal("a.pem")}))
	assert.ErrorContains(t, err, "go together")
}

func TestRelativeURLNeedsBase(t *testing.T) {
	chk, err := httpprov.NewCheck(instance(t, httpprov.Config{}), httpprov.Request{URL: "/api/v1/health"})
	require.NoError(t, err)
	_, err = chk.Do(context.Background(), env())
	assert.ErrorContains(t, err, `url "/api/v1/health" is relative and provider http.app has no base_url`)
	assert.True(t, runbook.IsPermanent(err))
}

func TestProbeSamples(t *testing.T) {
	b := testbackend.New(testbackend.Options{Version: "0.3.0"})
	srv := httptest.NewServer(b)
	inst := instance(t, httpprov.Config{BaseURL: srv.URL})
	chk, err := httpprov.NewCheck(inst, httpprov.Request{URL: "/api/v1/health", Expect: []httpprov.Expectation{httpprov.Equal("status", "healthy")}})
	require.NoError(t, err)
	s, err := chk.Sample(context.Background(), env())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"status": "healthy", "version": "0.3.0", "database": "connected"}, s.Value)
	assert.Equal(t, true, s.Outputs["ok"])
	assert.Equal(t, 200, s.Outputs["status_code"])
	assert.IsType(t, float64(0), s.Outputs["latency_ms"])

	b.SetHealthy(false)
	s, err = chk.Sample(context.Background(), env())
	require.NoError(t, err)
	assert.Equal(t, false, s.Outputs["ok"])
	assert.Equal(t, 503, s.Outputs["status_code"])
	assert.Equal(t, []any{"status: want 2xx, got 503", `status: want "healthy", got "unhealthy"`}, s.Outputs["failures"])

	srv.Close()
	_, err = chk.Sample(context.Background(), env())
	assert.ErrorContains(t, err, "GET "+srv.URL+"/api/v1/health: ")
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	chk, err := httpprov.NewCheck(instance(t, httpprov.Config{BaseURL: srv.URL, Timeout: time.Hour}), httpprov.Request{URL: "/slow", Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	start := time.Now()
	_, err = chk.Do(context.Background(), env())
	assert.ErrorContains(t, err, "GET "+srv.URL+"/slow: no answer within 50ms")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) { io.WriteString(w, `{"ok":true}`) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	for _, tc := range []struct {
		name string
		cfg  httpprov.Config
		fail string
	}{
		{"untrusted by default", httpprov.Config{BaseURL: srv.URL}, "certificate"},
		{"ca_file", httpprov.Config{BaseURL: srv.URL, CAFile: ca}, ""},
		{"insecure when explicit", httpprov.Config{BaseURL: srv.URL, InsecureSkipVerify: true}, ""},
		{"missing ca_file", httpprov.Config{BaseURL: srv.URL, CAFile: ca + ".nope"}, "ca_file: open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chk, err := httpprov.NewCheck(instance(t, tc.cfg), httpprov.Request{URL: "/", Expect: []httpprov.Expectation{httpprov.Equal("ok", true)}})
			require.NoError(t, err)
			_, err = chk.Do(context.Background(), env())
			if tc.fail == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.fail)
			}
		})
	}
}

// recorder collects events as JSON lines.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Observe(e runbook.Event) {
	b, _ := runbook.MarshalEvent(e)
	r.mu.Lock()
	r.lines = append(r.lines, string(b))
	r.mu.Unlock()
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

func journalText(t *testing.T, j *runbook.MemJournal, run string) string {
	t.Helper()
	recs, err := j.Load(context.Background(), run)
	require.NoError(t, err)
	b, err := json.Marshal(recs)
	require.NoError(t, err)
	return string(b)
}

// TestSmokeChain logs in, takes the token as a sensitive output, and calls
// the work orders with it; then a check fails while the token is in a
// header. The token never shows in events, journal or errors.
func TestSmokeChain(t *testing.T) {
	b := testbackend.New(testbackend.Options{Password: "pa55word-x"})
	srv := httptest.NewServer(b)
	defer srv.Close()
	inst := instance(t, httpprov.Config{BaseURL: srv.URL})
	token := b.Token("admin@dcmms.local")

	login, err := httpprov.NewRequest(inst, httpprov.Request{Method: "POST", URL: "/api/v1/auth/login",
		Body:    map[string]any{"email": "admin@dcmms.local", "password": "pa55word-x"},
		Extract: map[string]string{"token": "token"}, SensitiveOutputs: []string{"token"}})
	require.NoError(t, err)
	bearer := func(env *runbook.Env, r *httpprov.Request) error {
		out, ok := env.Output("login")
		if !ok {
			return errors.New("no login output")
		}
		tok, ok := out["token"].(runbook.Secret)
		if !ok {
			return fmt.Errorf("token is %T, want a secret", out["token"])
		}
		r.Headers = map[string]string{"Authorization": "Bearer " + tok.Reveal()}
		return nil
	}
	orders, err := httpprov.NewCheck(inst, httpprov.Request{URL: "/api/v1/work-orders", Bind: bearer,
		Expect: []httpprov.Expectation{httpprov.Exists("data"), httpprov.Compare("pagination.total", httpprov.OpGT, 0)}})
	require.NoError(t, err)
	// Fails on purpose: the wrong page size; the error must not show the
	// Authorization header.
	broken, err := httpprov.NewCheck(inst, httpprov.Request{URL: "/api/v1/work-orders", Bind: bearer,
		Expect: []httpprov.Expectation{httpprov.Length("data", 3)}})
	require.NoError(t, err)

	var mu sync.Mutex
	var seen runbook.Outputs
	bld := runbook.NewBuilder("smoke")
	bld.Step(runbook.Step{Name: "login", Action: login})
	bld.Step(runbook.Step{Name: "work_orders", Action: orders, Uses: []string{"login"}})
	bld.Step(runbook.Step{Name: "capture", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
		mu.Lock()
		defer mu.Unlock()
		seen, _ = env.Output("login")
		return nil, nil
	})})
	bld.Step(runbook.Step{Name: "broken", Action: broken, Uses: []string{"login"}})
	plan, err := bld.Build()
	require.NoError(t, err)
	rec := &recorder{}
	j := &runbook.MemJournal{}
	res, err := (&runbook.Executor{Observer: rec, Journal: j}).Run(context.Background(), plan, runbook.RunOptions{RunID: "r1"})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Contains(t, err.Error(), `data: want length 3, got length 20`)

	mu.Lock()
	require.IsType(t, runbook.Secret{}, seen["token"])
	assert.Equal(t, token, seen["token"].(runbook.Secret).Reveal())
	mu.Unlock()
	for what, text := range map[string]string{"error": err.Error(), "events": rec.text(), "journal": journalText(t, j, "r1")} {
		assert.NotContains(t, text, token, what)
		assert.NotContains(t, text, "pa55word-x", what)
	}
	assert.Contains(t, rec.text(), `"token":"(sensitive)"`)
	out := res.Nodes["login"].Outputs
	assert.NotContains(t, out["body"], token)
	assert.Equal(t, "(sensitive)", out["json"].(map[string]any)["token"])
	assert.Equal(t, "Bearer", out["json"].(map[string]any)["token_type"])
}

func TestCheckGate(t *testing.T) {
	b := testbackend.New(testbackend.Options{Unhealthy: true})
	srv := httptest.NewServer(b)
	defer srv.Close()
	chk, err := httpprov.NewCheck(instance(t, httpprov.Config{BaseURL: srv.URL}), httpprov.Request{URL: "/api/v1/health",
		Expect: []httpprov.Expectation{httpprov.Equal("status", "healthy")}})
	require.NoError(t, err)
	calls := 0
	bld := runbook.NewBuilder("gate")
	bld.Gate(runbook.Gate{Name: "healthy", Kind: runbook.GateCheck, Every: 10 * time.Millisecond, Timeout: 10 * time.Second,
		Checks: []runbook.Check{{Name: "health", Probe: runbook.ProbeFunc(func(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
			calls++
			if calls == 3 {
				b.SetHealthy(true)
			}
			return chk.Sample(ctx, env)
		}), Success: httpprov.OK()}}})
	plan, err := bld.Build()
	require.NoError(t, err)
	res, err := (&runbook.Executor{}).Run(context.Background(), plan, runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusSucceeded, res.Status)
	assert.Equal(t, 3, calls)
}

func TestRequestOutputs(t *testing.T) {
	p := &httpprov.Provider{}
	outs := p.RequestOutputs(cty.ObjectVal(map[string]cty.Value{
		"url":               cty.StringVal("/login"),
		"extract":           cty.ObjectVal(map[string]cty.Value{"token": cty.StringVal("token"), "user_id": cty.StringVal("user.id")}),
		"sensitive_outputs": cty.TupleVal([]cty.Value{cty.StringVal("token")}),
	}))
	require.Contains(t, outs, "token")
	assert.True(t, outs["token"].Sensitive)
	assert.False(t, outs["user_id"].Sensitive)
	assert.Contains(t, outs, "status_code")
	assert.NotContains(t, p.RequestOutputs(cty.ObjectVal(map[string]cty.Value{"url": cty.StringVal("/"), "extract": cty.UnknownVal(cty.Map(cty.String))})), "token")
}

func TestInstanceCloses(t *testing.T) {
	srv := jsonServer(t, 200, `{}`)
	inst := instance(t, httpprov.Config{BaseURL: srv.URL})
	chk, err := httpprov.NewCheck(inst, httpprov.Request{URL: "/"})
	require.NoError(t, err)
	_, err = chk.Do(context.Background(), env())
	require.NoError(t, err)
	var c io.Closer = inst
	assert.NoError(t, c.Close())
}
