package postgresfake

// Snapshot returns a deep copy of the database's state, deterministic and
// marshallable to JSON:
//
//	database: name
//	version:  the schema version
//	dirty:    whether a migration failed half-way
//	backups:  dump file -> {version, sha256, size}
//
// The history of applied scripts, the statements executed, scripted
// failures and answers are a record of how the state came about and are
// left out: a migration undone by its down script compares equal to never
// having run.
func (w *World) Snapshot() map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	backups := map[string]any{}
	for f, d := range w.backups {
		backups[f] = map[string]any{"version": d.version, "sha256": d.sha, "size": d.size}
	}
	return map[string]any{"database": w.database, "version": w.version, "dirty": w.dirty, "backups": backups}
}
