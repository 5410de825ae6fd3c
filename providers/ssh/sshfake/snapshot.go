package sshfake

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"
)

// Snapshot returns a deep copy of the hosts' state, deterministic and
// marshallable to JSON:
//
//	hosts: name -> {down, files: path -> {content, mode, owner} |
//	       {link} | {dir, mode, owner}}
//
// Small text content appears as is, other content as its SHA-256 and
// size. The call log, scripted replies and strictness are left out.
func (w *World) Snapshot() map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	hosts := map[string]any{}
	for name, h := range w.hosts {
		files := map[string]any{}
		for p, f := range h.files {
			switch {
			case f.Link != "":
				files[p] = map[string]any{"link": f.Link}
			case f.Dir:
				files[p] = map[string]any{"dir": true, "mode": f.Mode.String(), "owner": f.Owner}
			default:
				files[p] = map[string]any{"content": snapshotContent(f.Content), "mode": f.Mode.String(),
					"owner": f.Owner}
			}
		}
		hosts[name] = map[string]any{"down": h.down, "files": files}
	}
	return map[string]any{"hosts": hosts}
}

// snapshotContent is data as text when it is short UTF-8, otherwise its
// digest and size.
func snapshotContent(data []byte) any {
	if len(data) <= 256 && utf8.Valid(data) {
		return string(data)
	}
	sum := sha256.Sum256(data)
	return map[string]any{"sha256": hex.EncodeToString(sum[:]), "size": len(data)}
}
