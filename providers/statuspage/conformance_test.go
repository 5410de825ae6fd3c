package statuspage_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/providertest"
	"github.com/handrail-dev/handrail/providers/statuspage"
	"github.com/handrail-dev/handrail/providers/statuspage/statuspagefake"
)

const incidentName = "Maintenance: release 2"

// incidentCase opens an incident. An incident is lasting by nature: once
// subscribers were told, it cannot be taken back; the rollback resolves
// it. So the world after a rollback holds exactly one incident of that
// name, resolved — never none, never a duplicate from a retry, never one
// left open.
func incidentCase() providertest.Case {
	return providertest.Case{Action: "statuspage_incident", Call: "CreateIncident", Lasting: true,
		Args: cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(incidentName), "impact_override": cty.StringVal("maintenance"),
			"fail_on_error": cty.True}),
		Effect:   incidents("investigating"),
		Restored: incidents("resolved"),
	}
}

// incidents checks that the only incident named incidentName has status
// want (the one opened before the run stays as it was).
func incidents(want string) func(before, after providertest.Snapshot) error {
	return func(_, after providertest.Snapshot) error {
		var found []string
		for id, v := range after["incidents"].(map[string]any) {
			in := v.(map[string]any)
			if in["name"] == incidentName {
				found = append(found, fmt.Sprintf("%s:%s", id, in["status"]))
				if in["status"] != want {
					return fmt.Errorf("incident %s is %v, want %s", id, in["status"], want)
				}
			} else if in["status"] != "identified" {
				return fmt.Errorf("the other incident %s changed: %v", id, in)
			}
		}
		if len(found) != 1 {
			return fmt.Errorf("want exactly one incident named %q, found %v", incidentName, found)
		}
		return nil
	}
}

func conformanceWorld(t *testing.T, overHTTP bool) providertest.World {
	w := statuspagefake.New("sp-key")
	// An incident someone else opened: the rollback must leave it alone.
	pi, err := w.Provider().Configure(context.Background(), "public", config(""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pi.(*statuspage.Instance).CreateIncident(context.Background(), statuspage.Incident{Name: "Database latency", Status: "identified"}); err != nil {
		t.Fatal(err)
	}
	p, inject, base := w.Provider(), func(call string, f fault.Fault) { w.Faults().Arm(call, f) }, ""
	if overHTTP {
		srv := httptest.NewServer(w)
		t.Cleanup(srv.Close)
		faults := &fault.Injector{}
		p = &statuspage.Provider{Client: &http.Client{Transport: &fault.Transport{Faults: faults, Call: statuspagefake.Call}}}
		inject, base = func(call string, f fault.Fault) { faults.Arm(call, f) }, srv.URL
	}
	return providertest.World{Provider: p, Config: config(base),
		Snapshot: func(context.Context) (providertest.Snapshot, error) { return w.Snapshot(), nil },
		Inject:   inject, SetClock: w.SetClock}
}

func config(base string) cty.Value {
	m := map[string]cty.Value{"api_key": cty.StringVal("sp-key"), "page_id": cty.StringVal("page1")}
	if base != "" {
		m["base_url"] = cty.StringVal(base)
	}
	return cty.ObjectVal(m)
}

func TestConformanceFake(t *testing.T) {
	providertest.Suite{Setup: func(t *testing.T) providertest.World { return conformanceWorld(t, false) }, Cases: []providertest.Case{incidentCase()}}.Run(t)
}

// TestConformanceHTTP runs the provider's real HTTP client against the fake
// served on a socket, with faults in the transport.
func TestConformanceHTTP(t *testing.T) {
	providertest.Suite{Setup: func(t *testing.T) providertest.World { return conformanceWorld(t, true) }, Cases: []providertest.Case{incidentCase()}}.Run(t)
}
