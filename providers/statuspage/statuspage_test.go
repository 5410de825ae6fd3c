package statuspage_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/handrail-dev/handrail/providers/statuspage"
	"github.com/handrail-dev/handrail/providers/statuspage/statuspagefake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

const token = "sp-token-0123456789"

type call struct {
	Method, Path, Auth, CType string
	Body                      map[string]any
}

// TestExactRequests: create then resolve, against a handler that checks
// the wire format.
func TestExactRequests(t *testing.T) {
	var mu sync.Mutex
	var calls []call
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c := call{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), CType: r.Header.Get("Content-Type")}
		require.NoError(t, json.Unmarshal(b, &c.Body))
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Method == "POST" {
			w.WriteHeader(201)
			io.WriteString(w, `{"id":"p31zjtct2jer","status":"investigating","shortlink":"https://stspg.io/abc"}`)
			return
		}
		io.WriteString(w, `{"id":"p31zjtct2jer","status":"resolved"}`)
	}))
	defer srv.Close()
	p := &statuspage.Provider{}
	inst, err := p.Configure(context.Background(), "public", cty.ObjectVal(map[string]cty.Value{
		"api_key": cty.StringVal(token), "page_id": cty.StringVal("kctbh9vrtdwd"), "base_url": cty.StringVal(srv.URL),
	}))
	require.NoError(t, err)
	open, err := p.Actions()["statuspage_incident"].New(inst, cty.ObjectVal(map[string]cty.Value{
		"name":            cty.StringVal("Scheduled Maintenance - Release 2 Deployment"),
		"status":          cty.StringVal("investigating"),
		"impact_override": cty.StringVal("maintenance"),
		"body":            cty.StringVal("We are deploying Release 2."),
	}))
	require.NoError(t, err)
	assert.Equal(t, runbook.Description{Provider: "statuspage.public", Action: "statuspage_incident"}, runbook.Describe(open))
	env := runbook.NewEnv(runbook.EnvConfig{})
	out, err := open.Do(context.Background(), env)
	require.NoError(t, err)
	assert.Equal(t, runbook.Outputs{"delivered": true, "error": "", "incident_id": "p31zjtct2jer", "status": "investigating", "shortlink": "https://stspg.io/abc"}, out)

	resolve, err := p.Actions()["statuspage_resolve"].New(inst, cty.ObjectVal(map[string]cty.Value{
		"incident_id": cty.StringVal("p31zjtct2jer"), "body": cty.StringVal("Release 2 is live."),
	}))
	require.NoError(t, err)
	out, err = resolve.Do(context.Background(), env)
	require.NoError(t, err)
	assert.Equal(t, true, out["delivered"])

	// The natural rollback of the create resolves it too, from the step's
	// outputs alone.
	rb := open.(runbook.NaturalRollback).NaturalRollback()
	require.NotNil(t, rb)
	require.NoError(t, rb.Compensate(context.Background(), runbook.NewEnv(runbook.EnvConfig{Self: runbook.Outputs{"incident_id": "p31zjtct2jer"}})))

	want := []call{
		{"POST", "/v1/pages/kctbh9vrtdwd/incidents", "OAuth " + token, "application/json", map[string]any{"incident": map[string]any{
			"name": "Scheduled Maintenance - Release 2 Deployment", "status": "investigating", "impact_override": "maintenance", "body": "We are deploying Release 2."}}},
		{"PATCH", "/v1/pages/kctbh9vrtdwd/incidents/p31zjtct2jer", "OAuth " + token, "application/json", map[string]any{"incident": map[string]any{
			"status": "resolved", "body": "Release 2 is live."}}},
		{"PATCH", "/v1/pages/kctbh9vrtdwd/incidents/p31zjtct2jer", "OAuth " + token, "application/json", map[string]any{"incident": map[string]any{
			"status": "resolved", "body": statuspage.DefaultRollbackBody}}},
	}
	mu.Lock()
	assert.Equal(t, want, calls)
	mu.Unlock()
}

type events struct {
	mu    sync.Mutex
	lines []string
}

func (e *events) Observe(ev runbook.Event) {
	b, _ := runbook.MarshalEvent(ev)
	e.mu.Lock()
	e.lines = append(e.lines, string(b))
	e.mu.Unlock()
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.lines, "\n")
}

func world(t *testing.T) (*statuspagefake.World, *statuspage.Instance) {
	t.Helper()
	w := statuspagefake.New(token)
	inst, err := w.Provider().Configure(context.Background(), "public", cty.ObjectVal(map[string]cty.Value{
		"api_key": cty.StringVal(token), "page_id": cty.StringVal("page1"),
	}))
	require.NoError(t, err)
	return w, inst.(*statuspage.Instance)
}

func release(t *testing.T, inst *statuspage.Instance, failDeploy bool, resolve bool) *runbook.Plan {
	t.Helper()
	open, err := statuspage.NewIncident(inst, statuspage.OpenConfig{Incident: statuspage.Incident{Name: "Maintenance", ImpactOverride: "maintenance"}})
	require.NoError(t, err)
	b := runbook.NewBuilder("release")
	b.Step(runbook.Step{Name: "maintenance", Action: open})
	b.Step(runbook.Step{Name: "deploy", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
		if failDeploy {
			return nil, errors.New("health check failed")
		}
		return nil, nil
	})})
	if resolve {
		b.Step(runbook.Step{Name: "operational", Irreversible: true, Uses: []string{"maintenance"}, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			out, _ := env.Output("maintenance")
			id, _ := out["incident_id"].(string)
			r, err := statuspage.NewResolve(inst, id, "Done.", false)
			if err != nil {
				return nil, err
			}
			return r.Do(ctx, env)
		})})
	}
	p, err := b.Build()
	require.NoError(t, err)
	return p
}

func TestRollbackResolvesIncident(t *testing.T) {
	w, inst := world(t)
	ev := &events{}
	j := &runbook.MemJournal{}
	res, err := (&runbook.Executor{Observer: ev, Journal: j}).Run(context.Background(), release(t, inst, true, false), runbook.RunOptions{RunID: "r"})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, []string{"maintenance"}, res.Compensated)
	inc := w.Incidents()
	require.Len(t, inc, 1)
	assert.True(t, inc[0].Resolved())
	assert.Equal(t, "maintenance", inc[0].ImpactOverride)
	assert.Equal(t, []statuspagefake.Update{{Status: "investigating", Time: inc[0].CreatedAt}, {Status: "resolved", Body: statuspage.DefaultRollbackBody, Time: inc[0].ResolvedAt}}, inc[0].Updates)
	assert.Empty(t, w.Open())
	recs, _ := j.Load(context.Background(), "r")
	jb, _ := json.Marshal(recs)
	assert.NotContains(t, ev.String()+string(jb)+err.Error(), token)
}

func TestNormalCompletionResolves(t *testing.T) {
	w, inst := world(t)
	res, err := (&runbook.Executor{}).Run(context.Background(), release(t, inst, false, true), runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusSucceeded, res.Status)
	assert.Empty(t, w.Open())
	assert.Equal(t, "Done.", w.Incidents()[0].Updates[1].Body)
}

// TestOutageIsAWarning: Statuspage down does not stop the release; the
// rollback of an incident never opened does nothing.
func TestOutageIsAWarning(t *testing.T) {
	w, inst := world(t)
	w.Refuse(500, "internal error")
	ev := &events{}
	res, err := (&runbook.Executor{Observer: ev}).Run(context.Background(), release(t, inst, false, true), runbook.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusSucceeded, res.Status)
	assert.Equal(t, false, res.Nodes["maintenance"].Outputs["delivered"])
	assert.Equal(t, "statuspage.public statuspage_incident: POST /v1/pages/page1/incidents: HTTP 500: internal error", res.Nodes["maintenance"].Outputs["error"])
	assert.Equal(t, false, res.Nodes["operational"].Outputs["delivered"])
	assert.Contains(t, ev.String(), "notification not delivered")

	res, err = (&runbook.Executor{Observer: ev}).Run(context.Background(), release(t, inst, true, false), runbook.RunOptions{})
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status, "the resolve of a never-opened incident is not a failure")
	// The creation may have taken effect (only the answer failed): the
	// rollback looks for the incident, and the outage makes that a warning.
	assert.Contains(t, ev.String(), "looking for the incident the step opened: GET /v1/pages/page1/incidents/unresolved: HTTP 500")

	// With fail_on_error, the outage fails the step.
	open, err := statuspage.NewIncident(inst, statuspage.OpenConfig{Incident: statuspage.Incident{Name: "M"}, FailOnError: true})
	require.NoError(t, err)
	_, err = open.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	var ae *statuspage.APIError
	require.ErrorAs(t, err, &ae)
	assert.True(t, ae.Retryable())
}

func TestWrongKeyAndBadInput(t *testing.T) {
	w := statuspagefake.New(token)
	inst, err := w.Provider().Configure(context.Background(), "public", cty.ObjectVal(map[string]cty.Value{
		"api_key": cty.StringVal("wrong-key-123"), "page_id": cty.StringVal("page1"),
	}))
	require.NoError(t, err)
	open, _ := statuspage.NewIncident(inst.(*statuspage.Instance), statuspage.OpenConfig{Incident: statuspage.Incident{Name: "M"}, FailOnError: true})
	_, err = open.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	assert.ErrorContains(t, err, "HTTP 401: Could not authenticate")
	assert.NotContains(t, err.Error(), "wrong-key-123")

	p := &statuspage.Provider{}
	assert.True(t, p.ConfigSchema()["api_key"].Sensitive)
	for _, tc := range []struct {
		cfg  map[string]cty.Value
		want string
	}{
		{map[string]cty.Value{"page_id": cty.StringVal("p")}, "api_key is required"},
		{map[string]cty.Value{"api_key": cty.StringVal("k")}, "page_id is required"},
		{map[string]cty.Value{"api_key": cty.StringVal("k"), "page_id": cty.StringVal("p"), "base_url": cty.StringVal("api")}, "must be an absolute"},
	} {
		_, err := p.Configure(context.Background(), "x", cty.ObjectVal(tc.cfg))
		assert.ErrorContains(t, err, tc.want)
	}
	i, _ := p.Configure(context.Background(), "x", cty.ObjectVal(map[string]cty.Value{"api_key": cty.StringVal("k"), "page_id": cty.StringVal("p")}))
	for _, tc := range []struct {
		action string
		args   map[string]cty.Value
		want   string
	}{
		{"statuspage_incident", map[string]cty.Value{}, "name is required"},
		{"statuspage_incident", map[string]cty.Value{"name": cty.StringVal("x"), "status": cty.StringVal("down")}, `status "down" is not one of investigating`},
		{"statuspage_incident", map[string]cty.Value{"name": cty.StringVal("x"), "impact_override": cty.StringVal("huge")}, `impact_override "huge" is not one of`},
		{"statuspage_update", map[string]cty.Value{"incident_id": cty.StringVal("x")}, "nothing to update"},
	} {
		_, err := p.Actions()[tc.action].New(i, cty.ObjectVal(tc.args))
		assert.ErrorContains(t, err, tc.want)
	}
}

// TestUnreachableHidesKey: a transport error names the method and path,
// never the API key or the whole URL.
func TestUnreachableHidesKey(t *testing.T) {
	inst, err := (&statuspage.Provider{}).NewInstance("public", statuspage.Config{APIKey: "key-secret-7", PageID: "page1", BaseURL: "http://127.0.0.1:1/?token=tok-secret-7"})
	require.NoError(t, err)
	defer inst.Close()
	_, err = inst.CreateIncident(context.Background(), statuspage.Incident{Name: "M"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "POST /v1/pages/page1/incidents: ")
	assert.NotContains(t, err.Error(), "secret-7")
	assert.NotContains(t, err.Error(), "127.0.0.1:1/")
}
