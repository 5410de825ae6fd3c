package pgjournal_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/internal/testenv"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/journal/internal/crashworld"
	"github.com/handrail-dev/handrail/journal/internal/leasetest"
	"github.com/handrail-dev/handrail/journal/journaltest"
	"github.com/handrail-dev/handrail/journal/pgjournal"
	"github.com/handrail-dev/handrail/runbook"
)

// Environment of the helper process.
const (
	envHelper = "HANDRAIL_PGJOURNAL_HELPER" // hold or apply
	envDSN    = "HANDRAIL_PGJOURNAL_DSN"
	envSchema = "HANDRAIL_PGJOURNAL_SCHEMA"
)

const exitLocked = 3

func TestMain(m *testing.M) {
	if mode := os.Getenv(envHelper); mode != "" {
		os.Exit(helperMain(mode))
	}
	if mode := os.Getenv(leasetest.EnvMode); mode != "" {
		j, err := pgjournal.Open(context.Background(), os.Getenv(envDSN), &pgjournal.Options{Schema: os.Getenv(envSchema), LeaseCheck: leasetest.CheckInterval()})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		code := leasetest.Main(j, mode, os.Stdout, os.Stderr)
		j.Close()
		os.Exit(code)
	}
	if os.Getenv(crashworld.EnvMode) != "" {
		j, err := pgjournal.Open(context.Background(), os.Getenv(envDSN), &pgjournal.Options{Schema: os.Getenv(envSchema)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		code := crashworld.Main(j, os.Stdout)
		j.Close()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// freshSchema returns the DSN and a new schema name, dropped after the test.
func freshSchema(t testing.TB) (string, string) {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "hr_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	return dsn, schema
}

func openJournal(t testing.TB, dsn, schema string, opts *pgjournal.Options) *pgjournal.Journal {
	t.Helper()
	o := pgjournal.Options{Schema: schema}
	if opts != nil {
		o.Host = opts.Host
	}
	j, err := pgjournal.Open(context.Background(), dsn, &o)
	require.NoError(t, err)
	t.Cleanup(j.Close)
	return j
}

func fresh(t testing.TB) *pgjournal.Journal {
	dsn, schema := freshSchema(t)
	return openJournal(t, dsn, schema, nil)
}

func TestConformance(t *testing.T) {
	journaltest.Run(t, func(t *testing.T) runbook.Journal { return fresh(t) })
}

// TestSchemaVersioned: the schema is created on first use, versioned, and
// migrating again — concurrently, from several journals — changes nothing.
func TestSchemaVersioned(t *testing.T) {
	dsn, schema := freshSchema(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			j := openJournal(t, dsn, schema, nil)
			_, errs[i] = j.Version(ctx)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	j := openJournal(t, dsn, schema, nil)
	v, err := j.Version(ctx)
	require.NoError(t, err)
	assert.Equal(t, pgjournal.SchemaVersion, v)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var rows int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema, "schema_version"}.Sanitize()).Scan(&rows))
	assert.Equal(t, 1, rows, "one row per version, however often it migrates")

	// A schema newer than this code is refused with a clear error.
	_, err = conn.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "schema_version"}.Sanitize()+` (version) VALUES (99)`)
	require.NoError(t, err)
	_, err = openJournal(t, dsn, schema, nil).Load(ctx, "x")
	assert.ErrorContains(t, err, "version 99, newer than this Handrail knows")
}

func TestBadDSN(t *testing.T) {
	_, err := pgjournal.Open(context.Background(), "postgres://[::1", nil)
	assert.ErrorContains(t, err, "bad DSN")
	j, err := pgjournal.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", nil)
	require.NoError(t, err, "Open does not connect")
	defer j.Close()
	_, err = j.Load(context.Background(), "x")
	assert.Error(t, err)
	assert.False(t, errors.Is(err, runbook.ErrRunNotFound), "an unreachable server is not an unknown run")
}

func helperMain(mode string) int {
	ctx := context.Background()
	j, err := pgjournal.Open(ctx, os.Getenv(envDSN), &pgjournal.Options{Schema: os.Getenv(envSchema)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer j.Close()
	exit := func(err error) int {
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, journal.ErrLocked) {
			return exitLocked
		}
		return 2
	}
	switch mode {
	case "hold":
		unlock, err := j.Lock(ctx, "release-2")
		if err != nil {
			return exit(err)
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		if err := unlock.Release(); err != nil {
			return exit(err)
		}
		fmt.Println("unlocked")
		return 0
	case "apply":
		b := runbook.NewBuilder("release-2")
		b.Step(runbook.Step{Name: "hold", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			fmt.Println("locked")
			_, _ = io.Copy(io.Discard, os.Stdin)
			return runbook.Outputs{"done": true}, nil
		})})
		p, err := b.Build()
		if err != nil {
			return exit(err)
		}
		res, err := (&runbook.Executor{Journal: j}).Run(ctx, p, runbook.RunOptions{RunID: fmt.Sprint("apply-", os.Getpid())})
		if err != nil {
			return exit(err)
		}
		fmt.Println(res.Status)
		return 0
	}
	return 2
}

type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *strings.Builder
}

func start(t *testing.T, dsn, schema, mode string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", envHelper+"="+mode, envDSN+"="+dsn, envSchema+"="+schema)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &proc{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return p
}

func (p *proc) expect(t *testing.T, line string) {
	t.Helper()
	got, err := p.out.ReadString('\n')
	require.NoError(t, err, "helper stderr: %s", p.stderr)
	require.Equal(t, line, strings.TrimSpace(got))
}

func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	_, _ = io.ReadAll(p.out)
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

// TestLockTwoProcesses: another process holds the advisory lock; this one is
// refused with the holder's pid and host; when the holder dies (SIGKILL) its
// session ends and the lock is free — no stale lock.
func TestLockTwoProcesses(t *testing.T) {
	dsn, schema := freshSchema(t)
	a := start(t, dsn, schema, "hold")
	a.expect(t, "locked")
	j := openJournal(t, dsn, schema, nil)
	ctx := context.Background()
	_, err := j.Lock(ctx, "release-2")
	require.Error(t, err)
	var le *journal.LockedError
	require.True(t, errors.As(err, &le), "got %v", err)
	host, _ := os.Hostname()
	assert.Equal(t, a.cmd.Process.Pid, le.Holder.PID)
	assert.Equal(t, host, le.Holder.Host)
	assert.Contains(t, err.Error(), fmt.Sprintf("pid %d on host %s", a.cmd.Process.Pid, host))

	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
	_ = a.cmd.Wait()
	var unlock runbook.Lease
	require.Eventually(t, func() bool {
		unlock, err = j.Lock(ctx, "release-2")
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the lock is released with the dead holder's session: %v", err)
	require.NoError(t, unlock.Release())
}

// TestApplyTwoProcesses: a second apply is refused while the first, in
// another process, goes on unharmed.
func TestApplyTwoProcesses(t *testing.T) {
	dsn, schema := freshSchema(t)
	a := start(t, dsn, schema, "apply")
	a.expect(t, "locked")
	b := start(t, dsn, schema, "apply")
	assert.Equal(t, exitLocked, b.exitCode(t), "second apply: %s", b.stderr)
	assert.Contains(t, b.stderr.String(), fmt.Sprintf("pid %d", a.cmd.Process.Pid))
	require.NoError(t, a.stdin.Close())
	a.expect(t, string(runbook.StatusSucceeded))
	assert.Equal(t, 0, a.exitCode(t))
	j := openJournal(t, dsn, schema, nil)
	runs, err := j.Runs(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{fmt.Sprint("apply-", a.cmd.Process.Pid)}, runs)
}

// TestBreakLock ends the holder's session deliberately.
func TestBreakLock(t *testing.T) {
	dsn, schema := freshSchema(t)
	ctx := context.Background()
	holder := openJournal(t, dsn, schema, &pgjournal.Options{Host: "build-07"})
	unlock, err := holder.Lock(ctx, "release-2")
	require.NoError(t, err)
	j := openJournal(t, dsn, schema, nil)
	_, err = j.BreakLock(ctx, "other", false)
	assert.True(t, errors.Is(err, journal.ErrNotLocked), "got %v", err)
	h, err := j.BreakLock(ctx, "release-2", false)
	require.NoError(t, err)
	assert.Equal(t, "build-07", h.Host)
	var unlock2 runbook.Lease
	require.Eventually(t, func() bool {
		unlock2, err = j.Lock(ctx, "release-2")
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, unlock2.Release())
	assert.Error(t, unlock.Release(), "the broken holder's unlock reports it")
}
