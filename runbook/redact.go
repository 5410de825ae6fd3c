package runbook

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// Redactor replaces registered secrets in strings. It is safe for concurrent
// use. The zero value is not usable; call [NewRedactor].
type Redactor struct {
	mu       sync.RWMutex
	secrets  map[string]struct{}
	replacer *strings.Replacer
}

// NewRedactor returns a Redactor knowing the given secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{secrets: map[string]struct{}{}}
	for _, s := range secrets {
		r.Add(s)
	}
	return r
}

// Add registers a secret. Empty strings and strings of fewer than three
// bytes are ignored: replacing them would destroy ordinary text without
// hiding anything.
func (r *Redactor) Add(secret string) {
	if len(secret) < 3 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.secrets[secret]; ok {
		return
	}
	r.secrets[secret] = struct{}{}
	list := make([]string, 0, len(r.secrets))
	for s := range r.secrets {
		list = append(list, s)
	}
	// Longest first, so that a secret containing another is hidden whole.
	sort.Slice(list, func(i, j int) bool {
		if len(list[i]) != len(list[j]) {
			return len(list[i]) > len(list[j])
		}
		return list[i] < list[j]
	})
	pairs := make([]string, 0, 2*len(list))
	for _, s := range list {
		pairs = append(pairs, s, "(sensitive)")
	}
	r.replacer = strings.NewReplacer(pairs...)
}

// Redact returns s with every registered secret replaced by "(sensitive)".
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	rep := r.replacer
	r.mu.RUnlock()
	if rep == nil || s == "" {
		return s
	}
	return rep.Replace(s)
}

// RedactValue returns a deep copy of a JSON-compatible value with secrets
// replaced in every string and [Secret] values replaced by "(sensitive)".
func (r *Redactor) RedactValue(v any) any {
	switch x := v.(type) {
	case Secret:
		return "(sensitive)"
	case string:
		return r.Redact(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = r.RedactValue(e)
		}
		return out
	case Outputs:
		out := make(Outputs, len(x))
		for k, e := range x {
			out[k] = r.RedactValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.RedactValue(e)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = r.Redact(e)
		}
		return out
	default:
		return v
	}
}

// RedactOutputs returns a redacted copy of o (nil stays nil).
func (r *Redactor) RedactOutputs(o Outputs) Outputs {
	if o == nil {
		return nil
	}
	return r.RedactValue(o).(Outputs)
}

// redactHandler is a slog.Handler that redacts secrets in messages and
// string attributes before passing records on.
type redactHandler struct {
	h slog.Handler
	r *Redactor
}

func (h redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redactAttr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h redactHandler) redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.Redact(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, g := range attrs {
			out[i] = h.redactAttr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		return slog.Any(a.Key, h.r.RedactValue(v.Any()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.redactAttr(a)
	}
	return redactHandler{h: h.h.WithAttrs(red), r: h.r}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{h: h.h.WithGroup(name), r: h.r}
}
