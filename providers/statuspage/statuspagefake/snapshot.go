package statuspagefake

// Snapshot returns a deep copy of the world's state, deterministic and
// marshallable to JSON: incidents by ID, each as {page, name, status,
// impact, components, updates}, where updates lists the statuses posted in
// order. The request log and scripted failures are left out.
func (w *World) Snapshot() map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	incidents := map[string]any{}
	for _, in := range w.incidents {
		comps := make([]any, 0, len(in.ComponentIDs))
		for _, c := range in.ComponentIDs {
			comps = append(comps, c)
		}
		updates := make([]any, 0, len(in.Updates))
		for _, u := range in.Updates {
			updates = append(updates, u.Status)
		}
		incidents[in.ID] = map[string]any{"page": in.PageID, "name": in.Name, "status": in.Status,
			"impact": in.ImpactOverride, "components": comps, "updates": updates}
	}
	return map[string]any{"incidents": incidents}
}
