// Package email is Handrail's e-mail provider: stakeholder notices (the
// seed's communication plan) rendered from text/template templates and
// sent over SMTP with STARTTLS, through the standard library's net/smtp.
//
//	provider "email" "ops" {
//	  host     = "smtp.example.com"
//	  port     = 587
//	  username = "deploy@dcmms.com"
//	  password = var.smtp_password   # sensitive
//	  from     = "dCMMS DevOps <devops@dcmms.com>"
//	}
//
//	step "email" "complete" {
//	  to       = ["stakeholders@dcmms.com"]
//	  template = "deployment_complete"
//	  data     = { product = "dCMMS", release = "Release 2", version = var.version, ... }
//	}
//
// A message that cannot be delivered is a warning, never a reason to roll
// back a release: the step succeeds with delivered = false and emits a
// note, unless fail_on_error = true.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/provider/httpclient"
	"github.com/zclconf/go-cty/cty"
)

// Type is the provider type.
const Type = "email"

// DefaultTimeout bounds one delivery when none is configured.
const DefaultTimeout = 30 * time.Second

// TLS modes.
const (
	// TLSStartTLS upgrades the connection with STARTTLS and refuses a
	// server that does not offer it (the default).
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (port 465).
	TLSImplicit = "tls"
	// TLSNone sends in clear. Only when explicit; net/smtp then refuses
	// to send a password except to localhost.
	TLSNone = "none"
)

// Sender delivers a message to an SMTP envelope. *Instance implements it
// with net/smtp; fakes (package emailfake) record messages instead.
type Sender interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
}

// Config configures an instance.
type Config struct {
	// Host is the SMTP server. Required.
	Host string
	// Port defaults to 587 (465 with TLS = "tls").
	Port int
	// Username and Password authenticate with AUTH PLAIN (over TLS only).
	Username, Password string
	// From is the sender address, e.g. "DevOps <devops@dcmms.com>".
	// Required.
	From string
	// TLS is starttls (default), tls or none.
	TLS string
	// CAFile is a PEM bundle of CAs to trust.
	CAFile string
	// InsecureSkipVerify disables certificate verification. Only when
	// explicit.
	InsecureSkipVerify bool
	// Timeout bounds each delivery (default [DefaultTimeout]).
	Timeout time.Duration
	// Helo is the name sent in EHLO (default "localhost").
	Helo string
}

// Provider is the "email" provider. Set Sender to deliver elsewhere (a
// fake).
type Provider struct {
	Sender Sender
}

var _ provider.Provider = (*Provider)(nil)

// Type returns "email".
func (p *Provider) Type() string { return Type }

// ConfigSchema returns the schema of a provider "email" block.
func (p *Provider) ConfigSchema() provider.Schema {
	return provider.Schema{
		"host":                 {Type: cty.String, Required: true, Description: "SMTP server."},
		"port":                 {Type: cty.Number, Description: "SMTP port (default 587, or 465 with tls = \"tls\")."},
		"username":             {Type: cty.String, Description: "AUTH PLAIN user."},
		"password":             {Type: cty.String, Sensitive: true, Description: "AUTH PLAIN password."},
		"from":                 {Type: cty.String, Required: true, Description: "Sender, e.g. \"DevOps <devops@dcmms.com>\"."},
		"tls":                  {Type: cty.String, Description: "starttls (default), tls (implicit, port 465) or none."},
		"ca_file":              {Type: cty.String, LocalPath: true, Description: "PEM file of CAs to trust (relative: to the runbook file's directory)."},
		"insecure_skip_verify": {Type: cty.Bool, Description: "Skip certificate verification. Never the default."},
		"timeout":              {Type: cty.String, Description: "Per-delivery timeout (default 30s)."},
		"helo":                 {Type: cty.String, Description: "Name sent in EHLO (default localhost)."},
	}
}

// Configure returns an instance; it does not connect.
func (p *Provider) Configure(ctx context.Context, name string, config cty.Value) (provider.Instance, error) {
	a := &ctyargs.Attrs{V: config, Where: "provider email." + name}
	cfg := Config{
		Host: a.Str("host"), Port: a.Int("port"), Username: a.Str("username"), Password: a.Str("password"), From: a.Str("from"),
		TLS: a.Str("tls"), CAFile: a.Str("ca_file"), Helo: a.Str("helo"),
		InsecureSkipVerify: a.Bool("insecure_skip_verify"), Timeout: a.Duration("timeout"),
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return p.NewInstance(name, cfg)
}

// NewInstance returns a configured instance, for Go runbooks.
func (p *Provider) NewInstance(name string, cfg Config) (*Instance, error) {
	bad := func(format string, a ...any) (*Instance, error) {
		return nil, fmt.Errorf("provider email.%s: %s", name, fmt.Sprintf(format, a...))
	}
	if cfg.Host == "" {
		return bad("host is required")
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	switch cfg.TLS {
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return bad("tls %q is not one of starttls, tls, none", cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.TLS == TLSImplicit {
			cfg.Port = 465
		}
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return bad("port %d is out of range", cfg.Port)
	}
	if _, err := mail.ParseAddress(cfg.From); err != nil {
		return bad("from %q is not an address: %v", cfg.From, err)
	}
	if cfg.Password != "" && cfg.Username == "" {
		return bad("password without username")
	}
	if cfg.Helo == "" {
		cfg.Helo = "localhost"
	}
	return &Instance{name: name, cfg: cfg, sender: p.Sender}, nil
}

// Instance is a configured "email" provider; it implements [Sender] over
// SMTP.
type Instance struct {
	name   string
	cfg    Config
	sender Sender
}

// Name returns "email.<name>".
func (i *Instance) Name() string { return Type + "." + i.name }

func (i *Instance) deliver(ctx context.Context, from string, to []string, msg []byte) error {
	if i.sender != nil {
		return i.sender.Send(ctx, from, to, msg)
	}
	return i.Send(ctx, from, to, msg)
}

// Send implements [Sender]: one SMTP session per message.
func (i *Instance) Send(ctx context.Context, from string, to []string, msg []byte) (err error) {
	addr := net.JoinHostPort(i.cfg.Host, strconv.Itoa(i.cfg.Port))
	stage := "connect"
	defer func() {
		if err != nil {
			err = fmt.Errorf("smtp %s: %s: %w", addr, stage, err)
		}
	}()
	timeout := i.cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tc, err := i.tlsConfig()
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if i.cfg.TLS == TLSImplicit {
		stage = "tls handshake"
		tconn := tls.Client(conn, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tconn
	}
	stage = "greeting"
	c, err := smtp.NewClient(conn, i.cfg.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	stage = "EHLO"
	if err := c.Hello(i.cfg.Helo); err != nil {
		return err
	}
	if i.cfg.TLS == TLSStartTLS {
		stage = "STARTTLS"
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the server does not offer STARTTLS (set tls = \"none\" to send in clear, or \"tls\" for port 465)")
		}
		if err := c.StartTLS(tc); err != nil {
			return err
		}
	}
	if i.cfg.Username != "" {
		stage = "AUTH"
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the server does not offer AUTH")
		}
		if err := c.Auth(smtp.PlainAuth("", i.cfg.Username, i.cfg.Password, i.cfg.Host)); err != nil {
			return err
		}
	}
	stage = "MAIL FROM"
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		stage = "RCPT TO " + r
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	stage = "DATA"
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	stage = "QUIT"
	return c.Quit()
}

func (i *Instance) tlsConfig() (*tls.Config, error) {
	tc, err := httpclient.TLS{CAFile: i.cfg.CAFile, InsecureSkipVerify: i.cfg.InsecureSkipVerify}.Config()
	if err != nil {
		return nil, err
	}
	tc.ServerName = i.cfg.Host
	return tc, nil
}
