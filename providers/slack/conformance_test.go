package slack_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/providertest"
	"github.com/handrail-dev/handrail/providers/slack"
	"github.com/handrail-dev/handrail/providers/slack/slackfake"
)

// A message is lasting by nature: once posted it is read, and no rollback
// takes it back. The suite checks that it is posted (at least once: a
// retry after a lost answer posts it again, as Slack's webhooks have no
// idempotency key) and that nothing is posted when the call fails before
// reaching Slack.
func messageCase() providertest.Case {
	return providertest.Case{Action: "slack_message", Call: "PostMessage", Lasting: true,
		Args: cty.ObjectVal(map[string]cty.Value{"text": cty.StringVal("Release 2 is starting"), "fail_on_error": cty.True}),
		Effect: func(_, after providertest.Snapshot) error {
			msgs, _ := after["messages"].([]any)
			if len(msgs) == 0 {
				return fmt.Errorf("no message posted")
			}
			if last := msgs[len(msgs)-1].(map[string]any); last["text"] != "Release 2 is starting" {
				return fmt.Errorf("last message %v", last)
			}
			return nil
		}}
}

func conformanceWorld(t *testing.T, overHTTP bool) providertest.World {
	w := slackfake.New()
	p, inject, url := w.Provider(), func(call string, f fault.Fault) { w.Faults().Arm(call, f) }, "https://hooks.slack.com/services/T0/B0/secret"
	if overHTTP {
		srv := httptest.NewServer(w)
		t.Cleanup(srv.Close)
		faults := &fault.Injector{}
		p = &slack.Provider{Client: &http.Client{Transport: &fault.Transport{Faults: faults, Call: func(r *http.Request) string {
			if r.Method == http.MethodPost {
				return "PostMessage"
			}
			return ""
		}}}}
		inject, url = func(call string, f fault.Fault) { faults.Arm(call, f) }, srv.URL+"/services/T0/B0/secret"
	}
	return providertest.World{Provider: p, Config: cty.ObjectVal(map[string]cty.Value{"webhook_url": cty.StringVal(url)}),
		Snapshot: func(context.Context) (providertest.Snapshot, error) { return w.Snapshot(), nil },
		Inject:   inject, SetClock: w.SetClock}
}

func TestConformanceFake(t *testing.T) {
	providertest.Suite{Setup: func(t *testing.T) providertest.World { return conformanceWorld(t, false) }, Cases: []providertest.Case{messageCase()}}.Run(t)
}

func TestConformanceHTTP(t *testing.T) {
	providertest.Suite{Setup: func(t *testing.T) providertest.World { return conformanceWorld(t, true) }, Cases: []providertest.Case{messageCase()}}.Run(t)
}
