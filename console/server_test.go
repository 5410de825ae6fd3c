package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/console"
	"github.com/handrail-dev/handrail/runbook"
)

// readStates reads server-sent "state" events until stop says so.
func readStates(t *testing.T, url string, stop func(v console.View) bool) []console.View {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	var out []console.View
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "state":
			var v console.View
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v))
			out = append(out, v)
			if stop(v) {
				return out
			}
		}
	}
	t.Fatalf("the stream ended before the expected state: %v", sc.Err())
	return nil
}

func TestEventsStreamTheRunAsItHappens(t *testing.T) {
	r := startRelease(t, "rel-sse", func(b *runbook.Builder, r *release) {
		b.Step(r.step("deploy", 200*time.Millisecond))
		b.Gate(runbook.Gate{Name: "canary", Kind: runbook.GateSoak, Every: 100 * time.Millisecond, Duration: 600 * time.Millisecond,
			Checks: []runbook.Check{{Name: "error_rate", Probe: samples(0.004, 0.006, 0.005, 0.2), Success: below(0.05), Threshold: "< 0.05"}}})
		b.Step(r.step("promote", 100*time.Millisecond))
	}, nil, "")
	r.start()
	states := readStates(t, r.url+"/runs/rel-sse/events", func(v console.View) bool { return !v.Live })
	require.Greater(t, len(states), 3, "several states are pushed, not one")
	last := states[len(states)-1]
	assert.Equal(t, "rolled_back", last.Status)
	// The samples grew from one state to the next.
	counts := []int{}
	for _, s := range states {
		for _, n := range s.Nodes {
			if n.Name == "canary" && len(n.Checks) == 1 {
				if k := len(n.Checks[0].Samples); len(counts) == 0 || counts[len(counts)-1] != k {
					counts = append(counts, k)
				}
			}
		}
	}
	assert.GreaterOrEqual(t, len(counts), 3, "samples arrived one by one: %v", counts)
	require.NotNil(t, last.Rollback)
	assert.Equal(t, "deploy", last.Rollback.Steps[0].Name)
	assert.Equal(t, "compensated", last.Rollback.Steps[0].Status)
	assert.Empty(t, last.LeftToUndo)
	// The threshold is parsed for the plot.
	for _, n := range last.Nodes {
		if n.Name == "canary" {
			require.NotNil(t, n.Checks[0].Limit)
			assert.Equal(t, 0.05, *n.Checks[0].Limit)
			assert.True(t, n.Checks[0].Upper)
		}
	}
	resp, err := http.Get(r.url + "/runs/rel-sse/state")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.NotContains(t, string(body), "hunter2-secret-token")
}

func TestServeFollowsARunInProgressInTheJournal(t *testing.T) {
	j := &runbook.MemJournal{}
	ctx := context.Background()
	t0 := time.Now()
	require.NoError(t, j.Append(ctx,
		runbook.Record{Run: "r9", Kind: runbook.RecRunStarted, Time: t0, Runbook: "nightly", PlanHash: "feedface", StartedBy: "carol"},
		runbook.Record{Run: "r9", Kind: runbook.RecNodeStarted, Time: t0, Node: "backup", Attempt: 1}))
	srv, err := console.New(console.Options{Addr: "127.0.0.1:0", Store: j, Poll: 50 * time.Millisecond})
	require.NoError(t, err)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	require.NoError(t, srv.Start(sctx))
	defer srv.Close()

	_, list := newClient(t, srv.BaseURL()).get(t, "/")
	assert.Contains(t, list, "r9")
	assert.Contains(t, list, "nightly")

	go func() {
		time.Sleep(200 * time.Millisecond)
		_ = j.Append(ctx,
			runbook.Record{Run: "r9", Kind: runbook.RecNodeSucceeded, Time: t0.Add(time.Second), Node: "backup", Attempt: 1, Compensable: true},
			runbook.Record{Run: "r9", Kind: runbook.RecRunFinished, Time: t0.Add(2 * time.Second), Status: runbook.StatusSucceeded})
	}()
	states := readStates(t, srv.BaseURL()+"/runs/r9/events", func(v console.View) bool { return !v.Live })
	first, last := states[0], states[len(states)-1]
	assert.Equal(t, "unfinished", first.Status)
	assert.True(t, first.Live)
	assert.Equal(t, "carol", first.StartedBy)
	assert.Equal(t, "succeeded", last.Status)
	require.Len(t, last.Nodes, 1)
	assert.Equal(t, "succeeded", last.Nodes[0].Status)
}
