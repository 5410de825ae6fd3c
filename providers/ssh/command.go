package ssh

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/handrail-dev/handrail/internal/lazyre"
)

// Command is one remote command: either Argv (the default, each argument
// quoted by the provider so that it arrives literally) or Script (a shell
// script, for deliberate shell syntax). Exactly one must be set.
type Command struct {
	// Argv is the program and its arguments.
	Argv []string
	// Script is run by /bin/sh -c on the host.
	Script string
	// Sudo runs the command through `sudo -n` (non-interactive: the user
	// needs passwordless sudo for it).
	Sudo bool
	// Env adds environment variables (names: letters, digits, underscore).
	Env map[string]string
	// Dir is the working directory.
	Dir string
	// Stdin feeds the command's standard input; nil means empty.
	Stdin io.Reader
}

// String renders the command for messages and fakes: the argv, quoted, or
// the script. It never includes Env values or Stdin.
func (c Command) String() string {
	var s string
	if len(c.Argv) > 0 {
		s = shellJoin(c.Argv)
	} else {
		s = c.Script
	}
	if c.Sudo {
		s = "sudo " + s
	}
	return s
}

var envName = lazyre.New(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validate reports a command that cannot be run.
func (c Command) validate() error {
	switch {
	case len(c.Argv) > 0 && c.Script != "":
		return fmt.Errorf("%w: give either command (argv) or script, not both", ErrInvalidCommand)
	case len(c.Argv) == 0 && strings.TrimSpace(c.Script) == "":
		return fmt.Errorf("%w: give command (argv, e.g. [\"systemctl\", \"reload\", \"nginx\"]) or script", ErrInvalidCommand)
	case len(c.Argv) > 0 && c.Argv[0] == "":
		return fmt.Errorf("%w: the program (command[0]) is empty", ErrInvalidCommand)
	}
	for k := range c.Env {
		if !envName.MatchString(k) {
			return fmt.Errorf("%w: environment variable name %q is not valid (letters, digits and _ only)", ErrInvalidCommand, k)
		}
	}
	return nil
}

// Quote returns s quoted for a POSIX shell: the shell reads it back as
// exactly s, whatever it contains (quotes, $(...), ;, newlines).
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// pidMarker starts the line the wrapper writes to stderr before anything
// else: the PID of the remote shell, which is also the process group of the
// command (sshd makes each session's process a session leader), so that a
// timeout can kill the whole group.
const pidMarker = "\x1ehandrail-pid="

// remote returns the string sent to sshd, which runs it with the user's
// shell: report the PID, change directory, then exec the command (through
// sudo when asked) so that it keeps that PID.
//
// Environment values never appear on a command line, where sudo would log
// them and ps would show them: when Env is set, the command runs under a
// small /bin/sh reader (see envReader) that takes the values from the
// session's standard input (see stdin) before exec'ing the program, which
// then reads the rest of the input. Only the variables' names are on the
// command line.
func (c Command) remote() string {
	var sb strings.Builder
	sb.WriteString(`printf '\036handrail-pid=%d\n' $$ >&2; `)
	if c.Dir != "" {
		sb.WriteString("cd -- " + Quote(c.Dir) + " || exit 1; ")
	}
	sb.WriteString("exec ")
	if c.Sudo {
		sb.WriteString("sudo -n -- ")
	}
	if len(c.Env) > 0 {
		sb.WriteString("/bin/sh -c " + Quote(envReader(c.envNames())) + " handrail-env ")
	} else if !c.Sudo && len(c.Argv) > 0 {
		// "exec -- x" is not portable; a program named like an option
		// still runs through env.
		if strings.HasPrefix(c.Argv[0], "-") {
			sb.WriteString("env ")
		}
	}
	if len(c.Argv) > 0 {
		sb.WriteString(shellJoin(c.Argv))
	} else {
		sb.WriteString("/bin/sh -c " + Quote(c.Script))
	}
	return sb.String()
}

// envNames returns the names of Env, sorted.
func (c Command) envNames() []string {
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// envExit is the status of a command whose environment did not arrive.
const envExit = 125

// envReader returns a /bin/sh script that reads one line per name from
// standard input, decodes it (printf %b: octal escapes) and exports it,
// then execs "$@". read, printf and export are shell built-ins: no value
// is ever in a process's arguments. read takes the input byte by byte on a
// pipe, so the command gets the rest of the input untouched.
func envReader(names []string) string {
	var sb strings.Builder
	for _, k := range names {
		fmt.Fprintf(&sb, "IFS= read -r %[1]s || { echo 'handrail: environment not received on standard input' >&2; exit %[2]d; }; "+
			"%[1]s=$(printf '%%bx' \"$%[1]s\"); %[1]s=${%[1]s%%x}; export %[1]s; ", k, envExit)
	}
	sb.WriteString(`case $1 in -*) exec env "$@";; esac; exec "$@"`)
	return sb.String()
}

// encodeEnvValue encodes v as one line for envReader: bytes other than
// letters, digits and a few punctuation marks become \0ooo octal escapes,
// which printf %b turns back into the byte.
func encodeEnvValue(v string) string {
	var sb strings.Builder
	for i := 0; i < len(v); i++ {
		b := v[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', strings.IndexByte("_.,:/@+=-", b) >= 0:
			sb.WriteByte(b)
		default:
			fmt.Fprintf(&sb, "\\0%03o", b)
		}
	}
	return sb.String()
}

// stdin returns what the session's standard input carries: the encoded
// environment values (one line each, in envNames order), then Stdin.
func (c Command) stdin() io.Reader {
	if len(c.Env) == 0 {
		return c.Stdin
	}
	var sb strings.Builder
	for _, k := range c.envNames() {
		sb.WriteString(encodeEnvValue(c.Env[k]) + "\n")
	}
	if c.Stdin == nil {
		return strings.NewReader(sb.String())
	}
	return io.MultiReader(strings.NewReader(sb.String()), c.Stdin)
}

// killScript returns a script that ends process group pid: TERM, then KILL
// after two seconds if anything but zombies is left (where PID 1 does not
// reap orphans, as in many containers, a zombie would keep `kill -0` true).
func killScript(pid int) string {
	p := strconv.Itoa(pid)
	// No "--": dash's kill does not accept it.
	return "alive() { if command -v ps >/dev/null 2>&1; then ps -eo pgid=,stat= | awk -v g=" + p +
		" '$1==g && $2 !~ /^Z/ {f=1} END {exit !f}'; else kill -0 -" + p + " 2>/dev/null; fi; }; " +
		"kill -TERM -" + p + " 2>/dev/null; n=0; while alive; do " +
		"if [ $n -ge 20 ]; then kill -KILL -" + p + " 2>/dev/null; break; fi; sleep 0.1; n=$((n+1)); done; true"
}

// pidFilter passes stderr through, minus the wrapper's PID line, which it
// records.
type pidFilter struct {
	w    io.Writer
	mu   sync.Mutex
	buf  []byte
	done bool
	pid  int
	got  chan struct{}
}

func newPIDFilter(w io.Writer) *pidFilter {
	if w == nil {
		w = io.Discard
	}
	return &pidFilter{w: w, got: make(chan struct{})}
}

func (f *pidFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return f.w.Write(p)
	}
	f.buf = append(f.buf, p...)
	for !f.done {
		i := bytes.IndexByte(f.buf, '\n')
		if i < 0 {
			if len(f.buf) > 4096 { // no marker coming: give up filtering
				f.finish()
				_, err := f.w.Write(f.buf)
				f.buf = nil
				return len(p), err
			}
			return len(p), nil
		}
		line := f.buf[:i]
		rest := f.buf[i+1:]
		if m, ok := bytes.CutPrefix(line, []byte(pidMarker)); ok {
			f.pid, _ = strconv.Atoi(string(m))
			f.finish()
			_, err := f.w.Write(rest)
			f.buf = nil
			return len(p), err
		}
		if _, err := f.w.Write(f.buf[:i+1]); err != nil {
			return len(p), err
		}
		f.buf = append(f.buf[:0], rest...)
	}
	return len(p), nil
}

func (f *pidFilter) finish() {
	if !f.done {
		f.done = true
		close(f.got)
	}
}

// flush writes anything held back (the command ended before the marker).
func (f *pidFilter) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.buf) > 0 {
		_, _ = f.w.Write(f.buf)
		f.buf = nil
	}
	f.finish()
}

// PID returns the remote PID, 0 when not known.
func (f *pidFilter) PID() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pid
}
