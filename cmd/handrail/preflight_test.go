package main_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xssh "golang.org/x/crypto/ssh"
)

const sshRunbook = `runbook "ssh-demo" {
  description = "Preflight of an SSH provider"
  window      = "1h"
}

variable "release" {
  type = string
}

provider "ssh" "lb" {
  host             = "127.0.0.1"
  port             = 1
  user             = "deploy"
  private_key_file = %q
  known_hosts      = %q
  connect_timeout  = "2s"
}

step "ssh_exec" "drain" {
  provider = ssh.lb
  command  = ["echo", var.release]
  budget   = "1m"
  rollback "ssh_exec" {
    provider = ssh.lb
    command  = ["true"]
  }
}
`

// TestApplyPreflightSSHAndVariables: a real apply whose SSH key or
// known_hosts cannot be read, or whose variables are incomplete, fails with
// exit 1 before it takes the lock, naming the file and line and what to do,
// and writes nothing; once they are there, the run starts.
func TestApplyPreflightSSHAndVariables(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id_deploy")
	kh := filepath.Join(dir, "known_hosts")
	rb := writeFile(t, dir, "rel.hcl", fmt.Sprintf(sshRunbook, key, kh))
	state := filepath.Join(dir, "state")
	other := t.TempDir()
	nothingWritten := func(t *testing.T) {
		t.Helper()
		_, err := os.Stat(state)
		assert.True(t, os.IsNotExist(err), "nothing written: %v", err)
		_, err = os.Stat(filepath.Join(dir, ".handrail"))
		assert.True(t, os.IsNotExist(err), "nothing written next to the runbook: %v", err)
	}

	r := run(t, other, "apply", rb, "-var", "release=1.2", "-auto-approve", "-state-dir", state)
	assert.Equal(t, 1, r.code, r.stderr)
	r.stderr = oneLine(r.stderr) // diagnostics wrap at 100 columns
	assert.Contains(t, r.stderr, "rel.hcl line 10", "the provider block is located")
	assert.Contains(t, r.stderr, "Provider ssh.lb is not ready")
	assert.Contains(t, r.stderr, key, "the missing key is named")
	assert.Contains(t, r.stderr, "known_hosts file "+kh+" does not exist")
	assert.Contains(t, r.stderr, "ssh-keyscan")
	assert.Contains(t, r.stderr, "Nothing was started, locked or written.")
	nothingWritten(t)

	// The key is there but known_hosts is not.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	blk, err := xssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(blk), 0o600))
	r = run(t, other, "apply", rb, "-var", "release=1.2", "-auto-approve", "-state-dir", state)
	assert.Equal(t, 1, r.code, r.stderr)
	r.stderr = oneLine(r.stderr)
	assert.NotContains(t, r.stderr, "private key")
	assert.Contains(t, r.stderr, "known_hosts file "+kh+" does not exist")
	nothingWritten(t)

	// known_hosts is a directory: unreadable.
	require.NoError(t, os.Mkdir(kh, 0o700))
	r = run(t, other, "apply", rb, "-var", "release=1.2", "-auto-approve", "-state-dir", state)
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, oneLine(r.stderr), "known_hosts file "+kh+" cannot be read")
	nothingWritten(t)
	require.NoError(t, os.Remove(kh))
	require.NoError(t, os.WriteFile(kh, nil, 0o600))

	// A variable is missing: refused the same way.
	r = run(t, other, "apply", rb, "-auto-approve", "-state-dir", state)
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "release")
	assert.Contains(t, r.stderr, "rel.hcl")
	nothingWritten(t)

	// Everything is there: the run starts (and fails to connect to a port
	// nothing listens on, which only a run can find out).
	r = run(t, other, "apply", rb, "-var", "release=1.2", "-auto-approve", "-state-dir", state)
	assert.NotEqual(t, 1, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "not ready")
	_, err = os.Stat(state)
	assert.NoError(t, err, "the run was journaled")
}

// oneLine folds every run of white space (line wraps included) into one
// space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
