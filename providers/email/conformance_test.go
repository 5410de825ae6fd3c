package email_test

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/providertest"
	"github.com/handrail-dev/handrail/providers/email"
	"github.com/handrail-dev/handrail/providers/email/emailfake"
)

var mailCase = providertest.Case{Action: "email", Call: "Send", Lasting: true,
	Args: cty.ObjectVal(map[string]cty.Value{"to": cty.ListVal([]cty.Value{cty.StringVal("ops@example.com")}),
		"subject": cty.StringVal("Release 2 starts at 02:00"), "body": cty.StringVal("Expect 10 minutes of read-only mode."), "fail_on_error": cty.True}),
	Effect: func(_, after providertest.Snapshot) error {
		msgs, _ := after["messages"].([]any)
		if len(msgs) == 0 {
			return fmt.Errorf("no message sent")
		}
		if last := msgs[len(msgs)-1].(map[string]any); last["subject"] != "Release 2 starts at 02:00" {
			return fmt.Errorf("last message %v", last)
		}
		return nil
	}}

// An e-mail is lasting by nature: once delivered it cannot be recalled.
// The suite checks that it is delivered (at least once: SMTP has no
// idempotency, so a retry after a lost answer sends it again) and that
// nothing is sent when the delivery fails before the server took it.
func TestConformanceFake(t *testing.T) {
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			w := emailfake.New()
			return providertest.World{Provider: w.Provider(),
				Config:   cty.ObjectVal(map[string]cty.Value{"host": cty.StringVal("smtp.example.com"), "from": cty.StringVal("DevOps <devops@example.com>")}),
				Snapshot: func(context.Context) (providertest.Snapshot, error) { return w.Snapshot(), nil },
				Inject:   func(call string, f fault.Fault) { w.Faults().Arm(call, f) }}
		},
		Cases: []providertest.Case{mailCase},
	}.Run(t)
}

// TestConformanceSMTP delivers through net/smtp (STARTTLS, AUTH) to the
// test's SMTP server; the fault is injected around the real delivery: the
// server has the message, the answer is lost.
func TestConformanceSMTP(t *testing.T) {
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			srv := newSMTPServer(t, false)
			real := configure(t, &email.Provider{}, map[string]cty.Value{
				"host": cty.StringVal("127.0.0.1"), "port": cty.NumberIntVal(int64(srv.port())), "ca_file": cty.StringVal(srv.caFile),
				"username": cty.StringVal("deploy"), "password": cty.StringVal("smtp-pa55-secret"), "from": cty.StringVal("DevOps <devops@example.com>")})
			faults := &fault.Injector{}
			return providertest.World{Provider: &email.Provider{Sender: faultySender{real: real, faults: faults}},
				Config: cty.ObjectVal(map[string]cty.Value{"host": cty.StringVal("127.0.0.1"), "from": cty.StringVal("DevOps <devops@example.com>")}),
				Snapshot: func(context.Context) (providertest.Snapshot, error) {
					var msgs []any
					for _, s := range srv.all() {
						m, err := mail.ReadMessage(strings.NewReader(s.Data))
						if err != nil {
							return nil, err
						}
						msgs = append(msgs, map[string]any{"from": s.From, "rcpts": s.Rcpts, "subject": m.Header.Get("Subject")})
					}
					return providertest.Snapshot{"messages": msgs}, nil
				},
				Inject: func(call string, f fault.Fault) { faults.Arm(call, f) }}
		},
		Cases: []providertest.Case{mailCase},
	}.Run(t)
}

type faultySender struct {
	real   *email.Instance
	faults *fault.Injector
}

func (s faultySender) Send(ctx context.Context, from string, to []string, msg []byte) error {
	return s.faults.Do(ctx, "Send", func() error { return s.real.Send(ctx, from, to, msg) })
}
