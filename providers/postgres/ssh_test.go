package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/testenv"
	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshRunner is a minimal provider.CommandRunner over SSH, standing in for
// the ssh provider (which this package must not import).
type sshRunner struct{ c *ssh.Client }

func (r sshRunner) RunCommand(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	s, err := r.c.NewSession()
	if err != nil {
		return -1, err
	}
	defer s.Close()
	s.Stdin, s.Stdout, s.Stderr = stdin, stdout, stderr
	cmd := ""
	for i, a := range argv {
		if i > 0 {
			cmd += " "
		}
		cmd += shellQuote(a)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		return -1, ctx.Err()
	case err := <-done:
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			return ee.ExitStatus(), nil
		}
		if err != nil {
			return -1, err
		}
		return 0, nil
	}
}

func shellQuote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
}

// TestBackupRestoreOverSSH runs pg_dump and pg_restore on the test sshd's
// host (this machine, as another user) through a CommandRunner.
func TestBackupRestoreOverSSH(t *testing.T) {
	t.Parallel()
	target := testenv.SSH(t)
	db := newDB(t)
	key, err := os.ReadFile(target.KeyPath)
	require.NoError(t, err)
	signer, err := ssh.ParsePrivateKey(key)
	require.NoError(t, err)
	hk, err := knownhosts.New(target.KnownHostsPath)
	require.NoError(t, err)
	client, err := ssh.Dial("tcp", target.Addr, &ssh.ClientConfig{User: target.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	run := sshRunner{c: client}

	const password = "ssh-Secret-pw-77"
	inst, err := postgres.NewInstance("dcmms", postgres.Config{DSN: db.withPassword(password), Via: run, ViaName: "ssh.db"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = inst.Close() })
	migrateTo(t, inst, 14)

	var b [4]byte
	_, _ = rand.Read(b[:])
	file := "/tmp/handrail-pg-ssh-" + hex.EncodeToString(b[:]) + ".dump"
	t.Cleanup(func() { _, _ = run.RunCommand(context.Background(), []string{"rm", "-f", "--", file}, nil, nil, nil) })

	ctx := context.Background()
	backup, err := postgres.NewBackup(inst, postgres.BackupArgs{File: file})
	require.NoError(t, err)
	out, err := backup.Do(ctx, env("backup", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, file, out["file"])
	assert.Len(t, out["sha256"], 64)
	assert.Greater(t, out["size"].(int64), int64(1000))

	migrateTo(t, inst, 17)
	restore, err := postgres.NewRestore(inst, postgres.RestoreArgs{File: file, SHA256: out["sha256"].(string), DropSchemas: []string{"public"}})
	require.NoError(t, err)
	rout, err := restore.Do(ctx, env("restore", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, int64(14), db.version(t))
	assert.False(t, db.tableExists(t, "ml_features"))
	prev, _ := rout["previous_dump"].(string)
	require.NotEmpty(t, prev, "the step dumps the database before restoring")
	t.Cleanup(func() { _, _ = run.RunCommand(context.Background(), []string{"rm", "-f", "--", prev}, nil, nil, nil) })

	// The natural rollback restores the dump taken before: 017 again; run
	// twice, the same.
	undo := restore.NaturalRollback()
	for i := 0; i < 2; i++ {
		require.NoError(t, undo.Compensate(ctx, env("restore", nil, rout)))
		assert.Equal(t, int64(17), db.version(t))
		assert.True(t, db.tableExists(t, "ml_features"))
	}

	// A missing dump on the far side is a clear error naming the host.
	missing, err := postgres.NewRestore(inst, postgres.RestoreArgs{File: "/nonexistent/x.dump"})
	require.NoError(t, err)
	_, err = missing.Do(ctx, env("restore", nil, nil))
	require.ErrorIs(t, err, postgres.ErrCommand)
	assert.Contains(t, err.Error(), "nothing was restored")
	err = missing.Compensate(ctx, env("restore", nil, nil))
	require.ErrorIs(t, err, postgres.ErrCommand)
	assert.Contains(t, err.Error(), "pg_restore on ssh.db exited with status 1")
	assert.Contains(t, err.Error(), "/nonexistent/x.dump")
	assert.NotContains(t, err.Error(), password)
}
