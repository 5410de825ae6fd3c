package ssh_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestAgentAuth(t *testing.T) {
	_, tgt := realInstance(t, nil)
	b, err := os.ReadFile(tgt.KeyPath)
	require.NoError(t, err)
	raw, err := xssh.ParseRawPrivateKey(b)
	require.NoError(t, err)
	keyring := agent.NewKeyring()
	require.NoError(t, keyring.Add(agent.AddedKey{PrivateKey: raw}))
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	in, _ := realInstance(t, func(c *ssh.Config) { c.PrivateKeyFiles = nil; c.UseAgent = true })
	code, out, _, err := run(t, in, "", ssh.Command{Argv: []string{"echo", "agent"}})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "agent\n", out)
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	require.NoError(t, os.WriteFile(kh, nil, 0o600))
	// A legacy PEM-encrypted key: as good a test of the passphrase path as
	// an OpenSSH one, without bcrypt's cost under -race.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	//lint:ignore SA1019 legacy encryption on purpose: fast to decrypt in tests.
	blk, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", der, []byte("s3cret"), x509.PEMCipherAES256) //nolint:staticcheck
	require.NoError(t, err)
	enc := filepath.Join(dir, "id_enc")
	require.NoError(t, os.WriteFile(enc, pem.EncodeToMemory(blk), 0o600))

	for _, tc := range []struct {
		name string
		cfg  ssh.Config
		want string
	}{
		{"encrypted key without passphrase", ssh.Config{Host: "127.0.0.1", User: "u", PrivateKeyFiles: []string{enc}, KnownHostsFiles: []string{kh}}, "is encrypted: set passphrase"},
		{"wrong passphrase", ssh.Config{Host: "127.0.0.1", User: "u", PrivateKeyFiles: []string{enc}, Passphrase: "nope", KnownHostsFiles: []string{kh}}, "cannot decrypt"},
		{"missing key", ssh.Config{Host: "127.0.0.1", User: "u", PrivateKeyFiles: []string{filepath.Join(dir, "none")}, KnownHostsFiles: []string{kh}}, "private key"},
		{"missing known_hosts", ssh.Config{Host: "127.0.0.1", User: "u", PrivateKeyFiles: []string{enc}, KnownHostsFiles: []string{filepath.Join(dir, "nope")}}, "trust_on_first_use"},
		{"agent without socket", ssh.Config{Host: "127.0.0.1", User: "u", UseAgent: true, KnownHostsFiles: []string{kh}}, "SSH_AUTH_SOCK is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SSH_AUTH_SOCK", "")
			in, err := ssh.New("x", tc.cfg)
			require.NoError(t, err)
			_, err = in.Run(context.Background(), "", ssh.Command{Argv: []string{"true"}}, nil, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	tilde, err := ssh.New("x", ssh.Config{Host: "127.0.0.1", User: "u", PrivateKeyFiles: []string{"~/handrail-no-such-key"}, KnownHostsFiles: []string{kh}})
	require.NoError(t, err)
	_, err = tilde.Run(context.Background(), "", ssh.Command{Argv: []string{"true"}}, nil, nil)
	assert.ErrorContains(t, err, filepath.Join(home, "handrail-no-such-key"), "~/ is expanded")

	_, err = ssh.New("x", ssh.Config{})
	assert.ErrorContains(t, err, "host is required")
	_, err = ssh.New("x", ssh.Config{Host: "h", Port: 70000})
	assert.ErrorContains(t, err, "out of range")
	in, err := ssh.New("x", ssh.Config{Host: "h", User: "u", KnownHostsFiles: []string{kh}})
	require.NoError(t, err)
	_, err = in.Run(context.Background(), "bad host/name", ssh.Command{Argv: []string{"true"}}, nil, nil)
	assert.ErrorContains(t, err, "is not a host name")
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":   "plain",
		"":        "''",
		"a b":     "'a b'",
		"it's":    `'it'\''s'`,
		"$(x)":    "'$(x)'",
		"a\nb":    "'a\nb'",
		"/usr/-x": "/usr/-x",
	} {
		assert.Equal(t, want, ssh.Quote(in), in)
	}
}
