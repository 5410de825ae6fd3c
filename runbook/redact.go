package runbook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MinSecretLen is the length, in bytes, of the shortest secret a
// [Redactor] hides. Replacing every occurrence of one or two bytes would
// destroy ordinary text without hiding anything (a two-letter password is
// found in most sentences), so shorter secrets cannot be redacted: the HCL
// front end refuses a sensitive variable whose value is shorter (see
// [CheckSecret]), and [Redactor.Add] ignores them and counts them in
// [Redactor.Unredactable].
const MinSecretLen = 3

// ErrShortSecret is returned by [CheckSecret] for a non-empty secret shorter
// than [MinSecretLen] bytes.
var ErrShortSecret = errors.New("runbook: secret too short to be redacted")

// CheckSecret reports whether s can be redacted: nil for an empty secret
// (nothing to hide) or one of at least [MinSecretLen] bytes, an error
// wrapping [ErrShortSecret] otherwise. The error never contains s.
func CheckSecret(s string) error {
	if s != "" && len(s) < MinSecretLen {
		return fmt.Errorf("%w: a sensitive value must be empty or at least %d bytes long (this one has %d); a shorter one would show in logs, events and reports", ErrShortSecret, MinSecretLen, len(s))
	}
	return nil
}

// redacted is what replaces a secret.
const redacted = "(sensitive)"

// minEmbeddedBase64 is the length of the shortest base64 fragment matched
// for a secret embedded in a longer base64 text (such as an HTTP Basic
// authorization header): shorter fragments would match ordinary text.
const minEmbeddedBase64 = 6

// Redactor replaces registered secrets in strings: the secret itself and
// the forms it takes on its way out, so that an encoded copy does not slip
// through either:
//
//   - URL encoding (query and path escaping, upper- and lower-case hex);
//   - JSON and Go string escaping (with and without HTML escaping, and
//     %q / strconv.Quote forms);
//   - base64, standard and URL alphabets, with and without padding, alone
//     or embedded in a longer base64 text at any byte alignment;
//   - hexadecimal, lower and upper case.
//
// Secrets shorter than [MinSecretLen] bytes cannot be redacted (see
// [CheckSecret]). It is safe for concurrent use. The zero value is not
// usable; call [NewRedactor].
type Redactor struct {
	mu           sync.RWMutex
	secrets      map[string]struct{}
	forms        map[string]struct{}
	unredactable int
	// replacer is rebuilt from forms on the first Redact after an Add
	// (stale), so that adding n secrets costs O(n), not O(n²).
	replacer *strings.Replacer
	stale    bool
}

// NewRedactor returns a Redactor knowing the given secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{secrets: map[string]struct{}{}, forms: map[string]struct{}{}}
	for _, s := range secrets {
		r.Add(s)
	}
	return r
}

// Add registers a secret and its encoded forms. An empty string is
// ignored; a secret shorter than [MinSecretLen] bytes is ignored too (it
// cannot be redacted) and counted in [Redactor.Unredactable].
func (r *Redactor) Add(secret string) {
	if secret == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(secret) < MinSecretLen {
		r.unredactable++
		return
	}
	if _, ok := r.secrets[secret]; ok {
		return
	}
	r.secrets[secret] = struct{}{}
	for _, f := range encodedForms(secret) {
		r.forms[f] = struct{}{}
	}
	r.stale = true
}

// rebuild makes the replacer from forms. The caller holds mu for writing.
func (r *Redactor) rebuild() {
	list := make([]string, 0, len(r.forms))
	for f := range r.forms {
		list = append(list, f)
	}
	// Longest first, so that a secret containing another is hidden whole.
	sort.Slice(list, func(i, j int) bool {
		if len(list[i]) != len(list[j]) {
			return len(list[i]) > len(list[j])
		}
		return list[i] < list[j]
	})
	pairs := make([]string, 0, 2*len(list))
	for _, f := range list {
		pairs = append(pairs, f, redacted)
	}
	r.replacer = strings.NewReplacer(pairs...)
	r.stale = false
}

// Unredactable returns how many secrets given to Add were too short to be
// redacted.
func (r *Redactor) Unredactable() int {
	if r == nil {
		return 0
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.unredactable
}

// encodedForms returns s and the forms it takes once encoded.
func encodedForms(s string) []string {
	b := []byte(s)
	forms := []string{s,
		url.QueryEscape(s), url.PathEscape(s),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		inner(strconv.Quote(s)), inner(strconv.QuoteToASCII(s)),
		inner(jsonString(s, true)), inner(jsonString(s, false)),
	}
	for _, f := range forms[1:3] {
		if strings.Contains(f, "%") {
			forms = append(forms, lowerPercent(f))
		}
	}
	// Inside a longer base64 text the secret starts at any of three byte
	// alignments; the characters made only of its bits are the same
	// whatever surrounds it.
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for k := 0; k < 3; k++ {
			full := enc.EncodeToString(append(make([]byte, k), b...))
			first := (8*k + 5) / 6
			last := 8 * (k + len(b)) / 6 // exclusive
			if last-first >= minEmbeddedBase64 {
				forms = append(forms, full[first:last])
			}
		}
	}
	out := forms[:0]
	for _, f := range forms {
		if len(f) >= MinSecretLen {
			out = append(out, f)
		}
	}
	return out
}

func inner(quoted string) string {
	if len(quoted) >= 2 {
		return quoted[1 : len(quoted)-1]
	}
	return quoted
}

func jsonString(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		return s
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// lowerPercent lower-cases the hex digits of %XX escapes.
func lowerPercent(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lowerHex(b[i+1])
			b[i+2] = lowerHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// Redact returns s with every registered secret, and every encoded form of
// one, replaced by "(sensitive)".
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	if s == "" {
		return s
	}
	r.mu.RLock()
	rep, stale := r.replacer, r.stale
	r.mu.RUnlock()
	if stale {
		r.mu.Lock()
		if r.stale {
			r.rebuild()
		}
		rep = r.replacer
		r.mu.Unlock()
	}
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// RedactValue returns a redacted deep copy of v: secrets are replaced in
// every string, map key included, of maps, slices, arrays and pointers of
// any element type (map[string]string, []map[string]any, ...); [Secret]
// values become "(sensitive)"; errors and [fmt.Stringer]s become their
// redacted text; structs become the redacted form of their JSON encoding
// (a map), since their unexported fields cannot be copied safely. Numbers,
// booleans, times and durations are returned as they are. A nil Redactor
// still hides [Secret] values.
func (r *Redactor) RedactValue(v any) any {
	return r.redactAny(v, 0)
}

// maxRedactDepth bounds the recursion (a cyclic structure ends there as
// "(too deep to show)").
const maxRedactDepth = 64

func (r *Redactor) redactAny(v any, depth int) any {
	if depth > maxRedactDepth {
		return "(too deep to show)"
	}
	switch x := v.(type) {
	case nil:
		return nil
	case Secret, *Secret:
		return redacted
	case string:
		return r.Redact(x)
	case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
		float32, float64, complex64, complex128, time.Time, time.Duration, json.Number:
		return v
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.Redact(k)] = r.redactAny(e, depth+1)
		}
		return out
	case Outputs:
		out := make(Outputs, len(x))
		for k, e := range x {
			out[r.Redact(k)] = r.redactAny(e, depth+1)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, e := range x {
			out[r.Redact(k)] = r.Redact(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.redactAny(e, depth+1)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = r.Redact(e)
		}
		return out
	case []byte:
		return []byte(r.Redact(string(x)))
	case json.RawMessage:
		return json.RawMessage(r.Redact(string(x)))
	case error:
		return r.Redact(x.Error())
	case fmt.Stringer:
		return r.Redact(x.String())
	}
	return r.redactReflect(reflect.ValueOf(v), depth)
}

// redactReflect copies containers of other types with their strings
// redacted.
func (r *Redactor) redactReflect(rv reflect.Value, depth int) any {
	switch rv.Kind() {
	case reflect.String:
		out := reflect.New(rv.Type()).Elem()
		out.SetString(r.Redact(rv.String()))
		return out.Interface()
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return rv.Interface()
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return rv.Interface()
		}
		return r.redactAny(rv.Elem().Interface(), depth+1)
	case reflect.Map:
		if rv.IsNil() {
			return rv.Interface()
		}
		out := reflect.MakeMapWithSize(reflect.MapOf(redactedType(rv.Type().Key()), redactedType(rv.Type().Elem())), rv.Len())
		it := rv.MapRange()
		for it.Next() {
			k := reflect.ValueOf(r.redactAny(it.Key().Interface(), depth+1))
			e := r.redactAny(it.Value().Interface(), depth+1)
			out.SetMapIndex(convertTo(k, out.Type().Key()), convertTo(reflect.ValueOf(e), out.Type().Elem()))
		}
		return out.Interface()
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return rv.Interface()
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = r.redactAny(rv.Index(i).Interface(), depth+1)
		}
		return out
	case reflect.Struct:
		b, err := json.Marshal(rv.Interface())
		if err != nil {
			return fmt.Sprintf("(a %s that cannot be shown)", rv.Type())
		}
		var m any
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Sprintf("(a %s that cannot be shown)", rv.Type())
		}
		return r.redactAny(m, depth+1)
	}
	// Channels, functions, unsafe pointers carry no text.
	return fmt.Sprintf("(a %s)", rv.Type())
}

// redactedType is the type a redacted copy of a t value has.
func redactedType(t reflect.Type) reflect.Type {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		if t.Implements(reflect.TypeFor[error]()) || t.Implements(reflect.TypeFor[fmt.Stringer]()) {
			return reflect.TypeFor[any]()
		}
		return t
	}
	return reflect.TypeFor[any]()
}

func convertTo(v reflect.Value, t reflect.Type) reflect.Value {
	if !v.IsValid() {
		return reflect.Zero(t)
	}
	if v.Type().AssignableTo(t) {
		return v
	}
	if v.Type().ConvertibleTo(t) {
		return v.Convert(t)
	}
	return reflect.Zero(t)
}

// RedactOutputs returns a redacted copy of o (nil stays nil).
func (r *Redactor) RedactOutputs(o Outputs) Outputs {
	if o == nil {
		return nil
	}
	return r.RedactValue(o).(Outputs)
}

// redactHandler is a slog.Handler that redacts secrets in messages and
// attributes (strings, errors, Stringers and structured values) before
// passing records on.
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
	key := h.r.Redact(a.Key)
	switch v.Kind() {
	case slog.KindString:
		return slog.String(key, h.r.Redact(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, g := range attrs {
			out[i] = h.redactAttr(g)
		}
		return slog.Group(key, out...)
	case slog.KindAny:
		return slog.Any(key, h.r.RedactValue(v.Any()))
	}
	return slog.Attr{Key: key, Value: v}
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
