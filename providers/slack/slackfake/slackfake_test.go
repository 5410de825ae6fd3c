package slackfake_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/handrail-dev/handrail/providers/slack"
	"github.com/handrail-dev/handrail/providers/slack/slackfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOverHTTP: the fake served on a real URL, as a local release uses it.
func TestOverHTTP(t *testing.T) {
	w := slackfake.New()
	srv := httptest.NewServer(w)
	defer srv.Close()
	inst, err := (&slack.Provider{}).NewInstance("deploy", slack.Config{WebhookURL: srv.URL + "/services/T/B/X", Username: "handrail"})
	require.NoError(t, err)
	m, err := slack.NewMessage(inst, slack.Message{Text: "ramp 50%", Blocks: []any{map[string]any{"type": "divider"}}, FailOnError: true})
	require.NoError(t, err)
	_, err = m.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	require.NoError(t, err)
	got := w.Messages()
	require.Len(t, got, 1)
	assert.Equal(t, "/services/T/B/X", got[0].Webhook)
	assert.Equal(t, "handrail", got[0].Username)
	assert.Equal(t, []any{map[string]any{"type": "divider"}}, got[0].Blocks)

	w.Refuse(429, "rate_limited")
	_, err = m.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	assert.ErrorContains(t, err, "HTTP 429 rate_limited")
}
