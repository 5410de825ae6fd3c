package httpfake

// Snapshot returns the world's state, deterministic and marshallable to
// JSON. The fake's endpoints answer from scripts and change nothing, so
// there is no state to compare: the snapshot is empty. The call log is a
// record of requests, not state.
func (w *World) Snapshot() map[string]any {
	return map[string]any{}
}
