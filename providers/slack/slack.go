// Package slack is Handrail's Slack provider: messages to a channel through
// an incoming webhook (the seed's #deployment announcements).
//
//	provider "slack" "deploy" {
//	  webhook_url = var.slack_webhook   # sensitive
//	}
//
//	step "slack_message" "starting" {
//	  text = "Release 2 (v${var.version}) deployment starting"
//	}
//
// A notification that cannot be delivered is a warning, never a reason to
// roll back a release: the step succeeds with delivered = false and emits
// a note, unless fail_on_error = true.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/provider/httpclient"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// Type is the provider type.
const Type = "slack"

// ActionMessage is the action name.
const ActionMessage = "slack_message"

// DefaultTimeout bounds a post when none is configured.
const DefaultTimeout = 10 * time.Second

// Doer sends HTTP requests; *net/http.Client implements it. Fakes
// (package slackfake) replace it.
type Doer = httpclient.Doer

// Config configures an instance.
type Config struct {
	// WebhookURL is the incoming webhook (a secret). Required.
	WebhookURL string
	// Channel, Username and IconEmoji are defaults for every message
	// (legacy webhooks honour them; app webhooks post to their channel).
	Channel, Username, IconEmoji string
	// Timeout bounds each post (default [DefaultTimeout]).
	Timeout time.Duration
}

// Provider is the "slack" provider. Set Client to send elsewhere (a fake).
type Provider struct {
	Client Doer
}

var _ provider.Provider = (*Provider)(nil)

// Type returns "slack".
func (p *Provider) Type() string { return Type }

// ConfigSchema returns the schema of a provider "slack" block.
func (p *Provider) ConfigSchema() provider.Schema {
	return provider.Schema{
		"webhook_url": {Type: cty.String, Required: true, Sensitive: true, Description: "Incoming webhook URL."},
		"channel":     {Type: cty.String, Description: "Default channel, e.g. #deployment-release-2."},
		"username":    {Type: cty.String, Description: "Default sender name."},
		"icon_emoji":  {Type: cty.String, Description: "Default icon, e.g. :rocket:."},
		"timeout":     {Type: cty.String, Description: "Per-post timeout (default 10s)."},
	}
}

// Configure returns an instance; it does not connect.
func (p *Provider) Configure(ctx context.Context, name string, config cty.Value) (provider.Instance, error) {
	a := &ctyargs.Attrs{V: config, Where: "provider slack." + name}
	cfg := Config{WebhookURL: a.Str("webhook_url"), Channel: a.Str("channel"), Username: a.Str("username"), IconEmoji: a.Str("icon_emoji"),
		Timeout: a.Duration("timeout")}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return p.NewInstance(name, cfg)
}

// NewInstance returns a configured instance, for Go runbooks.
func (p *Provider) NewInstance(name string, cfg Config) (*Instance, error) {
	if cfg.WebhookURL == "" {
		return nil, fmt.Errorf("provider slack.%s: webhook_url is required", name)
	}
	u, err := url.Parse(cfg.WebhookURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// Never echo the URL: it is the secret.
		return nil, fmt.Errorf("provider slack.%s: webhook_url must be an absolute https:// URL", name)
	}
	return &Instance{name: name, cfg: cfg, http: httpclient.New(Type+"."+name, p.Client, httpclient.TLS{})}, nil
}

// Instance is a configured "slack" provider.
type Instance struct {
	name string
	cfg  Config
	http *httpclient.Client
}

// Name returns "slack.<name>".
func (i *Instance) Name() string { return Type + "." + i.name }

// Close releases the idle connections of the instance's own client (not
// of a Doer given through Provider.Client). It implements io.Closer.
func (i *Instance) Close() error { return i.http.Close() }

// Message is one message to post.
type Message struct {
	// Text is the message (mrkdwn), and the fallback text of blocks.
	Text string
	// Blocks are Block Kit blocks (JSON-compatible values).
	Blocks []any
	// Channel, Username and IconEmoji override the instance's defaults.
	Channel, Username, IconEmoji string
	// FailOnError makes an undelivered message fail the step. By default
	// it is a warning and the step succeeds with delivered = false.
	FailOnError bool
}

// Post is the slack_message action.
type Post struct {
	inst *Instance
	msg  Message
}

var (
	_ runbook.Action    = (*Post)(nil)
	_ runbook.ReadOnly  = (*Post)(nil)
	_ runbook.Describer = (*Post)(nil)
)

// NewMessage returns a slack_message action.
func NewMessage(inst *Instance, m Message) (*Post, error) {
	if inst == nil {
		return nil, fmt.Errorf("%s: no provider instance", ActionMessage)
	}
	if strings.TrimSpace(m.Text) == "" && len(m.Blocks) == 0 {
		return nil, fmt.Errorf("%s: give text or blocks", ActionMessage)
	}
	if _, err := json.Marshal(m.Blocks); err != nil {
		return nil, fmt.Errorf("%s: blocks are not JSON-compatible: %w", ActionMessage, err)
	}
	return &Post{inst: inst, msg: m}, nil
}

// ReadOnly reports true: a message needs no compensation.
func (p *Post) ReadOnly() bool { return true }

// Describe names the instance and action.
func (p *Post) Describe() runbook.Description {
	return runbook.Description{Provider: p.inst.Name(), Action: ActionMessage}
}

// Payload returns the JSON body the webhook receives.
func (p *Post) Payload() map[string]any {
	body := map[string]any{}
	if p.msg.Text != "" {
		body["text"] = p.msg.Text
	}
	if len(p.msg.Blocks) > 0 {
		body["blocks"] = p.msg.Blocks
	}
	for k, v := range map[string]string{"channel": or(p.msg.Channel, p.inst.cfg.Channel), "username": or(p.msg.Username, p.inst.cfg.Username), "icon_emoji": or(p.msg.IconEmoji, p.inst.cfg.IconEmoji)} {
		if v != "" {
			body[k] = v
		}
	}
	return body
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Do posts the message.
func (p *Post) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	env.AddSecret(p.inst.cfg.WebhookURL)
	err := p.send(ctx)
	if err == nil {
		return runbook.Outputs{"delivered": true, "error": ""}, nil
	}
	err = fmt.Errorf("%s: %w", p.inst.Name(), err)
	if p.msg.FailOnError {
		return nil, err
	}
	env.Emit("notification not delivered", map[string]string{"provider": p.inst.Name(), "action": ActionMessage, "error": err.Error()})
	env.Logger().Warn("notification not delivered", "error", err.Error())
	return runbook.Outputs{"delivered": false, "error": env.Redact(err.Error())}, nil
}

// ErrRejected is wrapped by errors for posts the webhook refused.
var ErrRejected = errors.New("slack: webhook refused the message")

func (p *Post) send(ctx context.Context) error {
	b, err := json.Marshal(p.Payload())
	if err != nil {
		return err
	}
	timeout := p.inst.cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := httpclient.NewRequest(ctx, http.MethodPost, p.inst.cfg.WebhookURL, b)
	if err != nil {
		return errors.New("bad webhook URL") // its error would print the URL
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.inst.http.Do(req) // never a *url.Error, which would print the URL
	if err != nil {
		return fmt.Errorf("post to webhook: %w", err)
	}
	defer resp.Body.Close()
	body, _ := httpclient.ReadBody(resp.Body, 512)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: HTTP %d %s", ErrRejected, resp.StatusCode, httpclient.Excerpt(body, 512))
	}
	return nil
}

// Actions returns slack_message.
func (p *Provider) Actions() map[string]provider.ActionType {
	return map[string]provider.ActionType{
		ActionMessage: {
			Args: provider.Schema{
				"text":          {Type: cty.String, Description: "Message text (mrkdwn); the fallback of blocks."},
				"blocks":        {Type: cty.DynamicPseudoType, Description: "Block Kit blocks, a list of objects."},
				"channel":       {Type: cty.String, Description: "Channel override."},
				"username":      {Type: cty.String, Description: "Sender name override."},
				"icon_emoji":    {Type: cty.String, Description: "Icon override."},
				"fail_on_error": {Type: cty.Bool, Description: "Fail the step when the message is not delivered (default: warn and go on)."},
			},
			Outputs: map[string]provider.Output{
				"delivered": {Type: cty.Bool, Description: "The webhook accepted the message."},
				"error":     {Type: cty.String, Description: "Why not, when not delivered."},
			},
			ReadOnly:    true,
			Description: "Post a message to Slack through an incoming webhook; failure is a warning unless fail_on_error.",
			New: func(inst provider.Instance, v cty.Value) (runbook.Action, error) {
				i, ok := inst.(*Instance)
				if !ok || i == nil {
					return nil, fmt.Errorf("%s: needs a slack provider instance", ActionMessage)
				}
				a := &ctyargs.Attrs{V: v, Where: ActionMessage}
				m := Message{Text: a.Str("text"), Channel: a.Str("channel"), Username: a.Str("username"), IconEmoji: a.Str("icon_emoji"),
					FailOnError: a.Bool("fail_on_error")}
				if blocks := a.Value("blocks"); blocks != nil {
					list, ok := blocks.([]any)
					if !ok {
						a.Fail("blocks", "want a list of block objects")
					}
					m.Blocks = list
				}
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewMessage(i, m)
			},
		},
	}
}
