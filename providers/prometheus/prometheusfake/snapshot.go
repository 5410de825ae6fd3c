package prometheusfake

// Snapshot returns the world's state, deterministic and marshallable to
// JSON. Queries change nothing on a Prometheus server, so the snapshot is
// empty; the query log is a record, not state.
func (w *World) Snapshot() map[string]any {
	return map[string]any{}
}
