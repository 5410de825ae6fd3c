// Package emailfake is a stateful in-memory fake mail server for the email
// provider: it records every message (decoded: subject, body, recipients)
// and can be told to refuse them.
package emailfake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/providers/email"
)

// Message is one received message.
type Message struct {
	// From and Recipients are the SMTP envelope.
	From       string
	Recipients []string
	// Header fields, decoded.
	To, Cc    []string
	Subject   string
	MessageID string
	Date      time.Time
	// Body is the decoded text.
	Body string
	// Raw is the message as sent.
	Raw []byte
}

// World is the fake. The zero value is ready to use.
type World struct {
	mu       sync.Mutex
	messages []Message
	refuse   error
	faults   fault.Injector
}

var _ email.Sender = (*World)(nil)

// New returns a world that accepts every message.
func New() *World { return &World{} }

// Provider returns an email provider whose messages all reach this world.
func (w *World) Provider() provider.Provider { return &email.Provider{Sender: w} }

// Refuse makes every following delivery fail with err (nil accepts again).
func (w *World) Refuse(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.refuse = err
}

// Messages returns the messages received, in order.
func (w *World) Messages() []Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Message(nil), w.messages...)
}

// Subjects returns the subject of every message received, in order.
func (w *World) Subjects() []string {
	var out []string
	for _, m := range w.Messages() {
		out = append(out, m.Subject)
	}
	return out
}

// Faults returns the world's fault injector: every delivery is the call
// "Send" (see package fault).
func (w *World) Faults() *fault.Injector { return &w.faults }

// Send implements email.Sender: it parses and records the message.
func (w *World) Send(ctx context.Context, from string, to []string, raw []byte) error {
	return w.faults.Do(ctx, "Send", func() error { return w.send(ctx, from, to, raw) })
}

func (w *World) send(ctx context.Context, from string, to []string, raw []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	refuse := w.refuse
	w.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	if len(to) == 0 {
		return errors.New("emailfake: no recipient")
	}
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return fmt.Errorf("emailfake: malformed message: %w", err)
	}
	msg := Message{From: from, Recipients: append([]string(nil), to...), MessageID: m.Header.Get("Message-ID"), Raw: append([]byte(nil), raw...)}
	dec := new(mime.WordDecoder)
	if msg.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		return fmt.Errorf("emailfake: subject: %w", err)
	}
	for _, f := range []struct {
		k string
		d *[]string
	}{{"To", &msg.To}, {"Cc", &msg.Cc}} {
		if m.Header.Get(f.k) == "" {
			continue
		}
		list, err := m.Header.AddressList(f.k)
		if err != nil {
			return fmt.Errorf("emailfake: %s: %w", f.k, err)
		}
		for _, a := range list {
			*f.d = append(*f.d, a.Address)
		}
	}
	if msg.Date, err = m.Header.Date(); err != nil {
		return fmt.Errorf("emailfake: date: %w", err)
	}
	var body io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("emailfake: body: %w", err)
	}
	msg.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	w.mu.Lock()
	w.messages = append(w.messages, msg)
	w.mu.Unlock()
	return nil
}
