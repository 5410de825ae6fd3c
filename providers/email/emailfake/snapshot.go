package emailfake

// Snapshot returns a deep copy of the world's state, deterministic and
// marshallable to JSON: the messages delivered, in order, each as
// {from, recipients, subject, body}. A sent message cannot be unsent, so a
// runbook comparing worlds declares these lasting.
func (w *World) Snapshot() map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	msgs := make([]any, 0, len(w.messages))
	for _, m := range w.messages {
		rcpt := make([]any, 0, len(m.Recipients))
		for _, r := range m.Recipients {
			rcpt = append(rcpt, r)
		}
		msgs = append(msgs, map[string]any{"from": m.From, "recipients": rcpt, "subject": m.Subject, "body": m.Body})
	}
	return map[string]any{"messages": msgs}
}
