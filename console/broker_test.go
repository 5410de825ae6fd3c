package console_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/console"
	"github.com/handrail-dev/handrail/runbook"
)

// The executor announces a question (the event, which prints the signed
// links) before it calls Approve; an answer that arrives in between is the
// answer, not "nothing waits".
func TestBrokerTakesAnAnswerBetweenTheAnnouncementAndApprove(t *testing.T) {
	var b console.Broker
	req := runbook.ApprovalRequest{Run: "r1", Node: "go_no_go", PlanHash: "abc", Approvers: []string{"bob"}}
	b.Observe(runbook.ApprovalRequested{Header: runbook.Header{Run: "r1", Node: "go_no_go"}, Request: req})

	got, waiting := b.Waiting("go_no_go")
	require.True(t, waiting, "the announced question is open at once")
	assert.Equal(t, "r1", got.Run)
	require.NoError(t, b.Answer("go_no_go", runbook.Decision{Approved: true, By: "bob", Via: "link", PlanHash: "abc"}))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := b.Approve(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, "bob", d.By)

	b.Observe(runbook.ApprovalDecided{Header: runbook.Header{Run: "r1", Node: "go_no_go"}, Decision: d})
	_, waiting = b.Waiting("go_no_go")
	assert.False(t, waiting)
}
