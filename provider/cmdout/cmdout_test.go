package cmdout_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/handrail-dev/handrail/provider/cmdout"
)

func TestCapture(t *testing.T) {
	tests := []struct {
		name      string
		limit     int
		writes    []string
		kept      string
		lines     []string
		truncated bool
	}{
		{"lines across writes", 0, []string{"a\nb", "c\r\nd"}, "a\nbc\r\nd", []string{"a", "bc", "d"}, false},
		{"cap keeps the first bytes and every line", 3, []string{"one\ntwo\n"}, "one", []string{"one", "two"}, true},
		{"write past a full buffer", 2, []string{"ab", "c"}, "ab", []string{"abc"}, true},
		{"nothing", 0, nil, "", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lines []string
			c := cmdout.NewCapture(tc.limit, func(l string) { lines = append(lines, l) })
			for _, w := range tc.writes {
				n, err := c.Write([]byte(w))
				assert.NoError(t, err)
				assert.Equal(t, len(w), n)
			}
			c.Flush()
			assert.Equal(t, tc.kept, c.String())
			assert.Equal(t, tc.lines, lines)
			assert.Equal(t, tc.truncated, c.Truncated())
		})
	}
}

func TestCaptureWithoutCallback(t *testing.T) {
	c := cmdout.NewCapture(0, nil)
	_, _ = c.Write([]byte(strings.Repeat("x", 10)))
	c.Flush()
	assert.Equal(t, 10, len(c.String()))
}

func TestLinesAndTail(t *testing.T) {
	assert.Equal(t, []string{}, cmdout.Lines(""))
	assert.Equal(t, []string{"a", "b"}, cmdout.Lines("a\nb\n"))
	assert.Equal(t, []string{"a", "", "b"}, cmdout.Lines("a\n\nb"))
	assert.Equal(t, "short", cmdout.Tail("  short\n", 10))
	assert.Equal(t, "...6789", cmdout.Tail("0123456789", 4))
}

func ExampleCapture() {
	c := cmdout.NewCapture(5, func(line string) { fmt.Println("line:", line) })
	fmt.Fprint(c, "hello\nworld")
	c.Flush()
	fmt.Printf("kept %q, truncated %t\n", c.String(), c.Truncated())
	// Output:
	// line: hello
	// line: world
	// kept "hello", truncated true
}
