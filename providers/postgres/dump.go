package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/handrail-dev/handrail/provider"
	"github.com/jackc/pgx/v5"
)

// localRunner runs commands on this machine.
type localRunner struct{}

func (localRunner) RunCommand(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

func (c *pgxClient) runner() (provider.CommandRunner, string) {
	if c.cfg.Via != nil {
		name := c.cfg.ViaName
		if name == "" {
			name = "the via host"
		}
		return c.cfg.Via, name
	}
	return localRunner{}, "this machine"
}

// dsnWithoutPassword removes the password of a URL or keyword/value DSN: it
// goes to the command through PGPASSWORD, never on a command line.
func dsnWithoutPassword(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil && u.User != nil {
			u.User = url.User(u.User.Username())
			return u.String()
		}
		return dsn
	}
	return strings.TrimSpace(kvPassword.ReplaceAllString(dsn, ""))
}

// pgCommand runs a libpq tool (pg_dump, pg_restore) with the DSN's password
// passed on stdin to a small sh wrapper that exports PGPASSWORD, so that it
// appears in no argv on either host.
func (c *pgxClient) pgCommand(ctx context.Context, tool string, args ...string) error {
	run, where := c.runner()
	argv := append([]string{tool, "--dbname=" + dsnWithoutPassword(c.cfg.DSN)}, args...)
	var stdin io.Reader
	if c.info.password != "" {
		argv = append([]string{"sh", "-c", `IFS= read -r PGPASSWORD && export PGPASSWORD && exec "$@"`, "sh"}, argv...)
		stdin = strings.NewReader(c.info.password + "\n")
	}
	var stderr bytes.Buffer
	exit, err := run.RunCommand(ctx, argv, stdin, io.Discard, &stderr)
	msg := strings.TrimSpace(redactText(stderr.String(), c.cfg.DSN, c.info.password))
	if err != nil {
		return fmt.Errorf("postgres at %s: %w: %s on %s: %s", c.info.where(), ErrCommand, tool, where, redactString(err, c.cfg.DSN, c.info.password))
	}
	if exit != 0 {
		if exit == 127 {
			msg += fmt.Sprintf(" (is %s installed on %s? Debian: apt-get install postgresql-client)", tool, where)
		}
		return fmt.Errorf("postgres at %s: %w: %s on %s exited with status %d: %s", c.info.where(), ErrCommand, tool, where, exit, msg)
	}
	return nil
}

// checksum returns the size and SHA-256 of a file, read here or on the via
// host.
func (c *pgxClient) checksum(ctx context.Context, file string) (int64, string, error) {
	if c.cfg.Via == nil {
		f, err := os.Open(file)
		if err != nil {
			return 0, "", fmt.Errorf("postgres: dump file: %w", err)
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return 0, "", fmt.Errorf("postgres: read dump file %s: %w", file, err)
		}
		return n, hex.EncodeToString(h.Sum(nil)), nil
	}
	run, where := c.runner()
	var out, stderr bytes.Buffer
	exit, err := run.RunCommand(ctx, []string{"sh", "-c", `stat -c %s -- "$1" && sha256sum -- "$1"`, "sh", file}, nil, &out, &stderr)
	if err != nil || exit != 0 {
		if err == nil {
			err = fmt.Errorf("exit status %d: %s", exit, strings.TrimSpace(stderr.String()))
		}
		return 0, "", fmt.Errorf("postgres: checksum of %s on %s: %w", file, where, err)
	}
	fields := strings.Fields(out.String())
	if len(fields) < 2 {
		return 0, "", fmt.Errorf("postgres: checksum of %s on %s: unexpected output %q", file, where, out.String())
	}
	size, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("postgres: size of %s on %s: unexpected output %q", file, where, fields[0])
	}
	return size, fields[1], nil
}

// Backup runs pg_dump --format=custom.
func (c *pgxClient) Backup(ctx context.Context, req BackupRequest) (BackupInfo, error) {
	if req.File == "" {
		return BackupInfo{}, errors.New("postgres: backup: no file given")
	}
	if err := c.pgCommand(ctx, "pg_dump", "--format=custom", "--file="+req.File); err != nil {
		return BackupInfo{}, err
	}
	size, sum, err := c.checksum(ctx, req.File)
	if err != nil {
		return BackupInfo{}, err
	}
	return BackupInfo{File: req.File, Size: size, SHA256: sum}, nil
}

// Restore checks the dump, drops the requested schemas, and runs
// pg_restore in a single transaction.
func (c *pgxClient) Restore(ctx context.Context, req RestoreRequest) error {
	if req.File == "" {
		return errors.New("postgres: restore: no file given")
	}
	if req.SHA256 != "" {
		_, sum, err := c.checksum(ctx, req.File)
		if err != nil {
			return err
		}
		if !strings.EqualFold(sum, req.SHA256) {
			return fmt.Errorf("postgres: restore: %s has SHA-256 %s, want %s: the dump changed since the backup; nothing was restored", req.File, sum, req.SHA256)
		}
	}
	if len(req.DropSchemas) > 0 {
		err := pgx.BeginTxFunc(ctx, c.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
			for _, s := range req.DropSchemas {
				id := pgx.Identifier{s}.Sanitize()
				if _, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+id+" CASCADE"); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, "CREATE SCHEMA "+id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return c.fail("restore: drop schemas "+strings.Join(req.DropSchemas, ", "), err)
		}
	}
	args := []string{"--no-owner", "--exit-on-error", "--single-transaction"}
	if !req.NoClean {
		args = append(args, "--clean", "--if-exists")
	}
	return c.pgCommand(ctx, "pg_restore", append(args, req.File)...)
}
