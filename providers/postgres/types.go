package postgres

import (
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// actionTypes returns the HCL-facing descriptions of the actions.
func actionTypes() map[string]provider.ActionType {
	queryArgs := provider.Schema{
		"sql":              {Type: cty.String, Required: true, Description: "one SQL statement; $1, $2... are args"},
		"args":             {Type: cty.DynamicPseudoType, Description: "a list of parameters for $1, $2... (strings, numbers, bools)"},
		"mutates":          {Type: cty.Bool, Description: "let the statement write (default false: it runs in a read-only transaction)"},
		"expect":           {Type: cty.Map(cty.String), Description: "column = expected text of the first row (numbers compare as numbers: \"014\" matches 14)"},
		"expect_row_count": {Type: cty.Number, Description: "the number of rows expected"},
	}
	queryOutputs := map[string]provider.Output{
		"rows":      {Type: cty.DynamicPseudoType, Description: "the rows, a list of objects keyed by column"},
		"row_count": {Type: cty.Number, Description: "the number of rows"},
		"columns":   {Type: cty.List(cty.String), Description: "the column names"},
		"row":       {Type: cty.DynamicPseudoType, Description: "the first row as an object, or null"},
		"value":     {Type: cty.DynamicPseudoType, Description: "the first column of the first row, or null"},
	}
	return map[string]provider.ActionType{
		"postgres_ping": {
			Args:     provider.Schema{},
			ReadOnly: true,
			Outputs: map[string]provider.Output{
				"server_version": {Type: cty.String, Description: "the server's version"},
				"database":       {Type: cty.String, Description: "the current database"},
				"user":           {Type: cty.String, Description: "the current user"},
			},
			Description: "check that the database answers",
			New: func(inst provider.Instance, _ cty.Value) (runbook.Action, error) {
				pi, err := instanceOf("postgres_ping", inst)
				if err != nil {
					return nil, err
				}
				return NewPing(pi), nil
			},
		},
		"postgres_query": {
			Args:    queryArgs,
			Outputs: queryOutputs,
			// Read-only unless mutates = true: the action's ReadOnly method
			// says which for each step.
			ReadOnly:    true,
			Description: "run a statement (read-only unless mutates = true) and check its result; as a check, the first column of the first row is the value",
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				pi, err := instanceOf("postgres_query", inst)
				if err != nil {
					return nil, err
				}
				qa, err := queryArgsFrom(args)
				if err != nil {
					return nil, err
				}
				return NewQuery(pi, qa)
			},
			NewProbe: func(inst provider.Instance, args cty.Value) (runbook.Probe, error) {
				pi, err := instanceOf("postgres_query", inst)
				if err != nil {
					return nil, err
				}
				qa, err := queryArgsFrom(args)
				if err != nil {
					return nil, err
				}
				return NewQueryProbe(pi, qa)
			},
		},
		"postgres_migrate": {
			Args: provider.Schema{
				"dir":          {Type: cty.String, Required: true, LocalPath: true, Description: "directory of NNN_name.up.sql / NNN_name.down.sql files (golang-migrate's layout; relative: to the runbook file's directory)"},
				"target":       {Type: cty.Number, Description: "version to reach, up or down (default: the latest in dir; 0: all down)"},
				"dry_run":      {Type: cty.Bool, Description: "print what would run and change nothing"},
				"lock_timeout": {Type: cty.String, Description: "how long to wait for another run's migration lock (default 5m)"},
			},
			Outputs: map[string]provider.Output{
				"from_version": {Type: cty.Number, Description: "schema version before the step (0: none)"},
				"to_version":   {Type: cty.Number, Description: "schema version after the step"},
				"applied":      {Type: cty.List(cty.String), Description: "the files run, in order (in a dry run: that would run)"},
				"dry_run":      {Type: cty.Bool, Description: "whether this was a dry run"},
			},
			NaturalRollback: true,
			Description:     "migrate the schema under an advisory lock, one transaction per migration; rolls back down to from_version",
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				pi, err := instanceOf("postgres_migrate", inst)
				if err != nil {
					return nil, err
				}
				a := &ctyargs.Attrs{V: args, Where: "postgres_migrate"}
				ma := MigrateArgs{Dir: a.Str("dir"), Target: int64Arg(a, "target"), DryRun: a.Bool("dry_run"), LockTimeout: positiveDuration(a, "lock_timeout")}
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewMigrate(pi, ma)
			},
		},
		"postgres_backup": {
			Args: provider.Schema{
				"file": {Type: cty.String, Description: "path of the dump (on the via host when the provider has one)"},
				"dir":  {Type: cty.String, Description: "directory in which <database>-<UTC time>.dump is created (instead of file)"},
			},
			Outputs: map[string]provider.Output{
				"file":   {Type: cty.String, Description: "path of the dump"},
				"size":   {Type: cty.Number, Description: "its size in bytes"},
				"sha256": {Type: cty.String, Description: "its SHA-256, hex"},
			},
			ReadOnly:    true,
			Description: "dump the database with pg_dump (custom format), here or on the via host",
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				pi, err := instanceOf("postgres_backup", inst)
				if err != nil {
					return nil, err
				}
				a := &ctyargs.Attrs{V: args, Where: "postgres_backup"}
				ba := BackupArgs{File: a.Str("file"), Dir: a.Str("dir")}
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewBackup(pi, ba)
			},
		},
		"postgres_restore": {
			Args: provider.Schema{
				"file":         {Type: cty.String, Required: true, Description: "the dump (postgres_backup's file output)"},
				"sha256":       {Type: cty.String, Description: "its expected SHA-256: restore nothing if it differs"},
				"drop_schemas": {Type: cty.List(cty.String), Description: "schemas to drop and re-create first, so objects created after the dump go too"},
				"clean":        {Type: cty.Bool, Description: "drop the dumped objects before re-creating them (default true)"},
			},
			Outputs: map[string]provider.Output{
				"file":            {Type: cty.String, Description: "the dump restored"},
				"sha256":          {Type: cty.String, Description: "the checksum checked, if any"},
				"previous_dump":   {Type: cty.String, Description: "the dump of the database taken just before the restore (what the rollback restores)"},
				"previous_sha256": {Type: cty.String, Description: "its SHA-256"},
			},
			NaturalRollback: true,
			Description:     "restore a dump with pg_restore in one transaction, after dumping the database as it was (the natural rollback restores that dump); also usable as a rollback (the fallback of a migration)",
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				pi, err := instanceOf("postgres_restore", inst)
				if err != nil {
					return nil, err
				}
				a := &ctyargs.Attrs{V: args, Where: "postgres_restore"}
				ra := RestoreArgs{File: a.Str("file"), SHA256: a.Str("sha256"), DropSchemas: a.Strs("drop_schemas")}
				if a.IsSet("clean") {
					ra.NoClean = !a.Bool("clean")
				}
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewRestore(pi, ra)
			},
		},
	}
}

func queryArgsFrom(args cty.Value) (QueryArgs, error) {
	a := &ctyargs.Attrs{V: args, Where: "postgres_query"}
	qa := QueryArgs{SQL: a.Str("sql"), Mutates: a.Bool("mutates")}
	for i, e := range a.List("args") {
		g, err := goValue(e)
		if err != nil {
			a.Fail("args", fmt.Sprintf("element %d: %v", i, err))
			break
		}
		qa.Args = append(qa.Args, g)
	}
	if m, ok := a.Get("expect"); ok {
		qa.Expect = expectArg(a, m)
	}
	if n := int64Arg(a, "expect_row_count"); n != nil {
		c := int(*n)
		qa.ExpectRowCount = &c
	}
	return qa, a.Err()
}

// expectArg reads expect, a map of column to expected text in which null
// expects SQL NULL.
func expectArg(a *ctyargs.Attrs, m cty.Value) map[string]string {
	if !(m.Type().IsMapType() || m.Type().IsObjectType()) {
		a.Fail("expect", "want a map of column names to expected values, such as { version = \"014\" }, got "+m.Type().FriendlyName())
		return nil
	}
	out := map[string]string{}
	for it := m.ElementIterator(); it.Next(); {
		k, e := it.Element()
		e, _ = e.Unmark()
		switch {
		case e.IsNull():
			out[k.AsString()] = "null"
		case e.IsKnown() && e.Type() == cty.String:
			out[k.AsString()] = e.AsString()
		default:
			a.Fail("expect", fmt.Sprintf("value of %s: want a string, got %s", k.AsString(), e.Type().FriendlyName()))
			return nil
		}
	}
	return out
}

// int64Arg reads an optional whole number: nil when absent.
func int64Arg(a *ctyargs.Attrs, name string) *int64 {
	if !a.IsSet(name) {
		return nil
	}
	n := int64(a.Int(name))
	return &n
}

// positiveDuration reads an optional duration that, when given, is more
// than zero.
func positiveDuration(a *ctyargs.Attrs, name string) time.Duration {
	d := a.Duration(name)
	if d == 0 && a.IsSet(name) && a.Err() == nil {
		a.Fail(name, "want a positive duration such as \"30s\" or \"5m\"")
	}
	return d
}
