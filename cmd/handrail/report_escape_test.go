package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/runbook/engine"
)

// TestReportEscapesEverything renders a run whose step names, gate
// messages, check names, sample values, verdicts, decisions and inputs hold
// markup and quotes (a runbook built in Go allows any name; a journal can be
// edited by hand), parses the page as a browser would, and checks that all
// of it is text: no script element, no event-handler attribute, no element
// the run smuggled in, and every hostile string readable as written.
func TestReportEscapesEverything(t *testing.T) {
	const (
		stepName  = `<script>alert("step")</script>'"`
		gateName  = `gate"><img src=x onerror=alert(1)>`
		checkName = `<script>alert('check')</script>`
		value     = `<script>alert("value")</script>'"&`
		verdict   = `fail"><script>alert(3)</script>`
		gateMsg   = `p95 <script>alert("msg")</script> is "bad" & 'worse'`
		comment   = `</title><script>alert(5)</script>`
		input     = `"><svg onload=alert(6)>`
	)
	noop := runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil })
	b := runbook.NewBuilder("hostile")
	b.Step(runbook.Step{Name: stepName, Action: noop, Irreversible: true, Budget: time.Minute})
	b.Gate(runbook.Gate{Name: gateName, Kind: runbook.GateCheck, DependsOn: []string{stepName}, Checks: []runbook.Check{{
		Name: checkName, Probe: runbook.ProbeFunc(func(context.Context, *runbook.Env) (runbook.Sample, error) { return runbook.Sample{}, nil }),
		Success: runbook.ConditionFunc(func(*runbook.Env, any) (bool, error) { return true, nil }),
	}}})
	plan, err := b.Build()
	require.NoError(t, err)

	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	recs := []runbook.Record{
		{Kind: runbook.RecRunStarted, Time: at(0), Runbook: "hostile", PlanHash: plan.Hash(), Inputs: []runbook.Input{{Name: "who", Value: input}}},
		{Kind: runbook.RecNodeStarted, Time: at(1), Node: stepName, Attempt: 1},
		{Kind: runbook.RecNodeSucceeded, Time: at(2), Node: stepName, Attempt: 1, Compensable: true},
		{Kind: runbook.RecNodeStarted, Time: at(3), Node: gateName, Attempt: 1},
		{Kind: runbook.RecGateSample, Time: at(4), Node: gateName, Sample: &runbook.SampleRecord{Gate: gateName, Check: checkName, Seq: 1, Time: at(4), Value: value, Verdict: engine.Verdict(verdict), Threshold: `< "0.2"`}},
		{Kind: runbook.RecGateSample, Time: at(5), Node: gateName, Sample: &runbook.SampleRecord{Gate: gateName, Check: checkName + "2", Seq: 1, Time: at(5), Value: 0.5, Verdict: engine.Verdict(verdict), Threshold: `< 0.2`}},
		{Kind: runbook.RecDecision, Time: at(6), Node: gateName, Decision: &runbook.Decision{Approved: false, By: comment, Comment: comment, At: at(6)}},
		{Kind: runbook.RecNodeFailed, Time: at(7), Node: gateName, Attempt: 1, Final: true, Error: gateMsg},
		{Kind: runbook.RecCompensating, Time: at(8), Node: stepName},
		{Kind: runbook.RecCompensated, Time: at(9), Node: stepName},
		{Kind: runbook.RecRunFinished, Time: at(10), Status: runbook.StatusRolledBack, Error: gateMsg},
	}
	for i := range recs {
		recs[i].Seq, recs[i].Run = int64(i+1), "r-hostile"
	}
	var out bytes.Buffer
	require.NoError(t, writeReport(&out, recs, plan))

	doc, err := html.Parse(bytes.NewReader(out.Bytes()))
	require.NoError(t, err)
	var text strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			assert.NotEqual(t, "script", n.Data, "a script element")
			assert.NotEqual(t, "img", n.Data, "an element from the run's data")
			for _, a := range n.Attr {
				assert.False(t, strings.HasPrefix(strings.ToLower(a.Key), "on"), "event handler attribute %s=%q", a.Key, a.Val)
			}
		}
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
			text.WriteString("\n")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	got := text.String()
	for _, want := range []string{stepName, checkName, value, gateMsg, comment} {
		assert.Contains(t, got, want, "shown as text")
	}
	// Names are shortened in the timeline, whole in the tooltips.
	assert.Contains(t, got, gateName)
	assert.Contains(t, out.String(), "&lt;script&gt;", "markup is escaped, not dropped")
}
