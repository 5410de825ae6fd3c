package email

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// ActionEmail is the action name.
const ActionEmail = "email"

// Template is a subject and a body, both text/template sources executed
// with the message's data as dot; a missing key is an error.
type Template struct {
	Subject string
	Body    string
}

// Templates returns the built-in templates: the notices of the seed's
// communication plan. Each lists the data keys it needs in its body.
//
//   - pre_deployment: product, release, version, date, window, impact,
//     features (a list), team, contact
//   - deployment_complete: product, release, version, duration, issues,
//     status, features (a list), support
//   - rollback: product, release, version, previous_version, reason,
//     status, contact
func Templates() map[string]Template {
	return map[string]Template{
		"pre_deployment": {
			Subject: "[{{.product}}] {{.release}} Deployment - {{.date}} {{.window}}",
			Body: `Dear Stakeholders,

We will be deploying {{.product}} {{.release}} (v{{.version}}) on {{.date}}, from {{.window}}.

Expected Impact: {{.impact}}
New Features:{{range .features}}
- {{.}}{{end}}

Deployment Team: {{.team}}
Rollback Plan: Available if issues detected

For questions: {{.contact}}
`,
		},
		"deployment_complete": {
			Subject: "[{{.product}}] {{.release}} Deployment Complete",
			Body: `{{.release}} (v{{.version}}) has been successfully deployed.

Deployment Duration: {{.duration}}
Issues Encountered: {{.issues}}
Current Status: {{.status}}

New features are now live:{{range .features}}
- {{.}}{{end}}

For support: {{.support}}
`,
		},
		"rollback": {
			Subject: "[{{.product}}] {{.release}} Deployment Rolled Back",
			Body: `The deployment of {{.release}} (v{{.version}}) was rolled back; {{.product}} runs v{{.previous_version}} again.

Reason: {{.reason}}
Current Status: {{.status}}

For questions: {{.contact}}
`,
		},
	}
}

// Message configures an email step.
type Message struct {
	To, Cc, Bcc []string
	ReplyTo     string
	// Template names a built-in template (see [Templates]); Subject and
	// Body, when set, override its parts.
	Template string
	Subject  string
	Body     string
	// Data is dot in the templates.
	Data map[string]any
	// FailOnError makes an undelivered message fail the step. By default
	// it is a warning and the step succeeds with delivered = false.
	FailOnError bool
}

// Send is the email action.
type Send struct {
	inst    *Instance
	msg     Message
	subject string
	body    string
	rcpts   []string
}

var (
	_ runbook.Action    = (*Send)(nil)
	_ runbook.ReadOnly  = (*Send)(nil)
	_ runbook.Describer = (*Send)(nil)
)

// NewEmail renders the message now, so that a bad template, a missing key
// or a bad address is an error before anything is sent.
func NewEmail(inst *Instance, m Message) (*Send, error) {
	if inst == nil {
		return nil, fmt.Errorf("%s: no provider instance", ActionEmail)
	}
	t := Template{Subject: m.Subject, Body: m.Body}
	if m.Template != "" {
		bt, ok := Templates()[m.Template]
		if !ok {
			names := make([]string, 0)
			for k := range Templates() {
				names = append(names, k)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("%s: template %q is not one of %s", ActionEmail, m.Template, strings.Join(names, ", "))
		}
		if t.Subject == "" {
			t.Subject = bt.Subject
		}
		if t.Body == "" {
			t.Body = bt.Body
		}
	}
	if t.Subject == "" || t.Body == "" {
		return nil, fmt.Errorf("%s: give subject and body, or a template", ActionEmail)
	}
	s := &Send{inst: inst, msg: m}
	var err error
	if s.subject, err = render("subject", t.Subject, m.Data); err != nil {
		return nil, err
	}
	if strings.ContainsAny(s.subject, "\r\n") {
		return nil, fmt.Errorf("%s: the subject must be one line", ActionEmail)
	}
	if s.body, err = render("body", t.Body, m.Data); err != nil {
		return nil, err
	}
	if len(m.To)+len(m.Cc)+len(m.Bcc) == 0 {
		return nil, fmt.Errorf("%s: no recipient: give to, cc or bcc", ActionEmail)
	}
	for _, list := range [][]string{m.To, m.Cc, m.Bcc} {
		for _, a := range list {
			addr, err := mail.ParseAddress(a)
			if err != nil {
				return nil, fmt.Errorf("%s: recipient %q is not an address: %v", ActionEmail, a, err)
			}
			s.rcpts = append(s.rcpts, addr.Address)
		}
	}
	if m.ReplyTo != "" {
		if _, err := mail.ParseAddress(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("%s: reply_to %q is not an address: %v", ActionEmail, m.ReplyTo, err)
		}
	}
	return s, nil
}

func render(what, src string, data map[string]any) (string, error) {
	t, err := template.New(what).Option("missingkey=error").Parse(src)
	if err != nil {
		return "", fmt.Errorf("%s: %s template: %w", ActionEmail, what, err)
	}
	if data == nil {
		data = map[string]any{}
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("%s: %s template: %w", ActionEmail, what, err)
	}
	return b.String(), nil
}

// ReadOnly reports true: a sent message needs no compensation.
func (s *Send) ReadOnly() bool { return true }

// Describe names the instance and action.
func (s *Send) Describe() runbook.Description {
	return runbook.Description{Provider: s.inst.Name(), Action: ActionEmail}
}

// Subject returns the rendered subject.
func (s *Send) Subject() string { return s.subject }

// Body returns the rendered body.
func (s *Send) Body() string { return s.body }

// Do sends the message.
func (s *Send) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	if s.inst.cfg.Password != "" {
		env.AddSecret(s.inst.cfg.Password)
	}
	now := env.Clock().Now()
	id := messageID(env, now)
	from, _ := mail.ParseAddress(s.inst.cfg.From)
	err := s.inst.deliver(ctx, from.Address, s.rcpts, s.compose(from, id, now))
	if err == nil {
		return runbook.Outputs{"delivered": true, "error": "", "message_id": id, "recipients": len(s.rcpts)}, nil
	}
	err = fmt.Errorf("%s: %w", s.inst.Name(), err)
	if s.msg.FailOnError {
		return nil, err
	}
	msg := env.Redact(err.Error())
	env.Emit("notification not delivered", map[string]string{"provider": s.inst.Name(), "action": ActionEmail, "error": msg})
	env.Logger().Warn("notification not delivered", "error", msg)
	return runbook.Outputs{"delivered": false, "error": msg, "message_id": "", "recipients": len(s.rcpts)}, nil
}

// messageID is deterministic for a run, node and time, so simulated runs
// replay identically.
func messageID(env *runbook.Env, now time.Time) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
				return r
			}
			return '-'
		}, s)
	}
	run := clean(env.Run().ID)
	if run == "" {
		run = "run"
	}
	return fmt.Sprintf("<%s.%s.%d@handrail>", run, clean(env.Node()), now.UnixNano())
}

// compose renders the RFC 5322 message: UTF-8 text, quoted-printable.
func (s *Send) compose(from *mail.Address, id string, now time.Time) []byte {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", from.String())
	if len(s.msg.To) > 0 {
		h("To", addrList(s.msg.To))
	}
	if len(s.msg.Cc) > 0 {
		h("Cc", addrList(s.msg.Cc))
	}
	if s.msg.ReplyTo != "" {
		a, _ := mail.ParseAddress(s.msg.ReplyTo)
		h("Reply-To", a.String())
	}
	h("Subject", mime.QEncoding.Encode("utf-8", s.subject))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", id)
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(s.body, "\r\n", "\n"), "\n", "\r\n")
	_, _ = qp.Write([]byte(body))
	_ = qp.Close()
	return b.Bytes()
}

func addrList(list []string) string {
	out := make([]string, len(list))
	for k, a := range list {
		p, _ := mail.ParseAddress(a)
		out[k] = p.String()
	}
	return strings.Join(out, ", ")
}

// Actions returns email.
func (p *Provider) Actions() map[string]provider.ActionType {
	return map[string]provider.ActionType{
		ActionEmail: {
			Args: provider.Schema{
				"to":            {Type: cty.List(cty.String), Description: "Recipients."},
				"cc":            {Type: cty.List(cty.String), Description: "Copy recipients."},
				"bcc":           {Type: cty.List(cty.String), Description: "Blind copy recipients."},
				"reply_to":      {Type: cty.String, Description: "Reply-To address."},
				"template":      {Type: cty.String, Description: "Built-in template: pre_deployment, deployment_complete or rollback."},
				"subject":       {Type: cty.String, Description: "Subject (text/template; overrides the template's)."},
				"body":          {Type: cty.String, Description: "Body (text/template; overrides the template's)."},
				"data":          {Type: cty.DynamicPseudoType, Description: "Object that is dot in the templates."},
				"fail_on_error": {Type: cty.Bool, Description: "Fail the step when the message is not delivered (default: warn and go on)."},
			},
			Outputs: map[string]provider.Output{
				"delivered":  {Type: cty.Bool, Description: "The server accepted the message."},
				"error":      {Type: cty.String, Description: "Why not, when not delivered."},
				"message_id": {Type: cty.String, Description: "Message-ID header."},
				"recipients": {Type: cty.Number, Description: "Number of envelope recipients."},
			},
			ReadOnly:    true,
			Description: "Send a plain-text e-mail rendered from templates over SMTP (STARTTLS); failure is a warning unless fail_on_error.",
			New: func(inst provider.Instance, v cty.Value) (runbook.Action, error) {
				i, ok := inst.(*Instance)
				if !ok || i == nil {
					return nil, fmt.Errorf("%s: needs an email provider instance", ActionEmail)
				}
				a := &ctyargs.Attrs{V: v, Where: ActionEmail}
				m := Message{
					To: a.Strs("to"), Cc: a.Strs("cc"), Bcc: a.Strs("bcc"),
					ReplyTo: a.Str("reply_to"), Template: a.Str("template"), Subject: a.Str("subject"), Body: a.Str("body"),
					FailOnError: a.Bool("fail_on_error"),
				}
				if data := a.Value("data"); data != nil {
					d, ok := data.(map[string]any)
					if !ok {
						a.Fail("data", "want an object, e.g. { version = var.version }")
					}
					m.Data = d
				}
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewEmail(i, m)
			},
		},
	}
}
