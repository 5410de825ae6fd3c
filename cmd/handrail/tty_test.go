package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ptyProc is handrail running with a pseudo-terminal as its stdin, stdout
// and stderr, as in a person's terminal.
type ptyProc struct {
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	read chan struct{} // closed when the terminal has nothing more to read
	done chan struct{} // closed when the process exited
	code int
}

// termEnv is the environment of a person's terminal: the test's own, minus
// the variables that change how handrail renders (CI, NO_COLOR), plus
// extra.
func termEnv(extra ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		if k == "CI" || k == "NO_COLOR" || k == "TERM" {
			continue
		}
		env = append(env, e)
	}
	return append(append(env, "TERM=xterm-256color"), extra...)
}

// startPTY runs the binary in dir on a cols×40 terminal.
func startPTY(t *testing.T, dir string, cols int, env []string, args ...string) *ptyProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: uint16(cols)})
	require.NoError(t, err)
	p := &ptyProc{cmd: cmd, tty: tty, read: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.read)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return // EIO once the process and its children closed the terminal
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		_ = tty.Close()
	})
	return p
}

func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// expect waits until the terminal has shown s.
func (p *ptyProc) expect(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.output(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it shows:\n%s", s, p.output())
		}
		select {
		case <-p.done:
			if !strings.Contains(p.output(), s) {
				<-p.read
				if !strings.Contains(p.output(), s) {
					t.Fatalf("handrail exited (%d) without showing %q; it showed:\n%s", p.code, s, p.output())
				}
			}
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// typeIn types s on the terminal's keyboard.
func (p *ptyProc) typeIn(t *testing.T, s string) {
	t.Helper()
	_, err := io.WriteString(p.tty, s)
	require.NoError(t, err)
}

// wait waits for the exit and for everything it printed.
func (p *ptyProc) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("handrail did not exit; the terminal shows:\n%s", p.output())
	}
	select {
	case <-p.read:
	case <-time.After(5 * time.Second):
	}
	return p.code, p.output()
}

// screen replays terminal output on a virtual screen cols wide, the way a
// terminal would: carriage return, line feed, erase to end of line, line
// wrap at the right margin; other escape sequences (colours) take no room.
// It returns the screen's lines, so a test sees what a person sees.
func screen(out string, cols int) []string {
	lines := [][]rune{{}}
	row, col := 0, 0
	put := func(r rune, width int) {
		if col+width > cols { // pending wrap: the next character goes on the next line
			row, col = row+1, 0
			for len(lines) <= row {
				lines = append(lines, []rune{})
			}
		}
		l := lines[row]
		for len(l) < col+width {
			l = append(l, ' ')
		}
		l[col] = r
		for i := 1; i < width; i++ {
			l[col+i] = 0 // the right half of a wide character
		}
		lines[row] = l
		col += width
	}
	for i := 0; i < len(out); {
		if out[i] == 0x1b && i+1 < len(out) && out[i+1] == '[' {
			j := i + 2
			for j < len(out) && (out[j] < 0x40 || out[j] > 0x7e) {
				j++
			}
			if j < len(out) && out[j] == 'K' {
				if col < len(lines[row]) {
					lines[row] = lines[row][:col]
				}
			}
			i = j + 1
			continue
		}
		r, n := utf8.DecodeRuneInString(out[i:])
		i += n
		switch r {
		case '\r':
			col = 0
		case '\n':
			row, col = row+1, 0
			for len(lines) <= row {
				lines = append(lines, []rune{})
			}
		default:
			put(r, runeWidth(r))
		}
	}
	res := make([]string, len(lines))
	for i, l := range lines {
		res[i] = strings.TrimRight(strings.ReplaceAll(string(l), "\x00", ""), " ")
	}
	return res
}

// runeWidth is the number of columns a terminal gives r: two for the wide
// symbols handrail prints, one otherwise.
func runeWidth(r rune) int {
	switch r {
	case '⏳', '⌛':
		return 2
	}
	return 1
}

// ansiColor matches SGR sequences (colours, bold, dim).
var ansiColor = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// approveRunbook: a step that changes the world, an approval gate, a step
// after it.
const approveRunbook = `runbook "tty-demo" {
  description = "An approval asked on the terminal"
  window      = "1h"
}

provider "http" "svc" {
  base_url = %q
}

step "http_request" "prepare" {
  provider = http.svc
  method   = "POST"
  url      = "/prepare"
  budget   = "1m"
  rollback "http_request" {
    provider = http.svc
    method   = "DELETE"
    url      = "/prepare"
  }
}

gate "approval" "go_no_go" {
  message = "Ship it?"
  timeout = "5m"
}

step "http_request" "ship" {
  provider = http.svc
  method   = "POST"
  url      = "/ship"
  budget   = "1m"
  rollback "http_request" {
    provider = http.svc
    method   = "DELETE"
    url      = "/ship"
  }
}
`

func TestTerminalApprovalYes(t *testing.T) {
	svc := newService(t)
	dir := t.TempDir()
	rb := writeFile(t, dir, "tty.hcl", fmt.Sprintf(approveRunbook, svc.URL))
	p := startPTY(t, dir, 120, termEnv(), "apply", rb, "-state-dir", filepath.Join(dir, "state"))
	p.expect(t, "Approve? [y/N]: ")
	before := p.output()
	assert.Contains(t, before, "Ship it?")
	// While the gate waits, the live status line shows it.
	assert.Contains(t, before, "\r\x1b[K")
	assert.Regexp(t, `⏳ go_no_go \d`, ansiColor.ReplaceAllString(before, ""))
	p.typeIn(t, "y\n")
	code, out := p.wait(t)
	require.Equal(t, 0, code, out)
	plain := ansiColor.ReplaceAllString(out, "")
	assert.Contains(t, plain, "go_no_go approved by ")
	assert.Contains(t, plain, "✔ ship")
	assert.Regexp(t, `run \S+ succeeded`, plain)
	assert.Equal(t, []string{"POST /prepare", "POST /ship"}, svc.requests())

	// Colours in a terminal: green ticks, bold run lines.
	assert.Contains(t, out, "\x1b[32m✔\x1b[0m")
	assert.Contains(t, out, "\x1b[1m")

	// What a person sees at the end: every event on its own line, no
	// leftover status line.
	shown := screen(out, 120)
	for _, l := range shown {
		assert.NotContains(t, l, "⏳", "a status line was left on the screen:\n%s", strings.Join(shown, "\n"))
	}
	assert.Contains(t, shown, "   Approve? [y/N]: y")
}

func TestTerminalApprovalNo(t *testing.T) {
	svc := newService(t)
	dir := t.TempDir()
	rb := writeFile(t, dir, "tty.hcl", fmt.Sprintf(approveRunbook, svc.URL))
	p := startPTY(t, dir, 120, termEnv(), "apply", rb, "-state-dir", filepath.Join(dir, "state"))
	p.expect(t, "Approve? [y/N]: ")
	p.typeIn(t, "n\n")
	code, out := p.wait(t)
	require.Equal(t, 2, code, out)
	plain := ansiColor.ReplaceAllString(out, "")
	assert.Contains(t, plain, "go_no_go denied by ")
	assert.Contains(t, plain, "prepare compensated")
	assert.Contains(t, plain, "rolled back")
	assert.Equal(t, []string{"POST /prepare", "DELETE /prepare"}, svc.requests())
	assert.Contains(t, out, "\x1b[31m", "failure in red")
}

func TestTerminalNoColor(t *testing.T) {
	svc := newService(t)
	dir := t.TempDir()
	rb := writeFile(t, dir, "tty.hcl", fmt.Sprintf(approveRunbook, svc.URL))
	p := startPTY(t, dir, 120, termEnv("NO_COLOR=1"), "apply", rb, "-state-dir", filepath.Join(dir, "state"))
	p.expect(t, "Approve? [y/N]: ")
	p.typeIn(t, "y\n")
	code, out := p.wait(t)
	require.Equal(t, 0, code, out)
	assert.Empty(t, ansiColor.FindAllString(out, -1), "NO_COLOR: no colours")
	assert.Contains(t, out, "\r\x1b[K", "still a terminal: the live status line stays")
	assert.Contains(t, out, "⏳ go_no_go")
}

// TestTerminalStatusLineMoves: between events the status line is redrawn
// every second, so a long step's elapsed time moves.
func TestTerminalStatusLineMoves(t *testing.T) {
	svc := newService(t)
	dir := t.TempDir()
	rb := writeFile(t, dir, "slow.hcl", fmt.Sprintf(`runbook "slow" {
  window = "1h"
}

provider "http" "svc" {
  base_url = %q
}

step "http_check" "slow" {
  provider = http.svc
  url      = "/slow/health"
  budget   = "1m"
}
`, svc.URL))
	p := startPTY(t, dir, 100, termEnv(), "apply", rb, "-state-dir", filepath.Join(dir, "state"))
	code, out := p.wait(t)
	require.Equal(t, 0, code, out)
	plain := ansiColor.ReplaceAllString(out, "")
	var seen []string
	for _, m := range regexp.MustCompile(`[\r\n](?:\x1b\[K)?(⏳ slow [^\r\n]*)`).FindAllStringSubmatch(plain, -1) {
		seen = append(seen, m[1])
	}
	require.GreaterOrEqual(t, len(seen), 2, "the status line is redrawn while the step runs: %q", seen)
	assert.Equal(t, "⏳ slow 0s/1m0s", seen[0])
	// The step takes 2.2 s: the refresher shows 1s or 2s (which ones
	// depends on the load), without an event in between.
	assert.Regexp(t, `^⏳ slow [12]s/1m0s$`, seen[len(seen)-1])
	for _, l := range screen(out, 100) {
		assert.NotContains(t, l, "⏳")
	}
}

// TestPlainOutputWhenNotATerminal: in CI (CI=true, output to a pipe) and
// in any pipe, one plain line per event: no colours, no status line, no
// carriage returns.
func TestPlainOutputWhenNotATerminal(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"ci", termEnv("CI=true")},
		{"pipe", termEnv()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(t)
			dir := t.TempDir()
			rb := writeFile(t, dir, "tty.hcl", fmt.Sprintf(approveRunbook, svc.URL))
			cmd := exec.Command(bin, "apply", rb, "-auto-approve", "-state-dir", filepath.Join(dir, "state"))
			cmd.Dir, cmd.Env = dir, tc.env
			var so, se bytes.Buffer
			cmd.Stdout, cmd.Stderr = &so, &se
			require.NoError(t, cmd.Run(), se.String())
			out := se.String()
			assert.Empty(t, so.String(), "progress goes to stderr; this runbook has no outputs")
			assert.NotContains(t, out, "\x1b", "no escape sequences")
			assert.NotContains(t, out, "\r")
			assert.NotContains(t, out, "⏳")
			stamp := regexp.MustCompile(`^T\+\d+:\d\d:\d\d +\S`)
			var events []string
			for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if stamp.MatchString(l) {
					events = append(events, l)
				}
			}
			// One line per event: run, 3 nodes started, request and
			// decision, 3 nodes done, run finished.
			assert.Len(t, events, 10, out)
		})
	}
}

// TestTerminalCIModeInATerminal: CI=true in a terminal (CI systems that
// allocate one) keeps one line per event: no live status line.
func TestTerminalCIModeInATerminal(t *testing.T) {
	svc := newService(t)
	dir := t.TempDir()
	rb := writeFile(t, dir, "tty.hcl", fmt.Sprintf(approveRunbook, svc.URL))
	p := startPTY(t, dir, 120, termEnv("CI=true"), "apply", rb, "-auto-approve", "-state-dir", filepath.Join(dir, "state"))
	code, out := p.wait(t)
	require.Equal(t, 0, code, out)
	assert.NotContains(t, out, "⏳")
	assert.NotContains(t, out, "\x1b[K")
}

// TestTerminalSandboxSoak rehearses the release-2 runbook in a terminal
// narrower than its status lines: the soak gates show their countdown and
// latest sample, and the screen ends clean (a status line that wrapped
// would leave its first half behind).
func TestTerminalSandboxSoak(t *testing.T) {
	const cols = 80
	rb, err := filepath.Abs("../../examples/release-2/release-2.hcl")
	require.NoError(t, err)
	_, err = os.Stat(rb)
	require.NoError(t, err, "the release-2 example is part of the repository")
	dir := t.TempDir()
	p := startPTY(t, dir, cols, termEnv(), "apply", "--sandbox", rb, "--fail", "gate.soak[50]")
	code, out := p.wait(t)
	require.Equal(t, 2, code, out)
	plain := ansiColor.ReplaceAllString(out, "")
	assert.Regexp(t, `soak\[10\] \S+/15m0s \(\S+ left\)`, plain, "a soak's countdown")
	assert.Regexp(t, `soak\[10\][^│\r]* last (p95|error_rate|request_rate)=`, plain, "a soak's latest sample")
	shown := screen(out, cols)
	for i, l := range shown {
		assert.NotContains(t, l, "⏳", "line %d: a status line was left on the screen", i+1)
	}
	// Each status line fits the terminal: it never wraps.
	for _, seg := range strings.Split(plain, "\r\x1b[K") {
		status := seg[strings.LastIndex(seg, "\n")+1:]
		if !strings.HasPrefix(status, "⏳") {
			continue
		}
		w := 0
		for _, r := range status {
			w += runeWidth(r)
		}
		assert.Less(t, w, cols, "status line wider than the terminal: %q", status)
	}
	assert.Contains(t, plain, "rolled_back")
}

// TestTerminalCtrlC: Ctrl-C typed on the terminal while the approval waits
// for an answer stops the run and rolls back what it did.
func TestTerminalCtrlC(t *testing.T) {
	svc := newService(t)
	dir := t.TempDir()
	rb := writeFile(t, dir, "tty.hcl", fmt.Sprintf(approveRunbook, svc.URL))
	p := startPTY(t, dir, 120, termEnv(), "apply", rb, "-state-dir", filepath.Join(dir, "state"))
	p.expect(t, "Approve? [y/N]: ")
	p.typeIn(t, "\x03") // the terminal sends SIGINT to the foreground process group
	code, out := p.wait(t)
	require.Equal(t, 2, code, out)
	plain := ansiColor.ReplaceAllString(out, "")
	assert.Contains(t, plain, "Interrupted: stopping the run and rolling back")
	assert.Contains(t, plain, "prepare compensated")
	assert.Contains(t, plain, "rolled back")
	assert.Equal(t, []string{"POST /prepare", "DELETE /prepare"}, svc.requests())
	for _, l := range screen(out, 120) {
		assert.NotContains(t, l, "⏳")
	}
}
