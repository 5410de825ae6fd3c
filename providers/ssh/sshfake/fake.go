// Package sshfake is an in-memory stand-in for Handrail's SSH provider: a
// [World] of hosts with files, where commands are logged, answered by
// scripted replies or by a few built-in commands (ln, rm, test, cat,
// touch, mkdir, mv, cp, echo, true, false), and hosts can be taken down.
// Runbook tests and the sandbox configure it instead of the real provider
// and then assert on the world ("the maintenance symlink exists", "the
// backup script ran on db-1").
package sshfake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/zclconf/go-cty/cty"
)

// World is a set of fake hosts. The zero value is not usable: call [New].
// It is safe for concurrent use.
type World struct {
	mu      sync.Mutex
	hosts   map[string]*Host
	replies []*Reply
	calls   []Call
	// strict: unknown commands exit 127.
	strict bool
	faults fault.Injector
}

// Calls of the fake that faults can be armed on with [World.Inject],
// besides commands, which are named by their program ("deploy", or "sh"
// for a script).
const (
	CallWriteFile  = "WriteFile"
	CallRemoveFile = "RemoveFile"
)

// Inject arms f on the next calls named call (CallWriteFile, or a
// program's name): fail before the effect, apply it and lose the answer,
// or take time on f.Clock after it.
func (w *World) Inject(call string, f fault.Fault) { w.faults.Arm(call, f) }

// Faults returns the world's injector, to clear faults or count calls.
func (w *World) Faults() *fault.Injector { return &w.faults }

// New returns an empty world. Hosts are created on first use.
func New() *World { return &World{hosts: map[string]*Host{}} }

// Strict makes commands that are neither scripted nor built in fail with
// status 127 ("command not found") instead of succeeding silently.
func (w *World) Strict() *World {
	w.mu.Lock()
	w.strict = true
	w.mu.Unlock()
	return w
}

// Host is one fake host: its files and whether it is reachable.
type Host struct {
	w     *World
	name  string
	files map[string]*File
	down  bool
}

// File is a file, directory or symbolic link on a fake host.
type File struct {
	Content []byte
	Mode    fs.FileMode
	Owner   string
	// Link is the target of a symbolic link.
	Link string
	Dir  bool
}

// Call is one logged operation.
type Call struct {
	Host string
	// Command is the argv, quoted and joined, or the script ("sudo "
	// first when run through sudo); file operations log as "read PATH",
	// "write PATH", "remove PATH".
	Command string
	Argv    []string
	Script  string
	Sudo    bool
	Env     map[string]string
	Dir     string
	Stdin   string
	Exit    int
	// Err is set when the command could not run (host down, scripted
	// error, cancelled).
	Err error
}

// Host returns the host named name, creating it.
func (w *World) Host(name string) *Host {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.host(name)
}

func (w *World) host(name string) *Host {
	name = normalize(name)
	h := w.hosts[name]
	if h == nil {
		h = &Host{w: w, name: name, files: map[string]*File{}}
		w.hosts[name] = h
	}
	return h
}

// normalize strips user@ and :port from a host entry.
func normalize(h string) string {
	if _, rest, ok := strings.Cut(h, "@"); ok {
		h = rest
	}
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// Hosts returns the names of the hosts, sorted.
func (w *World) Hosts() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.hosts))
	for n := range w.hosts {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Down makes the host unreachable (true) or reachable again (false):
// commands fail with ssh.ErrConnect.
func (w *World) Down(host string, down bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.host(host).down = down
}

// WriteFile puts a file on the host.
func (h *Host) WriteFile(p, content string) *Host {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	h.files[path.Clean(p)] = &File{Content: []byte(content), Mode: 0o644}
	return h
}

// Symlink puts a symbolic link at p pointing to target.
func (h *Host) Symlink(target, p string) *Host {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	h.files[path.Clean(p)] = &File{Link: target, Mode: 0o777}
	return h
}

// File returns a copy of the file at p.
func (h *Host) File(p string) (File, bool) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	f, ok := h.files[path.Clean(p)]
	if !ok {
		return File{}, false
	}
	c := *f
	c.Content = bytes.Clone(f.Content)
	return c, true
}

// Exists reports whether anything is at p.
func (h *Host) Exists(p string) bool { _, ok := h.File(p); return ok }

// Content returns the content of the file at p ("" when absent).
func (h *Host) Content(p string) string { f, _ := h.File(p); return string(f.Content) }

// LinkTarget returns the target of the symbolic link at p.
func (h *Host) LinkTarget(p string) (string, bool) {
	f, ok := h.File(p)
	if !ok || f.Link == "" {
		return "", false
	}
	return f.Link, true
}

// Paths returns every path on the host, sorted.
func (h *Host) Paths() []string {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	out := make([]string, 0, len(h.files))
	for p := range h.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Reply scripts the answer to commands matching a pattern. Build it with
// [World.On] or [World.OnScript], then set its fields with the chained
// methods.
type Reply struct {
	host    string
	argv    []string
	script  string
	stdout  string
	stderr  string
	exit    int
	err     error
	hang    bool
	times   int
	do      func(h *Host, c Call)
	matched int
}

// On scripts commands in argv form on host ("" or "*": any host) whose
// argv matches pattern element by element, each element a path.Match glob;
// a last element "..." matches any remaining arguments. Later replies win
// over earlier ones.
func (w *World) On(host string, pattern ...string) *Reply {
	r := &Reply{host: host, argv: pattern}
	w.mu.Lock()
	w.replies = append(w.replies, r)
	w.mu.Unlock()
	return r
}

// OnScript scripts commands in script form on host whose script contains
// substr.
func (w *World) OnScript(host, substr string) *Reply {
	r := &Reply{host: host, script: substr}
	w.mu.Lock()
	w.replies = append(w.replies, r)
	w.mu.Unlock()
	return r
}

// Stdout sets the standard output.
func (r *Reply) Stdout(s string) *Reply { r.stdout = s; return r }

// Stderr sets the standard error.
func (r *Reply) Stderr(s string) *Reply { r.stderr = s; return r }

// Exit sets the exit status.
func (r *Reply) Exit(code int) *Reply { r.exit = code; return r }

// Fail makes the command fail to run at all (a connection error).
func (r *Reply) Fail(err error) *Reply { r.err = err; return r }

// Hang makes the command run until its context ends (to test timeouts).
func (r *Reply) Hang() *Reply { r.hang = true; return r }

// Times limits the reply to the first n matching commands.
func (r *Reply) Times(n int) *Reply { r.times = n; return r }

// Do runs f on the host when the command runs, to change its files.
func (r *Reply) Do(f func(h *Host, c Call)) *Reply { r.do = f; return r }

func (r *Reply) matches(host string, c Call) bool {
	if r.host != "" && r.host != "*" && normalize(r.host) != host {
		return false
	}
	if r.times > 0 && r.matched >= r.times {
		return false
	}
	if r.script != "" || r.argv == nil {
		return c.Script != "" && strings.Contains(c.Script, r.script)
	}
	if c.Argv == nil {
		return false
	}
	for i, p := range r.argv {
		if p == "..." && i == len(r.argv)-1 {
			return true
		}
		if i >= len(c.Argv) {
			return false
		}
		if ok, _ := path.Match(p, c.Argv[i]); !ok && p != c.Argv[i] {
			return false
		}
	}
	return len(c.Argv) == len(r.argv)
}

// Calls returns every logged operation, in order.
func (w *World) Calls() []Call {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Call(nil), w.calls...)
}

// Commands returns the commands run on host, in order, as Call.Command.
func (w *World) Commands(host string) []string {
	host = normalize(host)
	var out []string
	for _, c := range w.Calls() {
		if c.Host == host {
			out = append(out, c.Command)
		}
	}
	return out
}

// Provider returns an "ssh" provider whose instances act on this world.
// Its schema and actions are those of the real provider.
func (w *World) Provider() provider.Provider { return fakeProvider{w: w} }

type fakeProvider struct{ w *World }

func (fakeProvider) Type() string                            { return "ssh" }
func (fakeProvider) ConfigSchema() provider.Schema           { return ssh.ConfigSchema() }
func (fakeProvider) Actions() map[string]provider.ActionType { return ssh.Actions() }

func (p fakeProvider) Configure(_ context.Context, name string, config cty.Value) (provider.Instance, error) {
	cfg, err := ssh.DecodeConfig(name, config)
	if err != nil {
		return nil, err
	}
	if cfg.Host == "" {
		return nil, fmt.Errorf("%w: ssh.%s: host is required", ssh.ErrInvalidConfig, name)
	}
	return p.w.Instance(name, cfg.Host), nil
}

// Instance returns an instance named "ssh.<name>" whose own host is host.
func (w *World) Instance(name, host string) *Instance {
	w.Host(host)
	return &Instance{w: w, name: "ssh." + name, host: host}
}

// Instance is a configured fake provider. It implements ssh.Client and
// provider.CommandRunner.
type Instance struct {
	w    *World
	name string
	host string
}

var (
	_ ssh.Client             = (*Instance)(nil)
	_ provider.CommandRunner = (*Instance)(nil)
	_ io.Closer              = (*Instance)(nil)
)

// Name returns "ssh.<name>".
func (in *Instance) Name() string { return in.name }

// Close does nothing.
func (in *Instance) Close() error { return nil }

func (in *Instance) target(host string) string {
	if host == "" {
		host = in.host
	}
	return normalize(host)
}

// RunCommand implements provider.CommandRunner.
func (in *Instance) RunCommand(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return in.Run(ctx, "", ssh.Command{Argv: argv, Stdin: stdin}, stdout, stderr)
}

// Run implements ssh.Client.
//
// The command runs through the world's fault injector under the name of
// its program ("deploy" for /usr/local/bin/deploy, "sh" for a script).
func (in *Instance) Run(ctx context.Context, host string, cmd ssh.Command, stdout, stderr io.Writer) (int, error) {
	call := "sh"
	if len(cmd.Argv) > 0 {
		call = path.Base(cmd.Argv[0])
	}
	var exit int
	err := in.w.faults.Do(ctx, call, func() error {
		var err error
		exit, err = in.run(ctx, host, cmd, stdout, stderr)
		return err
	})
	if err != nil && exit == 0 {
		exit = -1
	}
	return exit, err
}

func (in *Instance) run(ctx context.Context, host string, cmd ssh.Command, stdout, stderr io.Writer) (int, error) {
	if len(cmd.Argv) > 0 == (cmd.Script != "") {
		return -1, fmt.Errorf("%w: give either argv or script", ssh.ErrInvalidCommand)
	}
	name := in.target(host)
	c := Call{Host: name, Command: cmd.String(), Argv: cmd.Argv, Script: cmd.Script, Sudo: cmd.Sudo, Env: cmd.Env, Dir: cmd.Dir}
	if cmd.Stdin != nil {
		b, err := io.ReadAll(cmd.Stdin)
		if err != nil {
			return -1, err
		}
		c.Stdin = string(b)
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	w := in.w
	w.mu.Lock()
	h := w.host(name)
	if h.down {
		w.mu.Unlock()
		c.Err = fmt.Errorf("%w: %s: host is down (sshfake)", ssh.ErrConnect, name)
		w.log(c)
		return -1, c.Err
	}
	var r *Reply
	for i := len(w.replies) - 1; i >= 0; i-- {
		if w.replies[i].matches(name, c) {
			r = w.replies[i]
			r.matched++
			break
		}
	}
	w.mu.Unlock()
	if r != nil {
		if r.hang {
			<-ctx.Done()
			c.Err, c.Exit = ctx.Err(), -1
			w.log(c)
			return -1, fmt.Errorf("%s: %s: stopped and killed the remote command: %w", name, c.Command, context.Cause(ctx))
		}
		if r.err != nil {
			c.Err, c.Exit = r.err, -1
			w.log(c)
			return -1, r.err
		}
		if r.do != nil {
			r.do(h, c)
		}
		_, _ = io.WriteString(stdout, r.stdout)
		_, _ = io.WriteString(stderr, r.stderr)
		c.Exit = r.exit
		w.log(c)
		return r.exit, nil
	}
	if err := ctx.Err(); err != nil {
		c.Err = err
		w.log(c)
		return -1, err
	}
	exit := 0
	if cmd.Argv != nil {
		w.mu.Lock()
		exit = h.builtin(cmd.Argv, c.Stdin, stdout, stderr, w.strict)
		w.mu.Unlock()
	}
	c.Exit = exit
	w.log(c)
	return exit, nil
}

func (w *World) log(c Call) {
	w.mu.Lock()
	w.calls = append(w.calls, c)
	w.mu.Unlock()
}

// builtin runs a few file commands against the host's files; h.w.mu is
// held.
func (h *Host) builtin(argv []string, stdin string, stdout, stderr io.Writer, strict bool) int {
	prog := path.Base(argv[0])
	flags, args := splitFlags(argv[1:])
	switch prog {
	case "true", "systemctl", "nginx":
		return 0
	case "false":
		return 1
	case "echo":
		fmt.Fprintln(stdout, strings.Join(argv[1:], " "))
		return 0
	case "cat":
		if len(args) == 0 {
			_, _ = io.WriteString(stdout, stdin)
			return 0
		}
		for _, a := range args {
			f := h.resolve(a)
			if f == nil || f.Dir {
				fmt.Fprintf(stderr, "cat: %s: No such file or directory\n", a)
				return 1
			}
			_, _ = stdout.Write(f.Content)
		}
		return 0
	case "test", "[":
		if len(argv) != 3 {
			return 2
		}
		p := path.Clean(argv[2])
		f, ok := h.files[p]
		switch argv[1] {
		case "-e":
			ok = ok && (f.Link == "" || h.resolve(p) != nil)
		case "-L", "-h":
			ok = ok && f.Link != ""
		case "-f":
			rf := h.resolve(p)
			ok = rf != nil && !rf.Dir
		case "-d":
			rf := h.resolve(p)
			ok = rf != nil && rf.Dir
		default:
			return 2
		}
		if ok {
			return 0
		}
		return 1
	case "ln":
		if !strings.Contains(flags, "s") || len(args) != 2 {
			fmt.Fprintln(stderr, "ln: sshfake supports ln -s[f] TARGET LINK")
			return 1
		}
		dst := args[1]
		if strings.HasSuffix(dst, "/") || (h.files[path.Clean(dst)] != nil && h.files[path.Clean(dst)].Dir) {
			dst = path.Join(dst, path.Base(args[0]))
		}
		dst = path.Clean(dst)
		if _, exists := h.files[dst]; exists && !strings.Contains(flags, "f") {
			fmt.Fprintf(stderr, "ln: failed to create symbolic link '%s': File exists\n", dst)
			return 1
		}
		h.files[dst] = &File{Link: args[0], Mode: 0o777}
		return 0
	case "rm", "unlink":
		code := 0
		for _, a := range args {
			p := path.Clean(a)
			if _, ok := h.files[p]; !ok {
				if !strings.Contains(flags, "f") {
					fmt.Fprintf(stderr, "rm: cannot remove '%s': No such file or directory\n", a)
					code = 1
				}
				continue
			}
			delete(h.files, p)
			if strings.Contains(flags, "r") {
				for q := range h.files {
					if strings.HasPrefix(q, p+"/") {
						delete(h.files, q)
					}
				}
			}
		}
		return code
	case "touch":
		for _, a := range args {
			if _, ok := h.files[path.Clean(a)]; !ok {
				h.files[path.Clean(a)] = &File{Mode: 0o644}
			}
		}
		return 0
	case "mkdir":
		for _, a := range args {
			h.files[path.Clean(a)] = &File{Dir: true, Mode: 0o755}
		}
		return 0
	case "mv", "cp":
		if len(args) != 2 {
			return 1
		}
		src, dst := path.Clean(args[0]), path.Clean(args[1])
		f, ok := h.files[src]
		if !ok {
			fmt.Fprintf(stderr, "%s: cannot stat '%s': No such file or directory\n", prog, args[0])
			return 1
		}
		c := *f
		c.Content = bytes.Clone(f.Content)
		h.files[dst] = &c
		if prog == "mv" {
			delete(h.files, src)
		}
		return 0
	}
	if strict {
		fmt.Fprintf(stderr, "sh: 1: %s: not found\n", argv[0])
		return 127
	}
	return 0
}

// resolve follows symbolic links (at most 8).
func (h *Host) resolve(p string) *File {
	p = path.Clean(p)
	for i := 0; i < 8; i++ {
		f, ok := h.files[p]
		if !ok {
			return nil
		}
		if f.Link == "" {
			return f
		}
		t := f.Link
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(p), t)
		}
		p = path.Clean(t)
	}
	return nil
}

func splitFlags(args []string) (flags string, rest []string) {
	for i, a := range args {
		if a == "--" {
			return flags, append(rest, args[i+1:]...)
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags += a[1:]
			continue
		}
		rest = append(rest, a)
	}
	return flags, rest
}

// ReadFile implements ssh.Client.
func (in *Instance) ReadFile(_ context.Context, host, p string, sudo bool) (ssh.File, error) {
	name := in.target(host)
	w := in.w
	w.mu.Lock()
	h := w.host(name)
	down := h.down
	var f *File
	if !down {
		f = h.resolve(p)
	}
	w.mu.Unlock()
	c := Call{Host: name, Command: "read " + p, Sudo: sudo}
	out := ssh.File{Path: p, Sudo: sudo}
	if down {
		c.Err = fmt.Errorf("%w: %s: host is down (sshfake)", ssh.ErrConnect, name)
		w.log(c)
		return out, c.Err
	}
	w.log(c)
	if f == nil {
		return out, nil
	}
	out.Content, out.Mode, out.Owner, out.Exists = bytes.Clone(f.Content), f.Mode, f.Owner, true
	return out, nil
}

// WriteFile implements ssh.Client.
// It runs through the world's fault injector as call "WriteFile".
func (in *Instance) WriteFile(ctx context.Context, host string, f ssh.File) error {
	return in.w.faults.Do(ctx, CallWriteFile, func() error { return in.writeFile(host, f) })
}

func (in *Instance) writeFile(host string, f ssh.File) error {
	name := in.target(host)
	w := in.w
	c := Call{Host: name, Command: "write " + f.Path, Sudo: f.Sudo, Stdin: string(f.Content)}
	w.mu.Lock()
	h := w.host(name)
	if h.down {
		w.mu.Unlock()
		c.Err = fmt.Errorf("%w: %s: host is down (sshfake)", ssh.ErrConnect, name)
		w.log(c)
		return c.Err
	}
	p := path.Clean(f.Path)
	mode := f.Mode
	owner := f.Owner
	if old, ok := h.files[p]; ok {
		if mode == 0 {
			mode = old.Mode
		}
		if owner == "" {
			owner = old.Owner
		}
	}
	if mode == 0 {
		mode = 0o644
	}
	h.files[p] = &File{Content: bytes.Clone(f.Content), Mode: mode, Owner: owner}
	w.mu.Unlock()
	w.log(c)
	return nil
}

// RemoveFile implements ssh.Client.
// It runs through the world's fault injector as call "RemoveFile".
func (in *Instance) RemoveFile(ctx context.Context, host, p string, sudo bool) error {
	return in.w.faults.Do(ctx, CallRemoveFile, func() error { return in.removeFile(host, p, sudo) })
}

func (in *Instance) removeFile(host, p string, sudo bool) error {
	name := in.target(host)
	w := in.w
	c := Call{Host: name, Command: "remove " + p, Sudo: sudo}
	w.mu.Lock()
	h := w.host(name)
	if h.down {
		w.mu.Unlock()
		c.Err = fmt.Errorf("%w: %s: host is down (sshfake)", ssh.ErrConnect, name)
		w.log(c)
		return c.Err
	}
	delete(h.files, path.Clean(p))
	w.mu.Unlock()
	w.log(c)
	return nil
}
