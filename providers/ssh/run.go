package ssh

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"golang.org/x/crypto/ssh"
)

// Client is what the actions need from a configured provider: run a
// command on a host and read or write a file there. host "" is the
// instance's own host. [Instance] implements it over SSH; package sshfake
// in memory.
type Client interface {
	provider.Instance
	// Run runs cmd on host. A non-zero exit is returned as exit with a nil
	// error; err reports failing to run, a lost connection
	// ([ErrConnectionLost]) or ctx ending (the remote command is then
	// killed).
	Run(ctx context.Context, host string, cmd Command, stdout, stderr io.Writer) (exit int, err error)
	// ReadFile returns a file; its Exists is false (and err nil) when
	// there is no such file.
	ReadFile(ctx context.Context, host, path string, sudo bool) (File, error)
	// WriteFile writes a whole file: mode (0 keeps the current mode, or
	// 0644 for a new file) and owner ("user" or "user:group", "" for
	// unchanged) are applied after writing.
	WriteFile(ctx context.Context, host string, f File) error
	// RemoveFile removes a file; a missing file is not an error.
	RemoveFile(ctx context.Context, host, path string, sudo bool) error
}

// File is a file read with [Client.ReadFile] or to write with
// [Client.WriteFile].
type File struct {
	Path    string
	Content []byte
	Mode    fs.FileMode
	// Owner is "user:group" when read; "user" or "user:group" to write.
	Owner string
	// Sudo reads or writes through sudo.
	Sudo bool
	// Exists is set by ReadFile.
	Exists bool
}

// Run implements [Client] over SSH: a new session on the host's shared
// connection. When ctx ends, the remote process group is sent TERM, then
// KILL, and the session is closed.
func (in *Instance) Run(ctx context.Context, host string, cmd Command, stdout, stderr io.Writer) (int, error) {
	if err := cmd.validate(); err != nil {
		return -1, err
	}
	c, err := in.conn(host)
	if err != nil {
		return -1, err
	}
	cl, s, err := c.session(ctx)
	if err != nil {
		return -1, err
	}
	defer s.Close()
	if stdout == nil {
		stdout = io.Discard
	}
	pf := newPIDFilter(stderr)
	s.Stdout = stdout
	s.Stderr = pf
	if in := cmd.stdin(); in != nil {
		s.Stdin = in
	}
	started := make(chan error, 1)
	go func() { started <- s.Start(cmd.remote()) }()
	select {
	case err := <-started:
		if err != nil {
			return -1, fmt.Errorf("%w: %s: start: %w", ErrConnect, c.label, err)
		}
	case <-ctx.Done():
		// No answer to the exec request: the connection is not trusted
		// any more; closing it ends the session.
		c.drop(cl)
		return -1, fmt.Errorf("%s: %s: no answer starting the command: %w", c.label, cmd.String(), context.Cause(ctx))
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		in.kill(c, cl, s, pf, cmd.Sudo, done)
		pf.flush()
		return -1, fmt.Errorf("%s: %s: stopped and killed the remote command: %w", c.label, cmd.String(), context.Cause(ctx))
	}
	pf.flush()
	if err == nil {
		return 0, nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		if sig := ee.Signal(); sig != "" {
			return 128 + signalNumber(sig), nil
		}
		return ee.ExitStatus(), nil
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) || errors.Is(err, io.EOF) {
		c.drop(cl)
		return -1, fmt.Errorf("%w: %s: %s", ErrConnectionLost, c.label, cmd.String())
	}
	return -1, fmt.Errorf("%s: %s: %w", c.label, cmd.String(), err)
}

// kill ends a remote command whose context ended: TERM then KILL to its
// process group through a second session, then closes its session.
func (in *Instance) kill(c *hostConn, cl *ssh.Client, s *ssh.Session, pf *pidFilter, sudo bool, done <-chan error) {
	select {
	case <-pf.got:
	case <-done:
		return
	case <-time.After(killGrace):
	}
	if pid := pf.PID(); pid > 1 {
		ctx, cancel := context.WithTimeout(context.Background(), killGrace)
		defer cancel()
		ks, err := newSession(ctx, cl)
		if err != nil {
			// The connection does not answer: close it, which ends the
			// session on the server's side too.
			c.drop(cl)
		} else {
			script := killScript(pid)
			if sudo {
				script = "sudo -n /bin/sh -c " + Quote(script)
			}
			stop := context.AfterFunc(ctx, func() { _ = ks.Close() })
			_ = ks.Run(script)
			stop()
			_ = ks.Close()
		}
	} else {
		_ = s.Signal(ssh.SIGKILL)
	}
	_ = s.Close()
	select {
	case <-done:
	case <-time.After(killGrace):
		c.drop(cl)
	}
}

func signalNumber(sig string) int {
	switch sig {
	case "HUP":
		return 1
	case "INT":
		return 2
	case "QUIT":
		return 3
	case "ABRT":
		return 6
	case "KILL":
		return 9
	case "USR1":
		return 10
	case "SEGV":
		return 11
	case "USR2":
		return 12
	case "PIPE":
		return 13
	case "ALRM":
		return 14
	case "TERM":
		return 15
	}
	return 0
}

// RunCommand implements provider.CommandRunner on the instance's host.
func (in *Instance) RunCommand(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return in.Run(ctx, "", Command{Argv: argv, Stdin: stdin}, stdout, stderr)
}

// DialContext implements provider.Dialer: it opens a connection from the
// instance's host, "tcp" to host:port or "unix" to a socket path (the
// Docker provider reaches /var/run/docker.sock this way).
func (in *Instance) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := in.conn("")
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		cl, err := c.get(ctx)
		if err != nil {
			return nil, err
		}
		var nc net.Conn
		switch network {
		case "unix":
			nc, err = dialUnix(ctx, cl, addr)
		case "tcp", "tcp4", "tcp6":
			nc, err = cl.DialContext(ctx, network, addr)
		default:
			return nil, fmt.Errorf("%w: %s: cannot dial network %q through SSH (tcp or unix)", ErrInvalidConfig, in.name, network)
		}
		if err == nil {
			return nc, nil
		}
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) || ctx.Err() != nil || try >= 1 {
			return nil, fmt.Errorf("%s: dial %s %s through %s: %w", in.name, network, addr, c.label, err)
		}
		c.drop(cl)
	}
}

func dialUnix(ctx context.Context, cl *ssh.Client, path string) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := cl.Dial("unix", path); ch <- res{c, err} }()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				_ = r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// ReadFile implements [Client]: mode and owner from `stat`, the content
// base64-encoded over the session.
func (in *Instance) ReadFile(ctx context.Context, host, path string, sudo bool) (File, error) {
	f := File{Path: path, Sudo: sudo}
	if path == "" {
		return f, fmt.Errorf("%w: empty path", ErrInvalidCommand)
	}
	q := Quote(path)
	script := "if [ ! -e " + q + " ]; then echo absent; exit 0; fi; stat -c '%a %U:%G' -- " + q + " && base64 -w0 < " + q
	var out, errb bytes.Buffer
	exit, err := in.Run(ctx, host, Command{Script: script, Sudo: sudo}, &out, &errb)
	if err != nil {
		return f, err
	}
	where := displayHost(host, in.cfg.Host)
	if exit != 0 {
		return f, fmt.Errorf("%s: read %s: exit status %d: %s", where, path, exit, strings.TrimSpace(errb.String()))
	}
	first, rest, _ := strings.Cut(out.String(), "\n")
	if first == "absent" {
		return f, nil
	}
	ms, owner, _ := strings.Cut(strings.TrimSpace(first), " ")
	m, err := strconv.ParseUint(ms, 8, 32)
	if err != nil {
		return f, fmt.Errorf("%s: read %s: unexpected stat output %q", where, path, first)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return f, fmt.Errorf("%s: read %s: %w", where, path, err)
	}
	f.Content, f.Mode, f.Owner, f.Exists = b, fs.FileMode(m), owner, true
	return f, nil
}

// WriteFile implements [Client]: the content is streamed to `cat > path`
// (through a temporary file renamed into place), then chmod and chown.
func (in *Instance) WriteFile(ctx context.Context, host string, f File) error {
	if f.Path == "" {
		return fmt.Errorf("%w: empty path", ErrInvalidCommand)
	}
	q := Quote(f.Path)
	tmp := Quote(f.Path + ".handrail-tmp")
	var sb strings.Builder
	sb.WriteString("set -e; umask 077; cat > " + tmp + "; ")
	switch {
	case f.Mode != 0:
		sb.WriteString(fmt.Sprintf("chmod %o %s; ", f.Mode.Perm(), tmp))
	default:
		sb.WriteString("if [ -e " + q + " ]; then chmod \"$(stat -c %a -- " + q + ")\" " + tmp + "; else chmod 644 " + tmp + "; fi; ")
	}
	if f.Owner != "" {
		sb.WriteString("chown -- " + Quote(f.Owner) + " " + tmp + "; ")
	} else {
		sb.WriteString("if [ -e " + q + " ]; then chown \"$(stat -c %u:%g -- " + q + ")\" " + tmp + " 2>/dev/null || true; fi; ")
	}
	sb.WriteString("mv -f -- " + tmp + " " + q)
	var errb bytes.Buffer
	exit, err := in.Run(ctx, host, Command{Script: sb.String(), Sudo: f.Sudo, Stdin: bytes.NewReader(f.Content)}, nil, &errb)
	if err != nil {
		return err
	}
	if exit != 0 {
		return fmt.Errorf("%s: write %s: exit status %d: %s", displayHost(host, in.cfg.Host), f.Path, exit, strings.TrimSpace(errb.String()))
	}
	return nil
}

// RemoveFile implements [Client].
func (in *Instance) RemoveFile(ctx context.Context, host, path string, sudo bool) error {
	var errb bytes.Buffer
	exit, err := in.Run(ctx, host, Command{Argv: []string{"rm", "-f", "--", path}, Sudo: sudo}, nil, &errb)
	if err != nil {
		return err
	}
	if exit != 0 {
		return fmt.Errorf("%s: remove %s: exit status %d: %s", displayHost(host, in.cfg.Host), path, exit, strings.TrimSpace(errb.String()))
	}
	return nil
}
