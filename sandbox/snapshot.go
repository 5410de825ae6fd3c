package sandbox

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Snapshot is the state of a whole fake world, by fake: docker, postgres,
// aws, ssh, slack, statuspage, email, exec, prometheus, http, and
// http/<host> for each host with a fake of its own. It is a deep copy,
// deterministic and marshallable to JSON.
type Snapshot map[string]any

// Snapshot returns the world's state now (see each fake's Snapshot).
func (w *World) Snapshot() Snapshot {
	s := Snapshot{
		"docker":     w.Docker.Snapshot(),
		"postgres":   w.Postgres.Snapshot(),
		"aws":        w.AWS.Snapshot(),
		"ssh":        w.SSH.Snapshot(),
		"slack":      w.Slack.Snapshot(),
		"statuspage": w.Statuspage.Snapshot(),
		"email":      w.Email.Snapshot(),
		"exec":       w.Exec.Snapshot(),
		"prometheus": w.Prometheus.Snapshot(),
		"http":       w.HTTP.Snapshot(),
	}
	w.mu.Lock()
	hosts := make(map[string]interface{ Snapshot() map[string]any }, len(w.hosts))
	for name, h := range w.hosts {
		hosts[name] = h
	}
	w.mu.Unlock()
	for name, h := range hosts {
		s["http/"+name] = h.Snapshot()
	}
	return s
}

// Change is one difference between two snapshots, at one resource path
// ("aws/rules/arn:…/tg-new"): Before or After is absent (nil, with the
// matching flag false) when the resource was added or removed.
type Change struct {
	Path      string `json:"path"`
	Before    any    `json:"before,omitempty"`
	After     any    `json:"after,omitempty"`
	HadBefore bool   `json:"had_before"`
	HasAfter  bool   `json:"has_after"`
}

// String reads "aws/rules/r1/tg-new: 0 → 10", "+ path = v" or "- path
// (was v)".
func (c Change) String() string {
	switch {
	case !c.HadBefore:
		return fmt.Sprintf("+ %s = %s", c.Path, compactJSON(c.After))
	case !c.HasAfter:
		return fmt.Sprintf("- %s (was %s)", c.Path, compactJSON(c.Before))
	default:
		return fmt.Sprintf("~ %s: %s → %s", c.Path, compactJSON(c.Before), compactJSON(c.After))
	}
}

// Diff lists what differs from before to after, resource by resource,
// sorted by path, leaving out paths under any of the ignore prefixes (the
// effects a runbook declares lasting). Maps are walked key by key; a list
// or a scalar is one resource.
func Diff(before, after Snapshot, ignore []string) []Change {
	a, b := map[string]any{}, map[string]any{}
	flatten("", map[string]any(before), a)
	flatten("", map[string]any(after), b)
	var out []Change
	skip := func(p string) bool {
		for _, ig := range ignore {
			ig = strings.TrimSuffix(ig, "/")
			if p == ig || strings.HasPrefix(p, ig+"/") {
				return true
			}
		}
		return false
	}
	for p, va := range a {
		if skip(p) {
			continue
		}
		vb, ok := b[p]
		if !ok {
			out = append(out, Change{Path: p, Before: va, HadBefore: true})
			continue
		}
		if compactJSON(va) != compactJSON(vb) {
			out = append(out, Change{Path: p, Before: va, After: vb, HadBefore: true, HasAfter: true})
		}
	}
	for p, vb := range b {
		if skip(p) {
			continue
		}
		if _, ok := a[p]; !ok {
			out = append(out, Change{Path: p, After: vb, HasAfter: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// flatten records the leaves of v under prefix. An empty map is a leaf
// (so that "this host has no files" differs from "no such host").
func flatten(prefix string, v any, into map[string]any) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		if prefix != "" {
			into[prefix] = v
		}
		return
	}
	for k, sub := range m {
		p := k
		if prefix != "" {
			p = prefix + "/" + k
		}
		flatten(p, sub, into)
	}
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}
