package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/handrail-dev/handrail/provider/httpclient"
)

// Limits of the exporter.
const (
	maxRequestBytes = 64 << 20 // an encoded export larger than this is refused
	maxAttempts     = 5        // of one export, when the receiver asks to retry
	maxBodyInError  = 512      // bytes of a receiver's error body quoted in the error
	maxResponse     = 4 << 20  // bytes of a response read
)

// Exporter is a [sdktrace.SpanExporter] that sends spans to an OTLP/HTTP
// receiver (an OpenTelemetry Collector, Jaeger, Tempo, …): each export is
// one POST of an ExportTraceServiceRequest encoded as protobuf
// (Content-Type application/x-protobuf), gzip-compressed if configured.
//
// A 2xx answer is success; a partial success the receiver reports (spans
// rejected) is returned as an error. 429, 502, 503 and 504 are retried
// (up to 5 attempts, after the receiver's Retry-After or a short backoff)
// while the export's time (ExporterConfig.Timeout) and its context last;
// any other status is an error quoting the status and the start of the
// body — never the configured headers' values. HTTP(S)_PROXY and NO_PROXY
// are honoured.
//
// It encodes the request envelope itself, so the binary links the OTLP
// trace, common and resource messages only — not the collector service
// package and gRPC.
type Exporter struct {
	cfg    ExporterConfig
	where  string // cfg.URL as errors show it: no password, no query
	client *http.Client

	mu      sync.Mutex
	stopped bool
	stop    chan struct{} // closed by Shutdown: in-flight exports end
}

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// NewExporter returns an exporter sending to cfg.URL. It does not connect.
func NewExporter(cfg ExporterConfig) (*Exporter, error) {
	if _, err := parseEndpoint("URL", cfg.URL); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       cfg.TLS,
	}
	return &Exporter{cfg: cfg, where: httpclient.RedactURL(cfg.URL), client: &http.Client{Transport: tr}, stop: make(chan struct{})}, nil
}

// ExportSpans sends spans in one request. After Shutdown it drops them.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	e.mu.Lock()
	stopped := e.stopped
	e.mu.Unlock()
	if stopped {
		return nil
	}
	body, err := encodeRequest(spans)
	if err != nil {
		return err
	}
	if len(body) > maxRequestBytes {
		return fmt.Errorf("tracing: export of %d spans is %d bytes, over the %d-byte limit", len(spans), len(body), maxRequestBytes)
	}
	if e.cfg.Gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		if _, err := zw.Write(body); err != nil {
			return fmt.Errorf("tracing: gzip: %w", err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("tracing: gzip: %w", err)
		}
		body = b.Bytes()
	}

	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
		case <-e.stop:
			cancel()
		}
	}()

	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		wait, err := e.post(ctx, body)
		if err == nil || wait < 0 || attempt == maxAttempts {
			return err
		}
		if wait == 0 {
			wait = backoff
			backoff = min(2*backoff, 4*time.Second)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return fmt.Errorf("%w (not retried: the next attempt, in %v, would be past the export's deadline)", err, wait.Round(time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (retry abandoned: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// post makes one attempt. A nil error is success; otherwise wait is -1 if
// the failure is final, or how long to wait before retrying (0: the
// caller's backoff).
func (e *Exporter) post(ctx context.Context, body []byte) (wait time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return -1, fmt.Errorf("tracing: OTLP request: %w", err)
	}
	for k, v := range e.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "handrail-otlp-exporter")
	if e.cfg.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	// httpclient.Do drops the URL from a transport error (its password or
	// query may hold a key); the redacted form is named instead.
	resp, err := httpclient.Do(e.client, req)
	if err != nil {
		return -1, fmt.Errorf("tracing: OTLP export to %s: %w", e.where, err)
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponse))

	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		if rerr != nil {
			return -1, fmt.Errorf("tracing: OTLP export: reading the response: %w", rerr)
		}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-protobuf") {
			if rejected, msg := partialSuccess(data); rejected != 0 || msg != "" {
				return -1, &ExportError{Rejected: rejected, Message: e.redact(msg), URL: e.where}
			}
		}
		return 0, nil
	}
	xerr := &ExportError{StatusCode: resp.StatusCode, Message: e.redact(httpclient.Excerpt(data, maxBodyInError)), URL: e.where}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return retryAfter(resp.Header.Get("Retry-After")), xerr
	}
	return -1, xerr
}

// ExportError is what an export the receiver refused returns (use
// errors.As): a non-2xx status, or a 2xx with a partial success that
// rejected spans.
type ExportError struct {
	// StatusCode is the HTTP status; 0 for a partial success.
	StatusCode int
	// Rejected is how many spans a partial success rejected.
	Rejected int64
	// Message is the start of the receiver's body, or the partial
	// success's message, with configured header values redacted.
	Message string
	// URL is where the spans were sent, without a password or query
	// (they may hold credentials).
	URL string
}

// Error says where the spans went and what the receiver answered.
func (e *ExportError) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("tracing: OTLP receiver %s rejected %d spans: %s", e.URL, e.Rejected, e.Message)
	}
	msg := e.Message
	if msg == "" {
		msg = "(empty body)"
	}
	return fmt.Sprintf("tracing: OTLP receiver %s answered %d %s: %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode), msg)
}

// redact removes configured header values (API keys) from s, in case a
// receiver echoes them.
func (e *Exporter) redact(s string) string {
	for _, v := range e.cfg.Headers {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); 0 when
// absent or unreadable.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 || s > 3600 {
			return time.Hour
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// partialSuccess reads ExportTraceServiceResponse.partial_success (field
// 1: rejected_spans = 1, error_message = 2) from a protobuf response.
func partialSuccess(b []byte) (rejected int64, msg string) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, ""
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			ps, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, ""
			}
			b = b[n:]
			for len(ps) > 0 {
				num, typ, n := protowire.ConsumeTag(ps)
				if n < 0 {
					break
				}
				ps = ps[n:]
				switch {
				case num == 1 && typ == protowire.VarintType:
					v, n := protowire.ConsumeVarint(ps)
					if n < 0 {
						return rejected, msg
					}
					rejected, ps = int64(v), ps[n:]
				case num == 2 && typ == protowire.BytesType:
					v, n := protowire.ConsumeBytes(ps)
					if n < 0 {
						return rejected, msg
					}
					msg, ps = string(v), ps[n:]
				default:
					n := protowire.ConsumeFieldValue(num, typ, ps)
					if n < 0 {
						return rejected, msg
					}
					ps = ps[n:]
				}
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return rejected, msg
		}
		b = b[n:]
	}
	return rejected, msg
}

// Shutdown stops the exporter: exports in flight are cancelled and later
// ones dropped. Spans still buffered belong to the span processor, which
// flushes them before it shuts the exporter down.
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if !e.stopped {
		e.stopped = true
		close(e.stop)
	}
	e.mu.Unlock()
	e.client.CloseIdleConnections()
	return nil
}

// encodeRequest encodes an ExportTraceServiceRequest: field 1, repeated
// ResourceSpans, one per resource, each with one ScopeSpans per
// instrumentation scope, in the order they first appear in spans.
func encodeRequest(spans []sdktrace.ReadOnlySpan) ([]byte, error) {
	type scopeKey struct {
		res   attribute.Distinct
		scope instrumentation.Scope
	}
	var resources []*tracepb.ResourceSpans
	byRes := map[attribute.Distinct]*tracepb.ResourceSpans{}
	byScope := map[scopeKey]*tracepb.ScopeSpans{}
	for _, s := range spans {
		if s == nil {
			continue
		}
		rk := s.Resource().Equivalent()
		rs := byRes[rk]
		if rs == nil {
			rs = &tracepb.ResourceSpans{
				Resource:  &resourcepb.Resource{Attributes: keyValues(s.Resource().Attributes())},
				SchemaUrl: s.Resource().SchemaURL(),
			}
			byRes[rk] = rs
			resources = append(resources, rs)
		}
		sc := s.InstrumentationScope()
		sk := scopeKey{rk, sc}
		ss := byScope[sk]
		if ss == nil {
			ss = &tracepb.ScopeSpans{
				Scope: &commonpb.InstrumentationScope{
					Name:       sc.Name,
					Version:    sc.Version,
					Attributes: keyValues(sc.Attributes.ToSlice()),
				},
				SchemaUrl: sc.SchemaURL,
			}
			byScope[sk] = ss
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss.Spans = append(ss.Spans, spanProto(s))
	}
	var out []byte
	for _, rs := range resources {
		b, err := proto.Marshal(rs)
		if err != nil {
			return nil, fmt.Errorf("tracing: encoding spans: %w", err)
		}
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, b)
	}
	return out, nil
}

func spanProto(s sdktrace.ReadOnlySpan) *tracepb.Span {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	p := &tracepb.Span{
		TraceId:                tid[:],
		SpanId:                 sid[:],
		TraceState:             sc.TraceState().String(),
		Name:                   s.Name(),
		Kind:                   spanKind(s.SpanKind()),
		StartTimeUnixNano:      unixNano(s.StartTime()),
		EndTimeUnixNano:        unixNano(s.EndTime()),
		Attributes:             keyValues(s.Attributes()),
		DroppedAttributesCount: clamp32(s.DroppedAttributes()),
		DroppedEventsCount:     clamp32(s.DroppedEvents()),
		DroppedLinksCount:      clamp32(s.DroppedLinks()),
		Flags:                  spanFlags(sc.TraceFlags(), s.Parent()),
	}
	if parent := s.Parent().SpanID(); parent.IsValid() {
		p.ParentSpanId = parent[:]
	}
	st := s.Status()
	p.Status = &tracepb.Status{Message: st.Description}
	switch st.Code {
	case codes.Ok:
		p.Status.Code = tracepb.Status_STATUS_CODE_OK
	case codes.Error:
		p.Status.Code = tracepb.Status_STATUS_CODE_ERROR
	}
	for _, ev := range s.Events() {
		p.Events = append(p.Events, &tracepb.Span_Event{
			Name:                   ev.Name,
			TimeUnixNano:           unixNano(ev.Time),
			Attributes:             keyValues(ev.Attributes),
			DroppedAttributesCount: clamp32(ev.DroppedAttributeCount),
		})
	}
	for _, l := range s.Links() {
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		p.Links = append(p.Links, &tracepb.Span_Link{
			TraceId:                ltid[:],
			SpanId:                 lsid[:],
			TraceState:             l.SpanContext.TraceState().String(),
			Attributes:             keyValues(l.Attributes),
			DroppedAttributesCount: clamp32(l.DroppedAttributeCount),
			Flags:                  spanFlags(l.SpanContext.TraceFlags(), l.SpanContext),
		})
	}
	return p
}

// spanFlags are the W3C trace flags in the low 8 bits, plus "whether the
// parent is remote is known" and, if it is, "the parent is remote".
func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(tf) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	if parent.IsRemote() {
		f |= uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	}
	return f
}

func spanKind(k trace.SpanKind) tracepb.Span_SpanKind {
	switch k {
	case trace.SpanKindInternal:
		return tracepb.Span_SPAN_KIND_INTERNAL
	case trace.SpanKindServer:
		return tracepb.Span_SPAN_KIND_SERVER
	case trace.SpanKindClient:
		return tracepb.Span_SPAN_KIND_CLIENT
	case trace.SpanKindProducer:
		return tracepb.Span_SPAN_KIND_PRODUCER
	case trace.SpanKindConsumer:
		return tracepb.Span_SPAN_KIND_CONSUMER
	}
	return tracepb.Span_SPAN_KIND_UNSPECIFIED
}

func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(max(0, t.UnixNano())) //nolint:gosec // not negative
}

func clamp32(n int) uint32 {
	return uint32(min(max(n, 0), 1<<32-1)) //nolint:gosec // clamped
}

func keyValues(kvs []attribute.KeyValue) []*commonpb.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, len(kvs))
	for i, kv := range kvs {
		out[i] = &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)}
	}
	return out
}

func anyValue(v attribute.Value) *commonpb.AnyValue {
	switch v.Type() {
	case attribute.BOOL:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}}
	case attribute.INT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}}
	case attribute.FLOAT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}}
	case attribute.STRING:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v.AsString()}}
	case attribute.BYTESLICE:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: v.AsByteSlice()}}
	case attribute.BOOLSLICE:
		return arrayOf(v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		return arrayOf(v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		return arrayOf(v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		return arrayOf(v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		return arrayOf(v.AsSlice(), func(v attribute.Value) attribute.Value { return v })
	case attribute.MAP:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: keyValues(v.AsMap())}}}
	case attribute.EMPTY:
		return &commonpb.AnyValue{}
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "INVALID"}}
}

func arrayOf[T any](vs []T, conv func(T) attribute.Value) *commonpb.AnyValue {
	arr := &commonpb.ArrayValue{Values: make([]*commonpb.AnyValue, len(vs))}
	for i, v := range vs {
		arr.Values[i] = anyValue(conv(v))
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}
}
