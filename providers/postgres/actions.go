package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/jackc/pgx/v5/pgconn"
)

// register makes the run redact the DSN and its password.
func (i *Instance) register(env *runbook.Env) {
	if env == nil {
		return
	}
	env.AddSecret(i.cfg.DSN)
	if i.secret != "" {
		env.AddSecret(i.secret)
	}
}

// permanentIf marks errors a retry cannot fix: bad migration files, a
// dirty database, and migrations the server refused for a reason other
// than a transient one (deadlock, serialization failure, lock or statement
// timeout, lost connection).
func permanentIf(err error) error {
	if errors.Is(err, ErrMigrations) || errors.Is(err, ErrDirty) {
		return runbook.Permanent(err)
	}
	var me *MigrationError
	var pe *pgconn.PgError
	if errors.As(err, &me) && errors.As(me.Err, &pe) && !transient(pe.Code) {
		return runbook.Permanent(err)
	}
	return err
}

// transient reports SQLSTATEs worth retrying.
func transient(code string) bool {
	switch {
	case strings.HasPrefix(code, "40"), // transaction rollback: serialization failure, deadlock
		strings.HasPrefix(code, "08"),                     // connection exception
		code == "55P03",                                   // lock_not_available
		code == "57014",                                   // query_canceled (statement_timeout)
		code == "57P01", code == "57P02", code == "57P03": // admin shutdown, crash shutdown, cannot connect now
		return true
	}
	return false
}

// ---- postgres_ping ----

// PingAction checks that the database answers. It is read-only.
type PingAction struct {
	inst *Instance
}

// NewPing returns the postgres_ping action of inst. Outputs: server_version,
// database, user.
func NewPing(inst *Instance) *PingAction { return &PingAction{inst: inst} }

// Do pings the server.
func (a *PingAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	a.inst.register(env)
	c, err := a.inst.Client(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres_ping: %w", err)
	}
	si, err := c.Ping(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres_ping: %w", err)
	}
	return runbook.Outputs{"server_version": si.Version, "database": si.Database, "user": si.User}, nil
}

// ReadOnly reports true.
func (a *PingAction) ReadOnly() bool { return true }

// Describe names the instance and the action.
func (a *PingAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "postgres_ping"}
}

// ---- postgres_query ----

// QueryArgs are the arguments of postgres_query.
type QueryArgs struct {
	// SQL is one statement; Args are its $1, $2... parameters.
	SQL  string
	Args []any
	// Mutates lets the statement write. Without it the statement runs in a
	// read-only transaction and the step is read-only.
	Mutates bool
	// Expect maps column names to the text expected in the first row
	// ("version" -> "014"; numbers compare as numbers, so 14 matches).
	Expect map[string]string
	// ExpectRowCount, when set, is the number of rows expected.
	ExpectRowCount *int
}

// QueryAction runs a statement and returns its rows.
type QueryAction struct {
	inst *Instance
	args QueryArgs
}

// NewQuery returns the postgres_query action. Outputs: rows (a list of
// objects), row_count, columns, row (the first row, or null) and value (the
// first row's first column, or null).
func NewQuery(inst *Instance, args QueryArgs) (*QueryAction, error) {
	if strings.TrimSpace(args.SQL) == "" {
		return nil, errors.New("postgres_query: sql is empty: give the statement to run")
	}
	if args.ExpectRowCount != nil && *args.ExpectRowCount < 0 {
		return nil, fmt.Errorf("postgres_query: expect_row_count %d is negative", *args.ExpectRowCount)
	}
	return &QueryAction{inst: inst, args: args}, nil
}

// Do runs the statement and checks the expectations.
func (a *QueryAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	a.inst.register(env)
	rows, err := runQuery(ctx, a.inst, Query{SQL: a.args.SQL, Args: a.args.Args, Mutates: a.args.Mutates})
	if err != nil {
		return nil, fmt.Errorf("postgres_query: %w", err)
	}
	out := rowsOutputs(rows)
	if err := a.check(rows); err != nil {
		return out, fmt.Errorf("postgres_query: %w", err)
	}
	return out, nil
}

func runQuery(ctx context.Context, inst *Instance, q Query) (Rows, error) {
	c, err := inst.Client(ctx)
	if err != nil {
		return Rows{}, err
	}
	return c.Query(ctx, q)
}

func (a *QueryAction) check(rows Rows) error {
	var problems []string
	if a.args.ExpectRowCount != nil && len(rows.Rows) != *a.args.ExpectRowCount {
		problems = append(problems, fmt.Sprintf("expected %d rows, got %d", *a.args.ExpectRowCount, len(rows.Rows)))
	}
	if len(a.args.Expect) > 0 {
		if len(rows.Rows) == 0 {
			problems = append(problems, "expected a row, got none")
		} else {
			cols := make([]string, 0, len(a.args.Expect))
			for c := range a.args.Expect {
				cols = append(cols, c)
			}
			sort.Strings(cols)
			first := rows.Rows[0]
			for _, col := range cols {
				want := a.args.Expect[col]
				idx := indexOf(rows.Columns, col)
				if idx < 0 {
					problems = append(problems, fmt.Sprintf("expected column %q, but the result has only %s", col, strings.Join(rows.Columns, ", ")))
					continue
				}
				if !sameValue(first[idx], want) {
					problems = append(problems, fmt.Sprintf("expected %s = %s, got %s", col, want, textOf(first[idx])))
				}
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrExpectation, strings.Join(problems, "; "))
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func rowsOutputs(rows Rows) runbook.Outputs {
	list := make([]any, 0, len(rows.Rows))
	for _, r := range rows.Rows {
		list = append(list, rowObject(rows.Columns, r))
	}
	out := runbook.Outputs{
		"rows":      list,
		"row_count": int64(len(rows.Rows)),
		"columns":   append([]string{}, rows.Columns...),
		"row":       nil,
		"value":     nil,
	}
	if len(rows.Rows) > 0 {
		out["row"] = list[0]
		if len(rows.Rows[0]) > 0 {
			out["value"] = rows.Rows[0][0]
		}
	}
	return out
}

func rowObject(cols []string, r []any) map[string]any {
	m := make(map[string]any, len(cols))
	for i, c := range cols {
		if i < len(r) {
			m[c] = r[i]
		}
	}
	return m
}

// ReadOnly reports true unless the query mutates.
func (a *QueryAction) ReadOnly() bool { return !a.args.Mutates }

// Describe names the instance and the action.
func (a *QueryAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "postgres_query"}
}

// QueryProbe is postgres_query as a gate's check: the sample's value is
// the first column of the first row; no row is no data.
type QueryProbe struct {
	inst *Instance
	args QueryArgs
}

// NewQueryProbe returns the probe of a read-only query. Its outputs (next
// to value) are row and row_count.
func NewQueryProbe(inst *Instance, args QueryArgs) (*QueryProbe, error) {
	if args.Mutates {
		return nil, errors.New("postgres_query: a check cannot set mutates = true: probes must not change the database")
	}
	if strings.TrimSpace(args.SQL) == "" {
		return nil, errors.New("postgres_query: sql is empty: give the statement to run")
	}
	return &QueryProbe{inst: inst, args: args}, nil
}

// Sample runs the query.
func (p *QueryProbe) Sample(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
	p.inst.register(env)
	rows, err := runQuery(ctx, p.inst, Query{SQL: p.args.SQL, Args: p.args.Args})
	if err != nil {
		return runbook.Sample{}, fmt.Errorf("postgres_query: %w", err)
	}
	out := rowsOutputs(rows)
	delete(out, "rows")
	if len(rows.Rows) == 0 || len(rows.Rows[0]) == 0 {
		return runbook.Sample{NoData: true, Outputs: out}, nil
	}
	return runbook.Sample{Value: rows.Rows[0][0], Outputs: out}, nil
}

// Describe names the instance and the action.
func (p *QueryProbe) Describe() runbook.Description {
	return runbook.Description{Provider: p.inst.Name(), Action: "postgres_query"}
}

// ---- postgres_migrate ----

// MigrateArgs are the arguments of postgres_migrate.
type MigrateArgs struct {
	// Dir is the directory of NNN_name.up.sql / NNN_name.down.sql files.
	Dir string
	// FS, when set, is read instead of Dir (Dir still names it in
	// messages).
	FS fs.FS
	// Target is the version to reach (nil: the latest in Dir; 0: all down).
	Target *int64
	// DryRun reports what would run and changes nothing.
	DryRun bool
	// LockTimeout bounds the wait for another run's migration lock (zero:
	// DefaultLockTimeout).
	LockTimeout time.Duration
}

// MigrateAction migrates the schema. Its natural rollback migrates back
// down to the version found before the step (output from_version).
type MigrateAction struct {
	inst *Instance
	args MigrateArgs
}

// NewMigrate returns the postgres_migrate action. Outputs: from_version,
// to_version, applied (the files run), dry_run.
func NewMigrate(inst *Instance, args MigrateArgs) (*MigrateAction, error) {
	if args.Dir == "" && args.FS == nil {
		return nil, errors.New("postgres_migrate: dir is empty: give the directory of NNN_name.up.sql / .down.sql files")
	}
	if args.Target != nil && *args.Target < 0 {
		return nil, fmt.Errorf("postgres_migrate: target %d is negative: give a version, or 0 for none", *args.Target)
	}
	if args.LockTimeout < 0 {
		return nil, fmt.Errorf("postgres_migrate: lock_timeout %s is negative", args.LockTimeout)
	}
	return &MigrateAction{inst: inst, args: args}, nil
}

func (a *MigrateAction) source() string {
	if a.args.Dir != "" {
		return a.args.Dir
	}
	return "the migrations"
}

func (a *MigrateAction) load() (*MigrationSet, error) {
	fsys := a.args.FS
	if fsys == nil {
		st, err := os.Stat(a.args.Dir)
		if err != nil {
			return nil, fmt.Errorf("%w: migrations directory: %w", ErrMigrations, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%w: %s is not a directory", ErrMigrations, a.args.Dir)
		}
		fsys = os.DirFS(a.args.Dir)
	}
	return LoadMigrations(fsys, a.source())
}

func (a *MigrateAction) migrate(ctx context.Context, env *runbook.Env, target *int64, dryRun bool, checkpoint func(context.Context, int64) error) (MigrateResult, error) {
	a.inst.register(env)
	set, err := a.load()
	if err != nil {
		return MigrateResult{}, err
	}
	c, err := a.inst.Client(ctx)
	if err != nil {
		return MigrateResult{}, err
	}
	req := MigrateRequest{Source: a.source(), Migrations: set, Target: target, DryRun: dryRun, LockTimeout: a.args.LockTimeout, Checkpoint: checkpoint}
	if env != nil {
		req.Wait = env.Clock().Sleep
		req.Progress = func(line string) { env.Line("stdout", line) }
	}
	return c.Migrate(ctx, req)
}

// startedFrom returns the version an earlier attempt of this step (or an
// earlier process of this run) checkpointed before its first change.
func startedFrom(env *runbook.Env) (int64, bool, error) {
	if env == nil {
		return 0, false, nil
	}
	return versionOutput(env.Checkpointed(), "from_version")
}

// Do migrates up (or down) to the target. Before its first change it
// checkpoints from_version in the run's journal; a retry or a resumed
// attempt reports the checkpointed version, never the one its own earlier
// attempt produced.
func (a *MigrateAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	from, earlier, err := startedFrom(env)
	if err != nil {
		return nil, runbook.Permanent(fmt.Errorf("postgres_migrate %s: checkpoint: %w", a.source(), err))
	}
	var checkpoint func(context.Context, int64) error
	if env != nil && !earlier && !a.args.DryRun {
		checkpoint = func(ctx context.Context, v int64) error {
			return env.Checkpoint(ctx, runbook.Outputs{"from_version": v})
		}
	}
	res, err := a.migrate(ctx, env, a.args.Target, a.args.DryRun, checkpoint)
	if err != nil {
		return nil, permanentIf(fmt.Errorf("postgres_migrate %s: %w", a.source(), err))
	}
	if earlier {
		res.From = from
	}
	applied := append([]string{}, res.Applied...)
	return runbook.Outputs{"from_version": res.From, "to_version": res.To, "applied": applied, "dry_run": a.args.DryRun}, nil
}

// Compensate runs the migration as an explicit rollback
// (`rollback "postgres_migrate" { target = 14 }`).
// It checkpoints nothing: it is the compensation, not a step.
func (a *MigrateAction) Compensate(ctx context.Context, env *runbook.Env) error {
	if _, err := a.migrate(ctx, env, a.args.Target, a.args.DryRun, nil); err != nil {
		return permanentIf(fmt.Errorf("postgres_migrate %s: %w", a.source(), err))
	}
	return nil
}

// ReadOnly reports true for a dry run.
func (a *MigrateAction) ReadOnly() bool { return a.args.DryRun }

// Describe names the instance and the action.
func (a *MigrateAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "postgres_migrate"}
}

// NaturalRollback migrates back down to from_version; a dry run has none.
func (a *MigrateAction) NaturalRollback() runbook.Rollback {
	if a.args.DryRun {
		return nil
	}
	return &migrateBack{a: a}
}

// migrateBack is the natural rollback of postgres_migrate.
type migrateBack struct{ a *MigrateAction }

// Compensate migrates to the step's from_version: its output, or, when
// the step failed or its answer was lost, the version it checkpointed
// before its first change. Neither means the step changed nothing. Running
// it twice is running it once: the second finds the schema at
// from_version and has nothing to do.
func (m *migrateBack) Compensate(ctx context.Context, env *runbook.Env) error {
	from, ok, err := versionOutput(env.Self(), "from_version")
	if err != nil {
		return fmt.Errorf("postgres_migrate rollback: %w", err)
	}
	if !ok {
		env.Line("stdout", "the step changed nothing before it failed: nothing to migrate back")
		return nil
	}
	env.Line("stdout", fmt.Sprintf("migrating back to version %s", FormatVersion(from)))
	if _, err := m.a.migrate(ctx, env, &from, false, nil); err != nil {
		return fmt.Errorf("postgres_migrate rollback to version %s: %w", FormatVersion(from), err)
	}
	return nil
}

// Describe names the instance and the action.
func (m *migrateBack) Describe() runbook.Description {
	return runbook.Description{Provider: m.a.inst.Name(), Action: "postgres_migrate"}
}

// versionOutput reads an integer output, whatever number type the journal
// gave back.
func versionOutput(o runbook.Outputs, name string) (int64, bool, error) {
	v, ok := o[name]
	if !ok || v == nil {
		return 0, false, nil
	}
	switch x := v.(type) {
	case int64:
		return x, true, nil
	case int:
		return int64(x), true, nil
	case int32:
		return int64(x), true, nil
	case float64:
		if x != math.Trunc(x) || x < 0 {
			return 0, false, fmt.Errorf("output %s = %v is not a version", name, x)
		}
		return int64(x), true, nil
	case json.Number:
		i, err := x.Int64()
		if err != nil {
			return 0, false, fmt.Errorf("output %s = %s is not a version", name, x)
		}
		return i, true, nil
	}
	return 0, false, fmt.Errorf("output %s has type %T, want a number", name, v)
}

// ---- postgres_backup ----

// BackupArgs are the arguments of postgres_backup: File, or Dir in which a
// file named <database>-<UTC time>.dump is created.
type BackupArgs struct {
	File string
	Dir  string
}

// BackupAction dumps the database with pg_dump (custom format). It does not
// change the database, so it is read-only.
type BackupAction struct {
	inst *Instance
	args BackupArgs
}

// NewBackup returns the postgres_backup action. Outputs: file, size,
// sha256.
func NewBackup(inst *Instance, args BackupArgs) (*BackupAction, error) {
	if (args.File == "") == (args.Dir == "") {
		return nil, errors.New("postgres_backup: give exactly one of file (the dump's path) and dir (a directory to create it in)")
	}
	return &BackupAction{inst: inst, args: args}, nil
}

// Do runs pg_dump.
func (a *BackupAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	a.inst.register(env)
	file := a.args.File
	if file == "" {
		now := time.Now()
		if env != nil {
			now = env.Clock().Now()
		}
		db, _ := parseDSN(a.inst.cfg.DSN)
		name := db.database
		if name == "" {
			name = "postgres"
		}
		file = path.Join(a.args.Dir, fmt.Sprintf("%s-%s.dump", name, now.UTC().Format("20060102T150405Z")))
	}
	c, err := a.inst.Client(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres_backup: %w", err)
	}
	info, err := c.Backup(ctx, BackupRequest{File: file})
	if err != nil {
		return nil, fmt.Errorf("postgres_backup %s: %w", file, err)
	}
	if env != nil {
		env.Line("stdout", fmt.Sprintf("dumped to %s (%d bytes, sha256 %s)", info.File, info.Size, info.SHA256))
	}
	return runbook.Outputs{"file": info.File, "size": info.Size, "sha256": info.SHA256}, nil
}

// ReadOnly reports true: the database is not changed.
func (a *BackupAction) ReadOnly() bool { return true }

// Describe names the instance and the action.
func (a *BackupAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "postgres_backup"}
}

// ---- postgres_restore ----

// RestoreArgs are the arguments of postgres_restore.
type RestoreArgs struct {
	// File is a dump written by postgres_backup; SHA256, when set, must
	// match it.
	File, SHA256 string
	// DropSchemas are dropped and re-created empty first, so that objects
	// created after the dump go too (["public"] for a whole-schema reset).
	DropSchemas []string
	// NoClean keeps pg_restore from dropping the dumped objects first.
	NoClean bool
}

// RestoreAction loads a dump with pg_restore. As a step, it first dumps
// the database as it is (the way back) and checkpoints that dump; its
// natural rollback restores it. It is also usable as a rollback itself
// (the fallback of a migration), which is why it implements
// runbook.Rollback too: as a rollback it takes no dump first.
type RestoreAction struct {
	inst *Instance
	args RestoreArgs
}

// NewRestore returns the postgres_restore action. Outputs: file, sha256,
// previous_dump and previous_sha256 (the dump of the database taken just
// before the restore).
func NewRestore(inst *Instance, args RestoreArgs) (*RestoreAction, error) {
	if args.File == "" {
		return nil, errors.New("postgres_restore: file is empty: give the dump to restore (postgres_backup's file output)")
	}
	for _, s := range args.DropSchemas {
		if strings.TrimSpace(s) == "" {
			return nil, errors.New("postgres_restore: drop_schemas holds an empty name")
		}
	}
	return &RestoreAction{inst: inst, args: args}, nil
}

// Do dumps the database as it is next to the file to restore
// (<file>.before-restore-<UTC time>.dump), checkpoints that dump's name
// and SHA-256 before anything changes, then runs pg_restore. A retried or
// resumed attempt reuses the checkpointed dump: it never takes for "before"
// what its own earlier attempt restored.
func (a *RestoreAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	a.inst.register(env)
	c, err := a.inst.Client(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres_restore: %w", err)
	}
	prev, err := a.before(ctx, env, c)
	if err != nil {
		return nil, err
	}
	if err := a.restore(ctx, env, c, a.args); err != nil {
		return nil, err
	}
	out := runbook.Outputs{"file": a.args.File, "sha256": a.args.SHA256}
	for k, v := range prev {
		out[k] = v
	}
	return out, nil
}

// before returns the dump of the database taken before the first attempt,
// taking and checkpointing it if there is none yet.
func (a *RestoreAction) before(ctx context.Context, env *runbook.Env, c Client) (runbook.Outputs, error) {
	if env != nil {
		if cp := env.Checkpointed(); cp["previous_dump"] != nil {
			return cp, nil
		}
	}
	now := time.Now()
	if env != nil {
		now = env.Clock().Now()
	}
	file := strings.TrimSuffix(a.args.File, ".dump") + ".before-restore-" + now.UTC().Format("20060102T150405Z") + ".dump"
	info, err := c.Backup(ctx, BackupRequest{File: file})
	if err != nil {
		return nil, fmt.Errorf("postgres_restore %s: dumping the database first (the rollback's way back), nothing was restored: %w", a.args.File, err)
	}
	cp := runbook.Outputs{"previous_dump": info.File, "previous_sha256": info.SHA256}
	if env != nil {
		if err := env.Checkpoint(ctx, cp); err != nil {
			return nil, runbook.Permanent(fmt.Errorf("postgres_restore %s: recording the dump taken first, nothing was restored: %w", a.args.File, err))
		}
		env.Line("stdout", fmt.Sprintf("dumped the database as it was to %s (sha256 %s)", info.File, info.SHA256))
	}
	return cp, nil
}

// restore runs pg_restore of args.File.
func (a *RestoreAction) restore(ctx context.Context, env *runbook.Env, c Client, args RestoreArgs) error {
	req := RestoreRequest(args)
	if err := c.Restore(ctx, req); err != nil {
		return fmt.Errorf("postgres_restore %s: %w", args.File, err)
	}
	if env != nil {
		env.Line("stdout", "restored "+args.File)
	}
	return nil
}

// Compensate restores, as a rollback (without a dump first).
func (a *RestoreAction) Compensate(ctx context.Context, env *runbook.Env) error {
	a.inst.register(env)
	c, err := a.inst.Client(ctx)
	if err != nil {
		return fmt.Errorf("postgres_restore: %w", err)
	}
	return a.restore(ctx, env, c, a.args)
}

// NaturalRollback restores the dump the step took before its restore
// (previous_dump, checked against previous_sha256), with the step's
// drop_schemas and clean: run twice, it restores the same dump twice.
// Without previous_dump the step failed before its restore: nothing to
// undo.
func (a *RestoreAction) NaturalRollback() runbook.Rollback { return undoRestore{a} }

type undoRestore struct{ a *RestoreAction }

func (u undoRestore) Compensate(ctx context.Context, env *runbook.Env) error {
	self := env.Self()
	file, _ := self["previous_dump"].(string)
	if file == "" {
		return nil
	}
	sum, _ := self["previous_sha256"].(string)
	u.a.inst.register(env)
	c, err := u.a.inst.Client(ctx)
	if err != nil {
		return fmt.Errorf("postgres_restore rollback: %w", err)
	}
	args := u.a.args
	args.File, args.SHA256 = file, sum
	return u.a.restore(ctx, env, c, args)
}

func (u undoRestore) Describe() runbook.Description {
	return runbook.Description{Provider: u.a.inst.Name(), Action: "postgres_restore"}
}

// Describe names the instance and the action.
func (a *RestoreAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "postgres_restore"}
}

// RestoreFrom returns a rollback that restores the dump a postgres_backup
// step of the same run took: file and sha256 are read from that step's
// outputs at rollback time. It is the Go form of
// `rollback "postgres_restore" { file = step.backup.file, sha256 = step.backup.sha256 }`,
// typically the fallback after a migration's natural rollback. args.File
// and args.SHA256 are ignored.
func RestoreFrom(inst *Instance, backupStep string, args RestoreArgs) runbook.Rollback {
	return &restoreFrom{inst: inst, step: backupStep, args: args}
}

type restoreFrom struct {
	inst *Instance
	step string
	args RestoreArgs
}

// Compensate restores the backup step's dump.
func (r *restoreFrom) Compensate(ctx context.Context, env *runbook.Env) error {
	out, ok := env.Output(r.step)
	if !ok {
		return fmt.Errorf("postgres_restore: step %q has no outputs in this run: no dump to restore", r.step)
	}
	file, _ := out["file"].(string)
	sum, _ := out["sha256"].(string)
	if file == "" {
		return fmt.Errorf("postgres_restore: step %q has no file output: is it a postgres_backup step?", r.step)
	}
	args := r.args
	args.File, args.SHA256 = file, sum
	a, err := NewRestore(r.inst, args)
	if err != nil {
		return err
	}
	return a.Compensate(ctx, env)
}

// Describe names the instance and the action.
func (r *restoreFrom) Describe() runbook.Description {
	return runbook.Description{Provider: r.inst.Name(), Action: "postgres_restore"}
}

// Compile-time checks.
var (
	_ runbook.Action          = (*PingAction)(nil)
	_ runbook.ReadOnly        = (*PingAction)(nil)
	_ runbook.Action          = (*QueryAction)(nil)
	_ runbook.Probe           = (*QueryProbe)(nil)
	_ runbook.NaturalRollback = (*MigrateAction)(nil)
	_ runbook.Rollback        = (*MigrateAction)(nil)
	_ runbook.Action          = (*BackupAction)(nil)
	_ runbook.Rollback        = (*RestoreAction)(nil)
	_ runbook.Describer       = (*migrateBack)(nil)
)
