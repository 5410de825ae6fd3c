package ssh_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/testenv"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xssh "golang.org/x/crypto/ssh"
)

// TestRealEnvValuesStayOffCommandLines runs commands with a canary in
// Env, with and without sudo, on the real sshd (which runs on this
// machine): the canary reaches the command intact, and appears neither in
// the process list sampled while the command runs nor in sudo's log.
func TestRealEnvValuesStayOffCommandLines(t *testing.T) {
	in, _ := realInstance(t, nil)
	sudoLog := testenv.SSHSudoLog(t)
	if _, err := exec.LookPath("ps"); err != nil {
		t.Fatalf("ps is needed to sample the process list: %v", err)
	}
	token := fmt.Sprintf("hrcanary%dx%d", os.Getpid(), time.Now().UnixNano()%1e9)
	// Quotes, $(...), a backslash escape and a newline must arrive as
	// they are.
	value := token + ` ;$(id) 'q' "d" \n%s` + "\nline two\t" + token

	for _, sudo := range []bool{false, true} {
		t.Run(fmt.Sprintf("sudo=%v", sudo), func(t *testing.T) {
			// A marker to recognise the command in ps while it runs.
			marker := fmt.Sprintf("%d.%03d", 2, time.Now().Nanosecond()%1000)
			script := `printf '%s|' "$SECRET"; printf '%s' "$OTHER"; cat; sleep ` + marker
			stop := make(chan struct{})
			var (
				mu       sync.Mutex
				samples  []string
				sawSleep bool
			)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					out, _ := exec.Command("ps", "-eo", "pid,user,args", "ww").Output()
					mu.Lock()
					samples = append(samples, string(out))
					if strings.Contains(string(out), "sleep "+marker) {
						sawSleep = true
					}
					mu.Unlock()
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()
			code, out, stderr, err := run(t, in, "", ssh.Command{
				Argv:  []string{"sh", "-c", script},
				Sudo:  sudo,
				Env:   map[string]string{"SECRET": value, "OTHER": "plain"},
				Stdin: strings.NewReader("then stdin\n"),
			})
			close(stop)
			wg.Wait()
			require.NoError(t, err)
			require.Equal(t, 0, code, stderr)
			assert.Equal(t, value+"|plainthen stdin\n", out, "the value and the command's own stdin arrive intact")
			mu.Lock()
			defer mu.Unlock()
			require.True(t, sawSleep, "ps never saw the command running: the sampling proves nothing")
			var leaks []string
			for _, s := range samples {
				for _, l := range strings.Split(s, "\n") {
					if strings.Contains(l, token) {
						leaks = append(leaks, l)
					}
				}
			}
			assert.Empty(t, leaks, "the canary is in the process list")
			if sudo {
				var log []byte
				// sudo writes its log line before running the command.
				log, err = os.ReadFile(sudoLog)
				require.NoError(t, err, "sudo's log file (sudoers logfile, set by scripts/test-services)")
				require.Contains(t, string(log), marker, "sudo logged this command (else the check below proves nothing)")
				for _, l := range strings.Split(string(log), "\n") {
					assert.NotContains(t, l, token, "the canary is in sudo's log")
				}
			}
		})
	}
}

// TestRealEnvNamesAreValidated: a name that is not a valid identifier
// never reaches the shell.
func TestRealEnvNamesAreValidated(t *testing.T) {
	in, _ := realInstance(t, nil)
	_, _, _, err := run(t, in, "", ssh.Command{Argv: []string{"true"}, Env: map[string]string{"A;rm": "x"}})
	assert.ErrorIs(t, err, ssh.ErrInvalidCommand)
}

// serverHostKey asks the real sshd for its host key of one algorithm with
// a bare handshake (the reference, independent of the provider).
func serverHostKey(t *testing.T, addr, algo string) xssh.PublicKey {
	t.Helper()
	var got xssh.PublicKey
	errStop := errors.New("stop")
	cfg := &xssh.ClientConfig{
		User:              "nobody",
		HostKeyAlgorithms: []string{algo},
		HostKeyCallback: func(_ string, _ net.Addr, k xssh.PublicKey) error {
			got = k
			return errStop
		},
		Timeout: 5 * time.Second,
	}
	c, err := xssh.Dial("tcp", addr, cfg)
	if c != nil {
		_ = c.Close()
	}
	require.ErrorIs(t, err, errStop, "the test sshd offers no %s host key (scripts/test-services gives it one)", algo)
	return got
}

// TestRealHostKeyAlgorithmsFromKnownHosts: a known_hosts file holding only
// the server's RSA key connects (the client must ask for the RSA host key
// rather than the ed25519 one it prefers), and one holding only its
// ed25519 key still does.
func TestRealHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	tgt := testenv.SSHMultiKey(t)
	rsaKey := serverHostKey(t, tgt.Addr, xssh.KeyAlgoRSASHA512)
	edKey := serverHostKey(t, tgt.Addr, xssh.KeyAlgoED25519)
	require.Equal(t, xssh.KeyAlgoRSA, rsaKey.Type())
	host, port, err := net.SplitHostPort(tgt.Addr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	connect := func(t *testing.T, kh string) (string, error) {
		in, err := ssh.New("multikey", ssh.Config{Host: host, Port: p, User: tgt.User, PrivateKeyFiles: []string{tgt.KeyPath}, KnownHostsFiles: []string{kh}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = in.Close() })
		_, out, _, err := run(t, in, "", ssh.Command{Argv: []string{"echo", "ok"}})
		return out, err
	}
	for name, key := range map[string]xssh.PublicKey{"rsa only": rsaKey, "ed25519 only": edKey} {
		t.Run(name, func(t *testing.T) {
			out, err := connect(t, knownHostsFor(t, tgt, []string{tgt.Addr}, key))
			require.NoError(t, err)
			assert.Equal(t, "ok\n", out)
		})
	}
	t.Run("both keys", func(t *testing.T) {
		a, err := os.ReadFile(knownHostsFor(t, tgt, []string{tgt.Addr}, edKey))
		require.NoError(t, err)
		b, err := os.ReadFile(knownHostsFor(t, tgt, []string{tgt.Addr}, rsaKey))
		require.NoError(t, err)
		kh := filepath.Join(t.TempDir(), "known_hosts")
		require.NoError(t, os.WriteFile(kh, append(a, b...), 0o600))
		out, err := connect(t, kh)
		require.NoError(t, err)
		assert.Equal(t, "ok\n", out)
	})
	t.Run("wrong rsa key is still refused", func(t *testing.T) {
		_, err := connect(t, knownHostsFor(t, tgt, []string{tgt.Addr}, mustRSAPublic(t)))
		require.ErrorIs(t, err, ssh.ErrHostKey)
		assert.Contains(t, err.Error(), "CHANGED")
		assert.Contains(t, err.Error(), xssh.FingerprintSHA256(rsaKey), "the presented key is the RSA one, comparable to the entry")
	})
}

func mustRSAPublic(t *testing.T) xssh.PublicKey {
	t.Helper()
	// A fixed RSA public key that is not the server's (generated once with
	// ssh-keygen -t rsa -b 2048).
	const line = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCRYgG/pbaw1JW1gcj2+TNZvyvSQz4PqQfXrsPvKMR8+cYmIKpgOLhbTMijHFlkPTQqcg+glfT7/IIoXspp8dm6yUIbJWWB7B8ju9mpI3b7b/qIfngey7EfKIiDXCIdNuFuYgVq1Bo0oHB/GYkDI7btf9CVWs4y43qLgDtukUnz8ND2DjSUV9m4Pb0KzQbIXnEpymblZZnkjNH/yeeJo8KxC68gsNUIDbe15MBMYz/Jw/A7QInEmhS2YbV1iUG8cubE5QNDXfNxCbtZqJ5aa5/vwZoTX4zUEwYbKFq2fDjNjkaUasFxL9+gzqJzj45cHeOXqzP0uiZ9BxvEmSkWzSy5"
	k, _, _, _, err := xssh.ParseAuthorizedKey([]byte(line))
	require.NoError(t, err)
	return k
}
