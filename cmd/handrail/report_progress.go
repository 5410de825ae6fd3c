package main

import (
	"fmt"

	"github.com/handrail-dev/handrail/runbook"
)

// reportProgress is one item of a step's progress (a host of a fan-out):
// its latest recorded state.
type reportProgress struct {
	Node, Item, State, Error string
	Attempt                  string
	Class                    string
}

// progressRows returns the latest state of every progress item the run's
// steps recorded (runbook.Env.RecordProgress), by node in the order they
// first recorded, items in the order they first appeared. Values follow
// the convention of a map with "state", "attempt" and "error"; any other
// value is shown as it is.
func progressRows(recs []runbook.Record) []reportProgress {
	type key struct{ node, item string }
	latest := map[key]any{}
	var order []key
	for _, r := range recs {
		if r.Kind != runbook.RecProgress {
			continue
		}
		for _, item := range sortedKeys(r.Outputs) {
			k := key{r.Node, item}
			if _, seen := latest[k]; !seen {
				order = append(order, k)
			}
			latest[k] = r.Outputs[item]
		}
	}
	// Group by node, keeping first appearance.
	var nodes []string
	byNode := map[string][]key{}
	for _, k := range order {
		if _, ok := byNode[k.node]; !ok {
			nodes = append(nodes, k.node)
		}
		byNode[k.node] = append(byNode[k.node], k)
	}
	var out []reportProgress
	for _, n := range nodes {
		for _, k := range byNode[n] {
			row := reportProgress{Node: k.node, Item: k.item}
			if m, ok := latest[k].(map[string]any); ok && m["state"] != nil {
				row.State = fmt.Sprint(m["state"])
				if a, ok := m["attempt"]; ok && a != nil {
					row.Attempt = fmt.Sprint(a)
				}
				if e, ok := m["error"].(string); ok {
					row.Error = e
				}
			} else {
				row.State = fmt.Sprint(latest[k])
			}
			switch row.State {
			case "succeeded", "done":
				row.Class = "ok"
			case "failed", "compensation_failed":
				row.Class = "bad"
			case "running":
				row.Class = "over"
			}
			out = append(out, row)
		}
	}
	return out
}
