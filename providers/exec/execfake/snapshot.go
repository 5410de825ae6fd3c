package execfake

// Snapshot returns the world's state, deterministic and marshallable to
// JSON. The fake runs no real commands and holds no state of its own: what
// a scripted command changes lives in the world its reply's Do touches (a
// file-backed fake, another provider's world). The call log is a record of
// what ran, not state, so the snapshot is empty; it exists so every fake can
// be compared the same way.
func (w *World) Snapshot() map[string]any {
	return map[string]any{}
}
