package awsfake

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"
)

// Snapshot returns a deep copy of the world's state, deterministic and
// marshallable to JSON, for comparing the world before and after a run:
//
//	buckets: name -> {versioned, objects: key -> {content, meta}}
//	rules:   rule ARN -> target group ARN -> weight
//	targets: target group ARN -> target ID -> state
//
// It holds what the account contains, not how it got there: call counts,
// scripted failures, version IDs, modification times and the modification
// log are left out, so a put undone by a delete compares equal to never
// having put. Small text content appears as is, other content as its
// SHA-256 and size.
func (w *World) Snapshot() map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	buckets := map[string]any{}
	for name, b := range w.buckets {
		objects := map[string]any{}
		for key, vs := range b.objects {
			o := current(vs)
			if o == nil {
				continue
			}
			meta := map[string]any{}
			for k, v := range o.meta {
				meta[k] = v
			}
			objects[key] = map[string]any{"content": snapshotContent(o.data), "meta": meta}
		}
		buckets[name] = map[string]any{"versioned": b.versioned, "objects": objects}
	}
	rules := map[string]any{}
	for arn, ws := range w.rules {
		m := map[string]any{}
		for _, tw := range ws {
			m[tw.TargetGroupARN] = tw.Weight
		}
		rules[arn] = m
	}
	targets := map[string]any{}
	for tg, hs := range w.health {
		m := map[string]any{}
		for _, h := range hs {
			m[h.ID] = h.State
		}
		targets[tg] = m
	}
	return map[string]any{"buckets": buckets, "rules": rules, "targets": targets}
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
