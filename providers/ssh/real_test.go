package ssh_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/testenv"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xssh "golang.org/x/crypto/ssh"
)

// realInstance returns an instance on the test sshd.
func realInstance(t *testing.T, mod func(*ssh.Config)) (*ssh.Instance, testenv.SSHTarget) {
	t.Helper()
	tgt := testenv.SSH(t)
	host, port, err := net.SplitHostPort(tgt.Addr)
	require.NoError(t, err)
	p, _ := strconv.Atoi(port)
	cfg := ssh.Config{Host: host, Port: p, User: tgt.User, PrivateKeyFiles: []string{tgt.KeyPath}, KnownHostsFiles: []string{tgt.KnownHostsPath}}
	if mod != nil {
		mod(&cfg)
	}
	in, err := ssh.New("test", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.Close() })
	return in, tgt
}

func run(t *testing.T, in ssh.Client, host string, cmd ssh.Command) (int, string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, err := in.Run(ctx, host, cmd, &out, &errb)
	return code, out.String(), errb.String(), err
}

func TestRealExecAndExitCodes(t *testing.T) {
	in, tgt := realInstance(t, nil)
	code, out, _, err := run(t, in, "", ssh.Command{Argv: []string{"id", "-un"}})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, tgt.User+"\n", out)

	code, _, stderr, err := run(t, in, "", ssh.Command{Script: "echo oops >&2; exit 3"})
	require.NoError(t, err)
	assert.Equal(t, 3, code)
	assert.Equal(t, "oops\n", stderr, "the PID marker must not leak into stderr")

	code, out, _, err = run(t, in, "", ssh.Command{Argv: []string{"sh", "-c", `echo "$A|$B|$PWD"`}, Env: map[string]string{"A": "x y", "B": "$(z)"}, Dir: "/tmp"})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "x y|$(z)|/tmp\n", out)

	code, out, _, err = run(t, in, "", ssh.Command{Argv: []string{"cat"}, Stdin: strings.NewReader("from stdin\n")})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "from stdin\n", out)

	code, out, _, err = run(t, in, "", ssh.Command{Argv: []string{"id", "-u"}, Sudo: true})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "0\n", out)

	// provider.CommandRunner.
	var buf bytes.Buffer
	code, err = in.RunCommand(context.Background(), []string{"echo", "runner"}, nil, &buf, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "runner\n", buf.String())
}

func TestRealHostileArgumentsArriveLiterally(t *testing.T) {
	in, _ := realInstance(t, nil)
	dir := "/tmp/handrail-ssh-hostile-" + strconv.Itoa(os.Getpid())
	canary := dir + "/canary"
	_, _, _, err := run(t, in, "", ssh.Command{Argv: []string{"mkdir", "-p", dir}})
	require.NoError(t, err)
	_, _, _, err = run(t, in, "", ssh.Command{Argv: []string{"touch", canary}})
	require.NoError(t, err)
	t.Cleanup(func() { _, _, _, _ = run(t, in, "", ssh.Command{Argv: []string{"rm", "-rf", dir}}) })
	hostile := []string{
		"; rm -rf " + canary,
		"$(rm -rf " + canary + ")",
		"`rm -rf " + canary + "`",
		`it's "quoted" \ back\slash`,
		"new\nline; rm -rf " + canary,
		"&& rm -rf " + canary + " ||",
		"$HOME ${PATH} *",
		"",
		"-n",
	}
	code, out, _, err := run(t, in, "", ssh.Command{Argv: append([]string{"printf", "%s\\0"}, hostile...)})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, hostile, strings.Split(strings.TrimSuffix(out, "\x00"), "\x00"))
	code, _, _, err = run(t, in, "", ssh.Command{Argv: []string{"test", "-e", canary}})
	require.NoError(t, err)
	assert.Equal(t, 0, code, "the canary must survive")
}

func TestRealTimeoutKillsRemoteCommand(t *testing.T) {
	for _, sudo := range []bool{false, true} {
		t.Run(fmt.Sprintf("sudo=%v", sudo), func(t *testing.T) {
			in, _ := realInstance(t, nil)
			pidfile := fmt.Sprintf("/tmp/handrail-ssh-timeout-%d-%v", os.Getpid(), sudo)
			// A script whose child (sleep) would outlive a killed shell.
			script := "sleep 300 & echo $! > " + pidfile + "; echo started; wait"
			// The deadline is set once the command runs (connecting may
			// take a while on a loaded machine).
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			started := &firstWrite{ch: make(chan struct{})}
			errc := make(chan error, 1)
			go func() {
				_, err := in.Run(ctx, "", ssh.Command{Script: script, Sudo: sudo}, started, nil)
				errc <- err
			}()
			select {
			case <-started.ch:
			case <-time.After(20 * time.Second):
				t.Fatal("the command never started")
			}
			start := time.Now()
			time.AfterFunc(200*time.Millisecond, func() { cancel(context.DeadlineExceeded) })
			err := <-errc
			require.Error(t, err)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Less(t, time.Since(start), 8*time.Second, "the command is stopped, not waited for")
			_, pid, _, err := run(t, in, "", ssh.Command{Argv: []string{"cat", pidfile}, Sudo: sudo})
			require.NoError(t, err)
			pid = strings.TrimSpace(pid)
			require.NotEmpty(t, pid)
			code, _, _, err := run(t, in, "", ssh.Command{Script: "s=$(cut -d' ' -f3 /proc/" + pid + "/stat 2>/dev/null); [ -n \"$s\" ] && [ \"$s\" != Z ]"})
			require.NoError(t, err)
			assert.NotEqual(t, 0, code, "remote sleep %s must be gone (or a zombie)", pid)
			_, _, _, _ = run(t, in, "", ssh.Command{Argv: []string{"rm", "-f", pidfile}, Sudo: sudo})
		})
	}
}

// knownHostsFor writes a known_hosts file giving addr the key of the test
// server (or another key).
func knownHostsFor(t *testing.T, tgt testenv.SSHTarget, addrs []string, key xssh.PublicKey) string {
	t.Helper()
	if key == nil {
		b, err := os.ReadFile(tgt.KnownHostsPath)
		require.NoError(t, err)
		_, _, k, _, _, err := xssh.ParseKnownHosts(b)
		require.NoError(t, err)
		key = k
	}
	var sb strings.Builder
	for _, a := range addrs {
		h, p, _ := net.SplitHostPort(a)
		sb.WriteString(fmt.Sprintf("[%s]:%s %s", h, p, xssh.MarshalAuthorizedKey(key)))
	}
	f := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(f, []byte(sb.String()), 0o600))
	return f
}

func TestRealHostKeyRefused(t *testing.T) {
	tgt := testenv.SSH(t)
	b, err := os.ReadFile(tgt.KnownHostsPath)
	require.NoError(t, err)
	_, _, realKey, _, _, err := xssh.ParseKnownHosts(b)
	require.NoError(t, err)
	realFP := xssh.FingerprintSHA256(realKey)

	// A different key for the same address.
	other, err := xssh.NewSignerFromKey(mustEd25519(t))
	require.NoError(t, err)
	wrong := knownHostsFor(t, tgt, []string{tgt.Addr}, other.PublicKey())
	empty := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))

	for _, tc := range []struct {
		name, file, want string
	}{
		{"changed", wrong, "CHANGED"},
		{"unknown", empty, "is unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := realInstance(t, func(c *ssh.Config) { c.KnownHostsFiles = []string{tc.file} })
			_, _, _, err := run(t, in, "", ssh.Command{Argv: []string{"true"}})
			require.Error(t, err)
			assert.ErrorIs(t, err, ssh.ErrHostKey)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), realFP, "the error names the presented key's fingerprint")
		})
	}

	t.Run("trust on first use", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "kh")
		in, _ := realInstance(t, func(c *ssh.Config) { c.KnownHostsFiles = []string{f}; c.TrustOnFirstUse = true })
		code, _, _, err := run(t, in, "", ssh.Command{Argv: []string{"true"}})
		require.NoError(t, err)
		assert.Equal(t, 0, code)
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Contains(t, string(b), strings.TrimSpace(string(xssh.MarshalAuthorizedKey(realKey))))
		// A changed key is still refused.
		in2, _ := realInstance(t, func(c *ssh.Config) { c.KnownHostsFiles = []string{wrong}; c.TrustOnFirstUse = true })
		_, _, _, err = run(t, in2, "", ssh.Command{Argv: []string{"true"}})
		assert.ErrorIs(t, err, ssh.ErrHostKey)
	})
}

// proxy forwards TCP connections to addr; it can drop them all, or freeze
// them (stop forwarding without closing: a dead network path).
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	frozen []*atomic.Bool
	n      int
}

func newProxy(t *testing.T, addr string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			fz := &atomic.Bool{}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.frozen = append(p.frozen, fz)
			p.n++
			p.mu.Unlock()
			go func() { pump(s, c, fz); s.Close() }()
			go func() { pump(c, s, fz); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.drop() })
	return p
}

// pump copies src to dst, holding data back while frozen.
func pump(dst, src net.Conn, frozen *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for n > 0 && frozen.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	// A pump held back by freeze would wait for ever; let it find the
	// closed connection and end.
	for _, f := range p.frozen {
		f.Store(false)
	}
}

func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.frozen {
		f.Store(true)
	}
}

func (p *proxy) accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func TestRealReconnectAfterDrop(t *testing.T) {
	tgt := testenv.SSH(t)
	px := newProxy(t, tgt.Addr)
	kh := knownHostsFor(t, tgt, []string{px.ln.Addr().String()}, nil)
	_, port, _ := net.SplitHostPort(px.ln.Addr().String())
	p, _ := strconv.Atoi(port)
	in, err := ssh.New("drop", ssh.Config{Host: "127.0.0.1", Port: p, User: tgt.User, PrivateKeyFiles: []string{tgt.KeyPath}, KnownHostsFiles: []string{kh}})
	require.NoError(t, err)
	defer in.Close()

	for i := 0; i < 3; i++ {
		code, _, _, err := run(t, in, "", ssh.Command{Argv: []string{"true"}})
		require.NoError(t, err)
		require.Equal(t, 0, code)
	}
	assert.Equal(t, 1, px.accepted(), "one connection reused across commands")

	// A command in flight when the connection drops fails with
	// ErrConnectionLost.
	errc := make(chan error, 1)
	started := &firstWrite{ch: make(chan struct{})}
	go func() {
		_, err := in.Run(context.Background(), "", ssh.Command{Script: "echo started; sleep 5"}, started, nil)
		errc <- err
	}()
	select {
	case <-started.ch:
	case <-time.After(20 * time.Second):
		t.Fatal("the command never started")
	}
	px.drop()
	err = <-errc
	require.Error(t, err)
	assert.ErrorIs(t, err, ssh.ErrConnectionLost)

	// The next command reconnects.
	code, out, _, err := run(t, in, "", ssh.Command{Argv: []string{"echo", "back"}})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "back\n", out)
	assert.Equal(t, 2, px.accepted())

	// A drop between commands, noticed only when opening the session.
	px.drop()
	code, _, _, err = run(t, in, "", ssh.Command{Argv: []string{"true"}})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, 3, px.accepted())
}

func TestRealJumpHost(t *testing.T) {
	tgt := testenv.SSH(t)
	host, port, _ := net.SplitHostPort(tgt.Addr)
	p, _ := strconv.Atoi(port)
	in, _ := realInstance(t, func(c *ssh.Config) { c.Jump = &ssh.JumpConfig{Host: host, Port: p} })
	code, out, _, err := run(t, in, "", ssh.Command{Argv: []string{"echo", "via bastion"}})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "via bastion\n", out)
}

func TestRealDialUnixAndTCP(t *testing.T) {
	in, tgt := realInstance(t, nil)
	ctx := context.Background()
	c, err := in.DialContext(ctx, "tcp", tgt.Addr)
	require.NoError(t, err)
	buf := make([]byte, 7)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "SSH-2.0", string(buf))
	c.Close()
	if _, err := os.Stat("/var/run/docker.sock"); err == nil {
		c, err := in.DialContext(ctx, "unix", "/var/run/docker.sock")
		if err == nil {
			_, err = c.Write([]byte("GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"))
			require.NoError(t, err)
			b, _ := io.ReadAll(c)
			assert.Contains(t, string(b), "OK")
			c.Close()
		} else {
			t.Logf("unix dial: %v (the test user may lack access to the socket)", err)
		}
	}
	_, err = in.DialContext(ctx, "udp", "x:1")
	assert.Error(t, err)
}

func TestRealUploadAndRestore(t *testing.T) {
	in, _ := realInstance(t, nil)
	path := fmt.Sprintf("/tmp/handrail-ssh-upload-%d", os.Getpid())
	_, _, _, err := run(t, in, "", ssh.Command{Script: "printf 'old\\n' > " + path + " && chmod 600 " + path})
	require.NoError(t, err)
	t.Cleanup(func() { _, _, _, _ = run(t, in, "", ssh.Command{Argv: []string{"rm", "-f", path, path + ".new"}}) })

	up, err := ssh.NewUpload(in, ssh.UploadOptions{Path: path, Content: "new content\n", Mode: 0o640, RestoreOnRollback: true})
	require.NoError(t, err)
	env := runbook.NewEnv(runbook.EnvConfig{Node: "upload"})
	out, err := up.Do(context.Background(), env)
	require.NoError(t, err)
	assert.Equal(t, true, out["previous_exists"])
	assert.Equal(t, "0600", out["previous_mode"])
	_, got, _, _ := run(t, in, "", ssh.Command{Script: "stat -c %a " + path + "; cat " + path})
	assert.Equal(t, "640\nnew content\n", got)

	rb := up.NaturalRollback()
	require.NotNil(t, rb)
	require.NoError(t, rb.Compensate(context.Background(), runbook.NewEnv(runbook.EnvConfig{Node: "upload", Self: out})))
	_, got, _, _ = run(t, in, "", ssh.Command{Script: "stat -c %a " + path + "; cat " + path})
	assert.Equal(t, "600\nold\n", got)

	// A new file is removed by the rollback. (Each step has its own Env:
	// an Env carries the step's checkpoint.)
	up2, err := ssh.NewUpload(in, ssh.UploadOptions{Path: path + ".new", Content: "x", RestoreOnRollback: true})
	require.NoError(t, err)
	out2, err := up2.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Node: "upload-new"}))
	require.NoError(t, err)
	assert.Equal(t, false, out2["previous_exists"])
	require.NoError(t, up2.NaturalRollback().Compensate(context.Background(), runbook.NewEnv(runbook.EnvConfig{Self: out2})))
	code, _, _, _ := run(t, in, "", ssh.Command{Argv: []string{"test", "-e", path + ".new"}})
	assert.Equal(t, 1, code)

	// Through sudo, owned by root; the rollback puts the user's file back
	// with its mode.
	up3, err := ssh.NewUpload(in, ssh.UploadOptions{Path: path, Content: "root's\n", Mode: 0o600, Owner: "root:root", Sudo: true, RestoreOnRollback: true})
	require.NoError(t, err)
	out3, err := up3.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Node: "upload-sudo"}))
	require.NoError(t, err)
	_, got, _, _ = run(t, in, "", ssh.Command{Script: "stat -c '%U %a' " + path + "; cat " + path, Sudo: true})
	assert.Equal(t, "root 600\nroot's\n", got)
	require.NoError(t, up3.NaturalRollback().Compensate(context.Background(), runbook.NewEnv(runbook.EnvConfig{Self: out3})))
	_, got, _, _ = run(t, in, "", ssh.Command{Script: "stat -c '%a' " + path + "; cat " + path})
	assert.Equal(t, "600\nold\n", got)
	t.Cleanup(func() { _, _, _, _ = run(t, in, "", ssh.Command{Argv: []string{"rm", "-f", path}, Sudo: true}) })
}

func TestRealFanOutBatchCompensation(t *testing.T) {
	in, tgt := realInstance(t, nil)
	_, port, _ := net.SplitHostPort(tgt.Addr)
	dir := fmt.Sprintf("/tmp/handrail-ssh-fleet-%d", os.Getpid())
	_, _, _, err := run(t, in, "", ssh.Command{Argv: []string{"mkdir", "-p", dir}})
	require.NoError(t, err)
	t.Cleanup(func() { _, _, _, _ = run(t, in, "", ssh.Command{Argv: []string{"rm", "-rf", dir}}) })
	// Four host entries reaching the same sshd; "localhost" fails.
	hosts := []string{"127.0.0.1:" + port, tgt.User + "@127.0.0.1:" + port, "localhost:" + port, "[127.0.0.1]:" + port}
	mark := `"` + dir + `/$(echo "$HANDRAIL_HOST" | tr -c 'a-z0-9' _)"`
	for _, tc := range []struct {
		name       string
		maxFail    float64
		wantErr    bool
		wantMarks  int
		wantStatus string
	}{
		{"any failure fails the batch", 0, true, 0, "compensated"},
		{"tolerated failure", 30, false, 3, "succeeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := ssh.NewExec(in, ssh.ExecOptions{
				Script:            `case "$HANDRAIL_HOST" in localhost*) echo no >&2; exit 4;; esac; touch ` + mark,
				Hosts:             hosts,
				MaxParallel:       1,
				MaxFailPercentage: tc.maxFail,
				RollbackScript:    `rm -f ` + mark,
			})
			require.NoError(t, err)
			out, err := ex.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Node: "fleet"}))
			_, ls, _, _ := run(t, in, "", ssh.Command{Script: "ls " + dir + " | wc -l"})
			assert.Equal(t, strconv.Itoa(tc.wantMarks), strings.TrimSpace(ls))
			per := out["hosts"].(map[string]any)
			assert.Equal(t, "failed", per[hosts[2]].(map[string]any)["status"])
			if tc.wantErr {
				require.Error(t, err)
				assert.ErrorIs(t, err, ssh.ErrBatchFailed)
				assert.Contains(t, err.Error(), "compensated the 2 hosts that succeeded")
				// With max_parallel 1 the batch stops at the failure: the
				// last host never started.
				assert.Equal(t, "skipped", per[hosts[3]].(map[string]any)["status"])
				assert.Equal(t, tc.wantStatus, per[hosts[0]].(map[string]any)["status"])
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []any{hosts[0], hosts[1], hosts[3]}, out["hosts_succeeded"])
			// The step's natural rollback undoes every host that succeeded.
			rb := ex.NaturalRollback()
			require.NotNil(t, rb)
			require.NoError(t, rb.Compensate(context.Background(), runbook.NewEnv(runbook.EnvConfig{Self: out})))
			_, ls, _, _ = run(t, in, "", ssh.Command{Script: "ls " + dir + " | wc -l"})
			assert.Equal(t, "0", strings.TrimSpace(ls))
		})
	}
}

func mustEd25519(t *testing.T) any {
	t.Helper()
	_, k, err := ed25519Generate()
	require.NoError(t, err)
	return k
}

var _ = errors.Is

func TestRealKeepAliveDropsDeadConnection(t *testing.T) {
	tgt := testenv.SSH(t)
	px := newProxy(t, tgt.Addr)
	kh := knownHostsFor(t, tgt, []string{px.ln.Addr().String()}, nil)
	_, port, _ := net.SplitHostPort(px.ln.Addr().String())
	p, _ := strconv.Atoi(port)
	logs := &logRecorder{}
	in, err := ssh.New("ka", ssh.Config{Host: "127.0.0.1", Port: p, User: tgt.User, PrivateKeyFiles: []string{tgt.KeyPath},
		KnownHostsFiles: []string{kh}, KeepAlive: 200 * time.Millisecond, Logger: slog.New(logs)})
	require.NoError(t, err)
	defer in.Close()
	code, _, _, err := run(t, in, "", ssh.Command{Argv: []string{"true"}})
	require.NoError(t, err)
	require.Equal(t, 0, code)
	// The path goes dead silently: no FIN, no RST. The keep-alives go
	// unanswered, the instance drops the connection, and the next command
	// dials again instead of waiting on the dead one.
	px.freeze()
	require.Eventually(t, func() bool { return logs.has("keep-alive failed") }, 10*time.Second, 20*time.Millisecond)
	code, _, _, err = run(t, in, "", ssh.Command{Argv: []string{"true"}})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.GreaterOrEqual(t, px.accepted(), 2, "a new connection (a loaded machine may drop one more: 200ms keep-alives are tight)")
}

// logRecorder is a slog.Handler keeping messages.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }
func (l *logRecorder) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

// firstWrite closes ch on the first write.
type firstWrite struct {
	once sync.Once
	ch   chan struct{}
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.ch) })
	return len(p), nil
}
