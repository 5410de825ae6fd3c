package slackfake

// Snapshot returns a deep copy of the world's state, deterministic and
// marshallable to JSON: the messages posted, in order, each as
// {webhook, channel, text}. A posted message stays posted, so a runbook
// comparing worlds declares these lasting.
func (w *World) Snapshot() map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	msgs := make([]any, 0, len(w.messages))
	for _, m := range w.messages {
		msgs = append(msgs, map[string]any{"webhook": m.Webhook, "channel": m.Channel, "text": m.Text})
	}
	return map[string]any{"messages": msgs}
}
