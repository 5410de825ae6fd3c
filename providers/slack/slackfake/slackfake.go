// Package slackfake is a stateful in-memory fake of Slack incoming
// webhooks: it records every message and can be told to refuse them.
//
// A [World] is an http.Handler (serve it with httptest for a real webhook
// URL) and, through [World.Provider], the in-process transport of a slack
// provider, whatever webhook URL the runbook configures.
package slackfake

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/httpclient"
	"github.com/handrail-dev/handrail/providers/slack"
	"github.com/handrail-dev/handrail/runbook"
)

// Message is one received message.
type Message struct {
	// Webhook is the path the message was posted to (/services/T/B/X).
	Webhook   string
	Text      string
	Blocks    []any
	Channel   string
	Username  string
	IconEmoji string
	Time      time.Time
}

// World is the fake. Create it with [New].
type World struct {
	mu         sync.Mutex
	clock      runbook.Clock
	messages   []Message
	failStatus int
	failBody   string
	faults     fault.Injector
}

// New returns a world that accepts every message.
func New() *World { return &World{clock: runbook.RealClock{}} }

// SetClock sets the clock that stamps messages.
func (w *World) SetClock(c runbook.Clock) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clock = c
}

// Provider returns a slack provider whose posts all reach this world.
func (w *World) Provider() provider.Provider { return &slack.Provider{Client: w} }

// Refuse makes every following post answer status with body (Slack's
// errors: 404 channel_not_found, 403 action_prohibited, 429 rate_limited);
// status 0 accepts again.
func (w *World) Refuse(status int, body string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failStatus, w.failBody = status, body
}

// Messages returns the messages received, in order.
func (w *World) Messages() []Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Message(nil), w.messages...)
}

// Texts returns the text of every message received, in order.
func (w *World) Texts() []string {
	var out []string
	for _, m := range w.Messages() {
		out = append(out, m.Text)
	}
	return out
}

// ServeHTTP accepts a webhook post.
func (w *World) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(rw, "invalid_method", http.StatusMethodNotAllowed)
		return
	}
	var body struct {
		Text      string `json:"text"`
		Blocks    []any  `json:"blocks"`
		Channel   string `json:"channel"`
		Username  string `json:"username"`
		IconEmoji string `json:"icon_emoji"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || (body.Text == "" && len(body.Blocks) == 0) {
		http.Error(rw, "invalid_payload", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failStatus != 0 {
		http.Error(rw, w.failBody, w.failStatus)
		return
	}
	w.messages = append(w.messages, Message{Webhook: r.URL.Path, Text: body.Text, Blocks: body.Blocks, Channel: body.Channel,
		Username: body.Username, IconEmoji: body.IconEmoji, Time: w.clock.Now()})
	rw.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(rw, "ok")
}

// Faults returns the world's fault injector: every post through
// [World.Do] is the call "PostMessage" (see package fault).
func (w *World) Faults() *fault.Injector { return &w.faults }

// Do serves req in process.
func (w *World) Do(req *http.Request) (*http.Response, error) {
	return httpclient.InProcess{Handler: w, Faults: &w.faults, Call: func(*http.Request) string { return "PostMessage" }}.Do(req)
}
