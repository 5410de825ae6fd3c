package email_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/providers/email"
	"github.com/handrail-dev/handrail/providers/email/emailfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// session is what the test SMTP server saw of one connection.
type session struct {
	TLS      bool
	User     string
	Password string
	From     string
	Rcpts    []string
	Data     string
}

// smtpServer is a tiny SMTP server: EHLO, STARTTLS with a self-signed
// certificate, AUTH PLAIN, MAIL, RCPT, DATA, QUIT.
type smtpServer struct {
	l        net.Listener
	tls      *tls.Config
	caFile   string
	user     string
	pass     string
	noTLS    bool // do not offer STARTTLS
	mu       sync.Mutex
	sessions []*session
	wg       sync.WaitGroup
}

func newSMTPServer(t *testing.T, noTLS bool) *smtpServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &smtpServer{l: l, caFile: ca, user: "deploy", pass: "smtp-pa55-secret", noTLS: noTLS,
		tls: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { l.Close(); s.wg.Wait() })
	return s
}

func (s *smtpServer) port() int { return s.l.Addr().(*net.TCPAddr).Port }

func (s *smtpServer) all() []session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]session, len(s.sessions))
	for k, x := range s.sessions {
		out[k] = *x
	}
	return out
}

func (s *smtpServer) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	sess := &session{}
	s.mu.Lock()
	s.sessions = append(s.sessions, sess)
	s.mu.Unlock()
	tp := textproto.NewConn(conn)
	reply := func(format string, a ...any) { _ = tp.PrintfLine(format, a...) }
	reply("220 test.local ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		s.mu.Lock()
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			reply("250-test.local")
			if !s.noTLS && !sess.TLS {
				reply("250-STARTTLS")
			}
			reply("250 AUTH PLAIN")
		case "STARTTLS":
			reply("220 2.0.0 Ready to start TLS")
			tconn := tls.Server(conn, s.tls)
			if err := tconn.Handshake(); err != nil {
				s.mu.Unlock()
				return
			}
			conn, tp = tconn, textproto.NewConn(tconn)
			sess.TLS = true
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			b, err := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(b), "\x00")
			switch {
			case !strings.EqualFold(mech, "PLAIN") || err != nil || len(parts) != 3:
				reply("504 5.5.4 Unrecognized authentication type")
			case parts[1] != s.user || parts[2] != s.pass:
				reply("535 5.7.8 Authentication credentials invalid")
			default:
				sess.User, sess.Password = parts[1], parts[2]
				reply("235 2.7.0 Authentication successful")
			}
		case "MAIL":
			sess.From = strings.Trim(strings.TrimPrefix(strings.ToUpper(arg[:5])+arg[5:], "FROM:"), "<>")
			reply("250 2.1.0 Ok")
		case "RCPT":
			sess.Rcpts = append(sess.Rcpts, strings.Trim(arg[3:], "<>"))
			reply("250 2.1.5 Ok")
		case "DATA":
			reply("354 End data with <CR><LF>.<CR><LF>")
			s.mu.Unlock()
			b, err := tp.ReadDotBytes()
			s.mu.Lock()
			if err != nil {
				s.mu.Unlock()
				return
			}
			sess.Data = string(b)
			reply("250 2.0.0 Ok: queued")
		case "QUIT":
			reply("221 2.0.0 Bye")
			s.mu.Unlock()
			return
		case "RSET", "NOOP":
			reply("250 2.0.0 Ok")
		default:
			reply("502 5.5.2 Error: command not recognized")
		}
		s.mu.Unlock()
	}
}

var seedData = map[string]cty.Value{
	"product": cty.StringVal("dCMMS"), "release": cty.StringVal("Release 2"), "version": cty.StringVal("0.3.0"),
	"date": cty.StringVal("Sunday, 30 November"), "window": cty.StringVal("2:00-6:00 AM UTC"),
	"impact":   cty.StringVal("Brief service interruption (5-10 minutes during traffic cutover)"),
	"features": cty.TupleVal([]cty.Value{cty.StringVal("Compliance reporting automation"), cty.StringVal("ML-powered predictions")}),
	"team":     cty.StringVal("DevOps Team"), "contact": cty.StringVal("devops@dcmms.com"),
}

func configure(t *testing.T, p *email.Provider, cfg map[string]cty.Value) *email.Instance {
	t.Helper()
	inst, err := p.Configure(context.Background(), "ops", cty.ObjectVal(cfg))
	require.NoError(t, err)
	return inst.(*email.Instance)
}

func notice(t *testing.T, p *email.Provider, inst *email.Instance, fail bool) runbook.Action {
	t.Helper()
	act, err := p.Actions()["email"].New(inst, cty.ObjectVal(map[string]cty.Value{
		"to":            cty.ListVal([]cty.Value{cty.StringVal("Stakeholders <stakeholders@dcmms.com>")}),
		"cc":            cty.ListVal([]cty.Value{cty.StringVal("cto@dcmms.com")}),
		"bcc":           cty.ListVal([]cty.Value{cty.StringVal("audit@dcmms.com")}),
		"template":      cty.StringVal("pre_deployment"),
		"data":          cty.ObjectVal(seedData),
		"fail_on_error": cty.BoolVal(fail),
	}))
	require.NoError(t, err)
	return act
}

func TestSMTPStartTLSAuth(t *testing.T) {
	srv := newSMTPServer(t, false)
	p := &email.Provider{}
	inst := configure(t, p, map[string]cty.Value{
		"host": cty.StringVal("127.0.0.1"), "port": cty.NumberIntVal(int64(srv.port())), "ca_file": cty.StringVal(srv.caFile),
		"username": cty.StringVal("deploy"), "password": cty.StringVal("smtp-pa55-secret"), "from": cty.StringVal("dCMMS DevOps <devops@dcmms.com>"),
	})
	act := notice(t, p, inst, true)
	assert.Equal(t, runbook.Description{Provider: "email.ops", Action: "email"}, runbook.Describe(act))
	clock := runbook.NewSimClock(time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC))
	out, err := act.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Run: runbook.RunInfo{ID: "run-1"}, Node: "notify", Clock: clock}))
	require.NoError(t, err)
	assert.Equal(t, runbook.Outputs{"delivered": true, "error": "", "message_id": "<run-1.notify.1795831200000000000@handrail>", "recipients": 3}, out)

	sessions := srv.all()
	require.Len(t, sessions, 1)
	s := sessions[0]
	assert.True(t, s.TLS, "STARTTLS before anything else")
	assert.Equal(t, "deploy", s.User)
	assert.Equal(t, "devops@dcmms.com", s.From)
	assert.Equal(t, []string{"stakeholders@dcmms.com", "cto@dcmms.com", "audit@dcmms.com"}, s.Rcpts)
	// textproto's ReadDotBytes turns CRLF into LF.
	for _, h := range []string{
		"From: \"dCMMS DevOps\" <devops@dcmms.com>\n", "To: \"Stakeholders\" <stakeholders@dcmms.com>\n", "Cc: <cto@dcmms.com>\n",
		"Subject: [dCMMS] Release 2 Deployment - Sunday, 30 November 2:00-6:00 AM UTC\n",
		"Date: Sat, 28 Nov 2026 02:00:00 +0000\n", "Content-Transfer-Encoding: quoted-printable\n",
	} {
		assert.Contains(t, s.Data, h)
	}
	assert.NotContains(t, s.Data, "audit@dcmms.com", "Bcc is not a header")
	m, err := mail.ReadMessage(strings.NewReader(s.Data))
	require.NoError(t, err)
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	require.NoError(t, err)
	assert.Contains(t, string(body), "We will be deploying dCMMS Release 2 (v0.3.0) on Sunday, 30 November, from 2:00-6:00 AM UTC.\n")
	assert.Contains(t, string(body), "- Compliance reporting automation\n- ML-powered predictions\n")
}

func TestSMTPFailures(t *testing.T) {
	srv := newSMTPServer(t, false)
	plain := newSMTPServer(t, true)
	cfg := func(port int, ca, pass string) map[string]cty.Value {
		m := map[string]cty.Value{"host": cty.StringVal("127.0.0.1"), "port": cty.NumberIntVal(int64(port)), "username": cty.StringVal("deploy"),
			"password": cty.StringVal(pass), "from": cty.StringVal("devops@dcmms.com"), "timeout": cty.StringVal("5s")}
		if ca != "" {
			m["ca_file"] = cty.StringVal(ca)
		}
		return m
	}
	for _, tc := range []struct {
		name string
		cfg  map[string]cty.Value
		want string
	}{
		{"wrong password", cfg(srv.port(), srv.caFile, "wrong-pa55-word"), "AUTH: 535"},
		{"no STARTTLS", cfg(plain.port(), plain.caFile, "smtp-pa55-secret"), `STARTTLS: the server does not offer STARTTLS`},
		{"untrusted certificate", cfg(srv.port(), "", "smtp-pa55-secret"), "STARTTLS: tls: failed to verify certificate"},
		{"nobody listening", cfg(1, srv.caFile, "smtp-pa55-secret"), "smtp 127.0.0.1:1: connect:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &email.Provider{}
			inst := configure(t, p, tc.cfg)
			pass := tc.cfg["password"].AsString()
			// fail_on_error: the step fails, naming the stage.
			_, err := notice(t, p, inst, true).Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), pass)
			// Default: a warning, delivered = false.
			obs := &collect{}
			out, err := notice(t, p, inst, false).Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Observer: obs}))
			require.NoError(t, err)
			assert.Equal(t, false, out["delivered"])
			assert.Contains(t, out["error"], tc.want)
			assert.Contains(t, obs.String(), "notification not delivered")
			assert.NotContains(t, obs.String(), pass)
		})
	}
}

type collect struct {
	mu    sync.Mutex
	lines []string
}

func (c *collect) Observe(e runbook.Event) {
	b, _ := runbook.MarshalEvent(e)
	c.mu.Lock()
	c.lines = append(c.lines, string(b))
	c.mu.Unlock()
}

func (c *collect) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

func TestBadInput(t *testing.T) {
	p := &email.Provider{}
	for _, tc := range []struct {
		cfg  map[string]cty.Value
		want string
	}{
		{map[string]cty.Value{"from": cty.StringVal("a@b.c")}, "host is required"},
		{map[string]cty.Value{"host": cty.StringVal("h"), "from": cty.StringVal("not an address")}, `from "not an address" is not an address`},
		{map[string]cty.Value{"host": cty.StringVal("h"), "from": cty.StringVal("a@b.c"), "tls": cty.StringVal("ssl")}, `tls "ssl" is not one of starttls, tls, none`},
		{map[string]cty.Value{"host": cty.StringVal("h"), "from": cty.StringVal("a@b.c"), "port": cty.NumberIntVal(70000)}, "port 70000 is out of range"},
	} {
		_, err := p.Configure(context.Background(), "x", cty.ObjectVal(tc.cfg))
		assert.ErrorContains(t, err, tc.want)
	}
	inst := configure(t, p, map[string]cty.Value{"host": cty.StringVal("h"), "from": cty.StringVal("a@b.c")})
	for _, tc := range []struct {
		args map[string]cty.Value
		want string
	}{
		{map[string]cty.Value{"to": cty.ListVal([]cty.Value{cty.StringVal("a@b.c")})}, "give subject and body, or a template"},
		{map[string]cty.Value{"to": cty.ListVal([]cty.Value{cty.StringVal("a@b.c")}), "template": cty.StringVal("launch")}, `template "launch" is not one of deployment_complete, pre_deployment, rollback`},
		{map[string]cty.Value{"to": cty.ListVal([]cty.Value{cty.StringVal("a@b.c")}), "template": cty.StringVal("rollback"), "data": cty.ObjectVal(map[string]cty.Value{"product": cty.StringVal("x")})}, `map has no entry for key "release"`},
		{map[string]cty.Value{"to": cty.ListVal([]cty.Value{cty.StringVal("a@b.c")}), "subject": cty.StringVal("{{.x"), "body": cty.StringVal("b")}, "subject template"},
		{map[string]cty.Value{"subject": cty.StringVal("s"), "body": cty.StringVal("b")}, "no recipient"},
		{map[string]cty.Value{"to": cty.ListVal([]cty.Value{cty.StringVal("nobody")}), "subject": cty.StringVal("s"), "body": cty.StringVal("b")}, `recipient "nobody" is not an address`},
		{map[string]cty.Value{"to": cty.ListVal([]cty.Value{cty.StringVal("a@b.c")}), "subject": cty.StringVal("s\nBcc: x@y.z"), "body": cty.StringVal("b")}, "the subject must be one line"},
	} {
		_, err := p.Actions()["email"].New(inst, cty.ObjectVal(tc.args))
		assert.ErrorContains(t, err, tc.want)
	}
}

// TestFake: the stateful fake records the decoded message; a refusing
// fake turns into a warning.
func TestFake(t *testing.T) {
	w := emailfake.New()
	p := w.Provider().(*email.Provider)
	inst := configure(t, p, map[string]cty.Value{"host": cty.StringVal("smtp.dcmms.com"), "from": cty.StringVal("devops@dcmms.com"), "password": cty.StringVal("pw-123456"), "username": cty.StringVal("u")})
	act, err := email.NewEmail(inst, email.Message{To: []string{"stakeholders@dcmms.com"}, Template: "deployment_complete", Data: map[string]any{
		"product": "dCMMS", "release": "Release 2", "version": "0.3.0", "duration": "3 hours 41 minutes", "issues": "None",
		"status": "All systems operational", "features": []string{"Compliance report automation", "ML-powered anomaly detection"}, "support": "support@dcmms.com",
	}})
	require.NoError(t, err)
	b := runbook.NewBuilder("notify")
	b.Step(runbook.Step{Name: "complete", Action: act})
	plan, err := b.Build()
	require.NoError(t, err)
	start := time.Date(2026, 11, 30, 5, 50, 0, 0, time.UTC)
	j := &runbook.MemJournal{}
	res, err := (&runbook.Executor{Clock: runbook.NewSimClock(start), Journal: j}).Run(context.Background(), plan, runbook.RunOptions{RunID: "r2"})
	require.NoError(t, err)
	assert.Equal(t, true, res.Nodes["complete"].Outputs["delivered"])
	msgs := w.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, "[dCMMS] Release 2 Deployment Complete", msgs[0].Subject)
	assert.Equal(t, []string{"stakeholders@dcmms.com"}, msgs[0].To)
	assert.True(t, start.Equal(msgs[0].Date))
	assert.Contains(t, msgs[0].Body, "Release 2 (v0.3.0) has been successfully deployed.\n\nDeployment Duration: 3 hours 41 minutes\n")
	assert.Contains(t, msgs[0].Body, "- ML-powered anomaly detection\n")

	w.Refuse(errors.New("451 4.3.0 mailbox busy"))
	out, err := act.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	require.NoError(t, err)
	assert.Equal(t, false, out["delivered"])
	assert.Equal(t, "email.ops: 451 4.3.0 mailbox busy", out["error"])
	recs, _ := j.Load(context.Background(), "r2")
	jb, _ := json.Marshal(recs)
	assert.NotContains(t, string(jb), "pw-123456")
}
