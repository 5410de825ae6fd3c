package statuspagefake_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/handrail-dev/handrail/providers/statuspage"
	"github.com/handrail-dev/handrail/providers/statuspage/statuspagefake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOverHTTP: the fake served on a real URL, used by the real provider
// through base_url (as a local release does).
func TestOverHTTP(t *testing.T) {
	w := statuspagefake.New("key-1")
	srv := httptest.NewServer(w)
	defer srv.Close()
	inst, err := (&statuspage.Provider{}).NewInstance("public", statuspage.Config{APIKey: "key-1", PageID: "pg", BaseURL: srv.URL})
	require.NoError(t, err)
	open, err := statuspage.NewIncident(inst, statuspage.OpenConfig{Incident: statuspage.Incident{Name: "Maintenance", ImpactOverride: "maintenance"}, FailOnError: true})
	require.NoError(t, err)
	env := runbook.NewEnv(runbook.EnvConfig{})
	out, err := open.Do(context.Background(), env)
	require.NoError(t, err)
	id := out["incident_id"].(string)
	assert.Len(t, w.Open(), 1)

	upd, err := statuspage.NewUpdate(inst, id, statuspage.Incident{Status: "monitoring", Body: "Traffic at 50%"}, true)
	require.NoError(t, err)
	_, err = upd.Do(context.Background(), env)
	require.NoError(t, err)
	res, err := statuspage.NewResolve(inst, id, "Done", true)
	require.NoError(t, err)
	_, err = res.Do(context.Background(), env)
	require.NoError(t, err)

	inc := w.Incidents()[0]
	assert.Equal(t, "resolved", inc.Status)
	assert.Equal(t, []string{"investigating", "monitoring", "resolved"}, []string{inc.Updates[0].Status, inc.Updates[1].Status, inc.Updates[2].Status})
	assert.Empty(t, w.Open())
	reqs := w.Requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, "PATCH", reqs[2].Method)
	assert.Equal(t, "/v1/pages/pg/incidents/"+id, reqs[2].Path)
	assert.Equal(t, "OAuth key-1", reqs[2].Authorization)
	assert.JSONEq(t, `{"incident":{"status":"resolved","body":"Done"}}`, reqs[2].Body)

	bad, err := statuspage.NewResolve(inst, "nope", "", true)
	require.NoError(t, err)
	_, err = bad.Do(context.Background(), env)
	assert.ErrorContains(t, err, "HTTP 404: Incident not found")
}
