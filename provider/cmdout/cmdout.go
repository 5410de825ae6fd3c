// Package cmdout handles the output of a command that a provider action
// runs (a local process, a command over SSH): [Capture] keeps the first
// bytes of a stream and reports each complete line as it arrives, so the
// run's events show the command's progress while the step's outputs get a
// bounded copy; [Lines] and [Tail] shape the result for outputs and error
// messages.
package cmdout

import (
	"bytes"
	"strings"
	"sync"
)

// DefaultLimit caps each captured stream (1 MiB) when no limit is given.
const DefaultLimit = 1 << 20

// maxLine bounds how much of an unterminated line is held for the line
// callback; the rest of such a line is dropped from the callback (not from
// the captured bytes).
const maxLine = 64 << 10

// Capture is an io.Writer that keeps the first limit bytes written to it
// and calls a callback with each complete line (without its "\n" or
// "\r\n"). It is safe for concurrent use. Call Flush when the stream has
// ended to report a last line that had no newline.
type Capture struct {
	mu        sync.Mutex
	limit     int
	buf       bytes.Buffer
	truncated bool
	line      []byte
	onLine    func(string)
}

// NewCapture returns a Capture keeping at most limit bytes (DefaultLimit
// when limit <= 0) and calling onLine, if not nil, with each line. onLine is
// called with the Capture's lock held: it must not call the Capture.
func NewCapture(limit int, onLine func(string)) *Capture {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Capture{limit: limit, onLine: onLine}
}

// Write implements io.Writer. It never fails, so the command never sees a
// broken pipe because of the cap: bytes past the limit are counted as
// truncated and still reported as lines.
func (c *Capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.limit - c.buf.Len(); room > 0 {
		if len(p) <= room {
			c.buf.Write(p)
		} else {
			c.buf.Write(p[:room])
			c.truncated = true
		}
	} else if len(p) > 0 {
		c.truncated = true
	}
	if c.onLine == nil {
		return len(p), nil
	}
	data := p
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(c.line) < maxLine {
				c.line = append(c.line, data...)
			}
			break
		}
		c.line = append(c.line, data[:i]...)
		c.onLine(string(bytes.TrimSuffix(c.line, []byte("\r"))))
		c.line = c.line[:0]
		data = data[i+1:]
	}
	return len(p), nil
}

// Flush reports the last line if it had no newline.
func (c *Capture) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.onLine != nil && len(c.line) > 0 {
		c.onLine(string(c.line))
		c.line = nil
	}
}

// String returns the bytes kept so far.
func (c *Capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// Truncated reports whether more was written than the limit kept.
func (c *Capture) Truncated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.truncated
}

// Lines splits output into lines without their "\n"; a final newline does
// not start an empty line, and empty output has no lines (an empty, non-nil
// slice).
func Lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}

// Tail returns the last n bytes of s with surrounding space trimmed,
// prefixed with "..." when it cut anything: the part of stderr an error
// message quotes.
func Tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}
