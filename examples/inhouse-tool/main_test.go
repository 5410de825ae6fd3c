package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/sandbox"
)

func TestRolloutSucceeds(t *testing.T) {
	flags := &MemFlags{}
	var out bytes.Buffer
	res, err := Rollout(context.Background(), &out, flags, false)
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusSucceeded, res.Status)
	st, _ := flags.Get(context.Background(), "checkout_v2")
	assert.Equal(t, FlagState{Enabled: true, Percentage: 100}, st)
	assert.Contains(t, out.String(), "ok   checkout[100]")
}

func TestRolloutBreachRestoresTheFlag(t *testing.T) {
	flags := &MemFlags{}
	require.NoError(t, flags.Set(context.Background(), "checkout_v2", FlagState{Enabled: false, Percentage: 0}))
	var out bytes.Buffer
	res, err := Rollout(context.Background(), &out, flags, true)
	require.NoError(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, []string{"checkout[50]", "checkout[10]"}, res.Compensated)
	st, _ := flags.Get(context.Background(), "checkout_v2")
	assert.Equal(t, FlagState{Enabled: false, Percentage: 0}, st, "the flag is back as it was")
	assert.NotContains(t, out.String(), "checkout[100]")
}

func TestFlagSetValidation(t *testing.T) {
	inst := &FlagsInstance{name: "flags.main", svc: &MemFlags{}}
	_, err := NewFlagSet(inst, "", FlagState{})
	assert.ErrorContains(t, err, "flag is empty")
	_, err = NewFlagSet(inst, "x", FlagState{Percentage: 150})
	assert.ErrorContains(t, err, "not between 0 and 100")
	_, err = (&FlagsProvider{}).Configure(context.Background(), "main", cty.ObjectVal(map[string]cty.Value{"url": cty.NullVal(cty.String), "token": cty.NullVal(cty.String)}))
	assert.ErrorContains(t, err, "url is required")
}

func TestHTTPFlags(t *testing.T) {
	state := map[string]FlagState{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/api/flags/")
		switch r.Method {
		case http.MethodGet:
			_ = json.NewEncoder(w).Encode(state[name])
		case http.MethodPut:
			var s FlagState
			_ = json.NewDecoder(r.Body).Decode(&s)
			state[name] = s
		}
	}))
	defer srv.Close()
	c := &HTTPFlags{Base: srv.URL + "/api", Token: "s3cret"}
	require.NoError(t, c.Set(context.Background(), "checkout_v2", FlagState{Enabled: true, Percentage: 10}))
	st, err := c.Get(context.Background(), "checkout_v2")
	require.NoError(t, err)
	assert.Equal(t, FlagState{Enabled: true, Percentage: 10}, st)
	_, err = (&HTTPFlags{Base: srv.URL + "/api"}).Get(context.Background(), "x")
	assert.ErrorIs(t, err, ErrFlag)
	assert.NotContains(t, err.Error(), "s3cret")
}

// TestScenarios runs rollout.test.hcl with the tool's flags provider next
// to the sandbox's fakes, and checks the flag after each scenario.
func TestScenarios(t *testing.T) {
	flags := map[*sandbox.World]*MemFlags{}
	results, err := sandbox.RunTestFile(context.Background(), "testdata/rollout.test.hcl", sandbox.TestOptions{
		Providers: func(w *sandbox.World) []provider.Provider {
			f := &MemFlags{}
			flags[w] = f
			return []provider.Provider{&FlagsProvider{Service: f}}
		},
	})
	require.NoError(t, err)
	require.Len(t, results, 2)
	want := map[string]FlagState{"rollout": {Enabled: true, Percentage: 100}, "errors_at_50": {}}
	for _, r := range results {
		assert.True(t, r.Passed, "%s: %v", r.Name, r.Failures)
		st, _ := flags[r.World].Get(context.Background(), "checkout_v2")
		assert.Equal(t, want[r.Name], st, r.Name)
	}
}
