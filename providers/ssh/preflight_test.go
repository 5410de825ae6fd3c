package ssh_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xssh "golang.org/x/crypto/ssh"

	"github.com/handrail-dev/handrail/providers/ssh"
)

// TestPreflight: what an instance needs on this machine is checked without
// connecting (the host does not exist), each problem naming its file and
// what to do, and a ready instance passes.
func TestPreflight(t *testing.T) {
	dir := t.TempDir()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	plain := filepath.Join(dir, "id_plain")
	require.NoError(t, os.WriteFile(plain, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600))
	//lint:ignore SA1019 legacy encryption on purpose: fast to decrypt in tests.
	blk, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", der, []byte("s3cret"), x509.PEMCipherAES256) //nolint:staticcheck
	require.NoError(t, err)
	enc := filepath.Join(dir, "id_enc")
	require.NoError(t, os.WriteFile(enc, pem.EncodeToMemory(blk), 0o600))
	signer, err := xssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	kh := filepath.Join(dir, "known_hosts")
	require.NoError(t, os.WriteFile(kh, []byte("db-1.internal "+string(xssh.MarshalAuthorizedKey(signer.PublicKey()))), 0o600))
	garbled := filepath.Join(dir, "known_hosts_garbled")
	require.NoError(t, os.WriteFile(garbled, []byte("db-1.internal ssh-ed25519 not-base64!!\n"), 0o600))
	missing := filepath.Join(dir, "nope")
	aDir := filepath.Join(dir, "a-directory")
	require.NoError(t, os.Mkdir(aDir, 0o700))
	sock := filepath.Join(dir, "agent.sock")

	// The host is an address nothing listens on: Preflight never dials.
	base := ssh.Config{Host: "192.0.2.1", User: "deploy", PrivateKeyFiles: []string{plain}, KnownHostsFiles: []string{kh}}
	for _, tc := range []struct {
		name   string
		change func(c *ssh.Config)
		agent  string
		want   []string // each must appear; none means ready
	}{
		{"ready", nil, "", nil},
		{"ready, encrypted key with its passphrase", func(c *ssh.Config) { c.PrivateKeyFiles = []string{enc}; c.Passphrase = "s3cret" }, "", nil},
		{"ready, known_hosts created on first use", func(c *ssh.Config) { c.KnownHostsFiles = []string{missing}; c.TrustOnFirstUse = true }, "", nil},
		{"missing key", func(c *ssh.Config) { c.PrivateKeyFiles = []string{missing} }, "", []string{missing, "no such file"}},
		{"unreadable key", func(c *ssh.Config) { c.PrivateKeyFiles = []string{aDir} }, "", []string{aDir}},
		{"encrypted key without passphrase", func(c *ssh.Config) { c.PrivateKeyFiles = []string{enc} }, "", []string{enc, "set passphrase"}},
		{"wrong passphrase", func(c *ssh.Config) { c.PrivateKeyFiles = []string{enc}; c.Passphrase = "nope" }, "", []string{enc, "cannot decrypt"}},
		{"bastion key missing", func(c *ssh.Config) {
			c.Jump = &ssh.JumpConfig{Host: "bastion", PrivateKeyFiles: []string{missing + "-jump"}}
		}, "", []string{missing + "-jump"}},
		{"missing known_hosts", func(c *ssh.Config) { c.KnownHostsFiles = []string{missing} }, "", []string{"known_hosts file " + missing + " does not exist", "ssh-keyscan", "trust_on_first_use"}},
		{"unreadable known_hosts", func(c *ssh.Config) { c.KnownHostsFiles = []string{aDir} }, "", []string{"known_hosts file " + aDir + " cannot be read"}},
		{"garbled known_hosts", func(c *ssh.Config) { c.KnownHostsFiles = []string{garbled} }, "", []string{"known_hosts", garbled}},
		{"agent without socket", func(c *ssh.Config) { c.PrivateKeyFiles = nil; c.UseAgent = true }, "", []string{"SSH_AUTH_SOCK is empty"}},
		{"agent socket gone", func(c *ssh.Config) { c.PrivateKeyFiles = nil; c.UseAgent = true }, sock, []string{sock, "cannot be reached"}},
		{"no credentials", func(c *ssh.Config) { c.PrivateKeyFiles = nil }, "", []string{"no credentials"}},
		{"two problems, both said", func(c *ssh.Config) {
			c.PrivateKeyFiles = []string{missing}
			c.KnownHostsFiles = []string{missing + "-kh"}
		}, "", []string{missing, missing + "-kh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SSH_AUTH_SOCK", tc.agent)
			cfg := base
			if tc.change != nil {
				tc.change(&cfg)
			}
			in, err := ssh.New("lb", cfg)
			require.NoError(t, err)
			err = in.Preflight(context.Background())
			if len(tc.want) == 0 {
				require.NoError(t, err)
				_, statErr := os.Stat(missing)
				assert.True(t, errors.Is(statErr, os.ErrNotExist), "preflight creates nothing")
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ssh.ErrPreflight)
			assert.Contains(t, err.Error(), "ssh.lb")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
}
