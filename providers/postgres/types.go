package postgres

import (
	"fmt"
	"math/big"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
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
				"dir":          {Type: cty.String, Required: true, Description: "directory of NNN_name.up.sql / NNN_name.down.sql files (golang-migrate's layout)"},
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
				ma := MigrateArgs{}
				if ma.Dir, err = stringArg(args, "postgres_migrate", "dir"); err != nil {
					return nil, err
				}
				if ma.Target, err = int64Arg(args, "postgres_migrate", "target"); err != nil {
					return nil, err
				}
				if ma.DryRun, err = boolArg(args, "postgres_migrate", "dry_run"); err != nil {
					return nil, err
				}
				if ma.LockTimeout, err = durationArg(args, "postgres_migrate", "lock_timeout"); err != nil {
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
				ba := BackupArgs{}
				if ba.File, err = stringArg(args, "postgres_backup", "file"); err != nil {
					return nil, err
				}
				if ba.Dir, err = stringArg(args, "postgres_backup", "dir"); err != nil {
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
				"file":   {Type: cty.String, Description: "the dump restored"},
				"sha256": {Type: cty.String, Description: "the checksum checked, if any"},
			},
			Description: "restore a dump with pg_restore in one transaction (usually a rollback fallback of a migration)",
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				pi, err := instanceOf("postgres_restore", inst)
				if err != nil {
					return nil, err
				}
				ra := RestoreArgs{}
				if ra.File, err = stringArg(args, "postgres_restore", "file"); err != nil {
					return nil, err
				}
				if ra.SHA256, err = stringArg(args, "postgres_restore", "sha256"); err != nil {
					return nil, err
				}
				if ra.DropSchemas, err = stringListArg(args, "postgres_restore", "drop_schemas"); err != nil {
					return nil, err
				}
				clean, err := boolArg(args, "postgres_restore", "clean")
				if err != nil {
					return nil, err
				}
				if v := attr(args, "clean"); !v.IsNull() {
					ra.NoClean = !clean
				}
				return NewRestore(pi, ra)
			},
		},
	}
}

func queryArgsFrom(args cty.Value) (QueryArgs, error) {
	const act = "postgres_query"
	var qa QueryArgs
	var err error
	if qa.SQL, err = stringArg(args, act, "sql"); err != nil {
		return qa, err
	}
	if qa.Mutates, err = boolArg(args, act, "mutates"); err != nil {
		return qa, err
	}
	if v := attr(args, "args"); !v.IsNull() {
		t := v.Type()
		if !(t.IsListType() || t.IsTupleType() || t.IsSetType()) {
			return qa, fmt.Errorf("%s: args must be a list such as [\"a\", 1], got %s", act, t.FriendlyName())
		}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			g, err := goValue(e)
			if err != nil {
				return qa, fmt.Errorf("%s: args[%s]: %w", act, k.GoString(), err)
			}
			qa.Args = append(qa.Args, g)
		}
	}
	if v := attr(args, "expect"); !v.IsNull() {
		m, err := convert.Convert(v, cty.Map(cty.String))
		if err != nil || !m.IsWhollyKnown() {
			return qa, fmt.Errorf("%s: expect must map column names to expected values, such as { version = \"014\" }", act)
		}
		qa.Expect = map[string]string{}
		for k, e := range m.AsValueMap() {
			if e.IsNull() {
				qa.Expect[k] = "null"
				continue
			}
			qa.Expect[k] = e.AsString()
		}
	}
	n, err := int64Arg(args, act, "expect_row_count")
	if err != nil {
		return qa, err
	}
	if n != nil {
		c := int(*n)
		qa.ExpectRowCount = &c
	}
	return qa, nil
}

// attr returns an argument, null when absent.
func attr(args cty.Value, name string) cty.Value {
	if args.IsNull() || !args.IsKnown() || !(args.Type().IsObjectType() || args.Type().IsMapType()) {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	if args.Type().IsObjectType() {
		if !args.Type().HasAttribute(name) {
			return cty.NullVal(cty.DynamicPseudoType)
		}
		return args.GetAttr(name)
	}
	if args.HasIndex(cty.StringVal(name)).True() {
		return args.Index(cty.StringVal(name))
	}
	return cty.NullVal(cty.DynamicPseudoType)
}

func known(act, name string, v cty.Value) error {
	if !v.IsWhollyKnown() {
		return fmt.Errorf("%s: %s is not known yet", act, name)
	}
	return nil
}

func stringArg(args cty.Value, act, name string) (string, error) {
	v := attr(args, name)
	if v.IsNull() {
		return "", nil
	}
	if err := known(act, name, v); err != nil {
		return "", err
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", fmt.Errorf("%s: %s must be a string, got %s", act, name, v.Type().FriendlyName())
	}
	return s.AsString(), nil
}

func boolArg(args cty.Value, act, name string) (bool, error) {
	v := attr(args, name)
	if v.IsNull() {
		return false, nil
	}
	if err := known(act, name, v); err != nil {
		return false, err
	}
	b, err := convert.Convert(v, cty.Bool)
	if err != nil {
		return false, fmt.Errorf("%s: %s must be true or false, got %s", act, name, v.Type().FriendlyName())
	}
	return b.True(), nil
}

func int64Arg(args cty.Value, act, name string) (*int64, error) {
	v := attr(args, name)
	if v.IsNull() {
		return nil, nil
	}
	if err := known(act, name, v); err != nil {
		return nil, err
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil {
		return nil, fmt.Errorf("%s: %s must be a whole number, got %s", act, name, v.Type().FriendlyName())
	}
	bf := n.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact {
		return nil, fmt.Errorf("%s: %s must be a whole number, got %s", act, name, bf.Text('g', -1))
	}
	return &i, nil
}

func durationArg(args cty.Value, act, name string) (time.Duration, error) {
	s, err := stringArg(args, act, name)
	if err != nil || s == "" {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %s %q is not a positive duration such as \"30s\" or \"5m\"", act, name, s)
	}
	return d, nil
}

func stringListArg(args cty.Value, act, name string) ([]string, error) {
	v := attr(args, name)
	if v.IsNull() {
		return nil, nil
	}
	if err := known(act, name, v); err != nil {
		return nil, err
	}
	l, err := convert.Convert(v, cty.List(cty.String))
	if err != nil {
		return nil, fmt.Errorf("%s: %s must be a list of strings", act, name)
	}
	var out []string
	for _, e := range l.AsValueSlice() {
		if e.IsNull() {
			return nil, fmt.Errorf("%s: %s holds a null", act, name)
		}
		out = append(out, e.AsString())
	}
	return out, nil
}
