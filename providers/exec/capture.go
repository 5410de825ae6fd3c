package exec

import (
	"bytes"
	"sync"
)

// DefaultOutputLimit caps each captured stream (1 MiB).
const DefaultOutputLimit = 1 << 20

// capture keeps the first limit bytes of a stream and reports each
// complete line to a callback (the step's events).
type capture struct {
	mu        sync.Mutex
	limit     int
	buf       bytes.Buffer
	truncated bool
	line      []byte
	onLine    func(string)
}

func newCapture(limit int, onLine func(string)) *capture {
	if limit <= 0 {
		limit = DefaultOutputLimit
	}
	return &capture{limit: limit, onLine: onLine}
}

// Write implements io.Writer; it never fails.
func (c *capture) Write(p []byte) (int, error) {
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
			if len(c.line) < 64<<10 {
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

// close reports the last line if it had no newline.
func (c *capture) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.onLine != nil && len(c.line) > 0 {
		c.onLine(string(c.line))
		c.line = nil
	}
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *capture) Truncated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.truncated
}
