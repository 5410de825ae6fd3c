package slack_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/handrail-dev/handrail/providers/slack"
	"github.com/handrail-dev/handrail/providers/slack/slackfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

type notes struct {
	mu    sync.Mutex
	lines []string
}

func (n *notes) Observe(e runbook.Event) {
	b, _ := runbook.MarshalEvent(e)
	n.mu.Lock()
	n.lines = append(n.lines, string(b))
	n.mu.Unlock()
}

func (n *notes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.lines, "\n")
}

const hookPath = "/services/T000/B000/XXXXsecretXXXX"

// TestExactRequest checks method, path, headers and JSON body of the post.
func TestExactRequest(t *testing.T) {
	var got struct {
		method, path, ctype string
		body                map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path, got.ctype = r.Method, r.URL.Path, r.Header.Get("Content-Type")
		b, _ := io.ReadAll(r.Body)
		require.NoError(t, json.Unmarshal(b, &got.body))
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	p := &slack.Provider{}
	inst, err := p.Configure(context.Background(), "deploy", cty.ObjectVal(map[string]cty.Value{
		"webhook_url": cty.StringVal(srv.URL + hookPath), "channel": cty.StringVal("#deployment-release-2"), "username": cty.StringVal("handrail"),
	}))
	require.NoError(t, err)
	act, err := p.Actions()["slack_message"].New(inst, cty.ObjectVal(map[string]cty.Value{
		"text": cty.StringVal("Release 2 (v0.3.0) deployment starting"),
		"blocks": cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{
			"type": cty.StringVal("section"),
			"text": cty.ObjectVal(map[string]cty.Value{"type": cty.StringVal("mrkdwn"), "text": cty.StringVal("*Release 2* starting")}),
		})}),
		"icon_emoji": cty.StringVal(":rocket:"),
	}))
	require.NoError(t, err)
	assert.Equal(t, runbook.Description{Provider: "slack.deploy", Action: "slack_message"}, runbook.Describe(act))
	out, err := act.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	require.NoError(t, err)
	assert.Equal(t, runbook.Outputs{"delivered": true, "error": ""}, out)
	assert.Equal(t, "POST", got.method)
	assert.Equal(t, hookPath, got.path)
	assert.Equal(t, "application/json", got.ctype)
	assert.Equal(t, map[string]any{
		"text":       "Release 2 (v0.3.0) deployment starting",
		"channel":    "#deployment-release-2",
		"username":   "handrail",
		"icon_emoji": ":rocket:",
		"blocks":     []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*Release 2* starting"}}},
	}, got.body)
}

// TestFailureIsAWarning: a refused message does not fail the step unless
// fail_on_error; the webhook URL (the secret) shows nowhere.
func TestFailureIsAWarning(t *testing.T) {
	w := slackfake.New()
	w.Refuse(404, "channel_not_found")
	p := w.Provider()
	inst, err := p.Configure(context.Background(), "deploy", cty.ObjectVal(map[string]cty.Value{"webhook_url": cty.StringVal("https://hooks.slack.com" + hookPath)}))
	require.NoError(t, err)
	soft, err := slack.NewMessage(inst.(*slack.Instance), slack.Message{Text: "starting"})
	require.NoError(t, err)
	hard, err := slack.NewMessage(inst.(*slack.Instance), slack.Message{Text: "done", FailOnError: true})
	require.NoError(t, err)

	b := runbook.NewBuilder("notify")
	b.Step(runbook.Step{Name: "soft", Action: soft})
	b.Step(runbook.Step{Name: "hard", Action: hard})
	plan, err := b.Build()
	require.NoError(t, err)
	ev := &notes{}
	j := &runbook.MemJournal{}
	res, err := (&runbook.Executor{Observer: ev, Journal: j}).Run(context.Background(), plan, runbook.RunOptions{RunID: "r"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "slack.deploy: slack: webhook refused the message: HTTP 404 channel_not_found")
	assert.ErrorIs(t, err, slack.ErrRejected)
	assert.Equal(t, runbook.StateSucceeded, res.Nodes["soft"].Status)
	assert.Equal(t, false, res.Nodes["soft"].Outputs["delivered"])
	assert.Contains(t, ev.String(), `"message":"notification not delivered"`)
	recs, _ := j.Load(context.Background(), "r")
	jb, _ := json.Marshal(recs)
	for _, text := range []string{err.Error(), ev.String(), string(jb)} {
		assert.NotContains(t, text, "XXXXsecretXXXX")
	}
	assert.Empty(t, w.Messages())

	w.Refuse(0, "")
	out, err := soft.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	require.NoError(t, err)
	assert.Equal(t, true, out["delivered"])
	assert.Equal(t, []string{"starting"}, w.Texts())
	assert.Equal(t, hookPath, w.Messages()[0].Webhook)
}

func TestBadInput(t *testing.T) {
	p := &slack.Provider{}
	_, err := p.Configure(context.Background(), "x", cty.ObjectVal(map[string]cty.Value{}))
	assert.ErrorContains(t, err, "webhook_url is required")
	_, err = p.Configure(context.Background(), "x", cty.ObjectVal(map[string]cty.Value{"webhook_url": cty.StringVal("hooks.slack.com/services/secret-part")}))
	assert.ErrorContains(t, err, "must be an absolute https:// URL")
	assert.NotContains(t, err.Error(), "secret-part")
	inst, err := p.Configure(context.Background(), "x", cty.ObjectVal(map[string]cty.Value{"webhook_url": cty.StringVal("https://hooks.slack.com/x")}))
	require.NoError(t, err)
	_, err = p.Actions()["slack_message"].New(inst, cty.ObjectVal(map[string]cty.Value{}))
	assert.ErrorContains(t, err, "give text or blocks")
	_, err = p.Actions()["slack_message"].New(inst, cty.ObjectVal(map[string]cty.Value{"blocks": cty.StringVal("x")}))
	assert.ErrorContains(t, err, "blocks: want a list")

	// Unreachable webhook: the error does not show the URL.
	inst2, _ := p.Configure(context.Background(), "x", cty.ObjectVal(map[string]cty.Value{"webhook_url": cty.StringVal("http://127.0.0.1:1/services/secret-part")}))
	m, _ := slack.NewMessage(inst2.(*slack.Instance), slack.Message{Text: "x", FailOnError: true})
	_, err = m.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret-part")
}
