package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/internal/faultnet"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/providertest"
	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/handrail-dev/handrail/providers/postgres/postgresfake"
)

// migrateCase migrates from 014 to 017; call is the call that changes the
// database.
func migrateCase(call string, skipped map[providertest.Mode]string) providertest.Case {
	c := providertest.Case{Name: "postgres_migrate", Action: "postgres_migrate", Call: call,
		Args: cty.ObjectVal(map[string]cty.Value{"dir": cty.StringVal(migrationsDir)}),
		Effect: func(_, after providertest.Snapshot) error {
			if fmt.Sprint(after["version"]) != "17" {
				return fmt.Errorf("schema version %v, want 17", after["version"])
			}
			return nil
		}}
	for m, why := range skipped {
		if c.Skipped == nil {
			c.Skipped = map[providertest.Mode]string{}
		}
		c.Skipped[m] = why
	}
	if len(skipped) > 0 {
		for _, m := range providertest.Modes() {
			if _, out := skipped[m]; !out {
				c.Modes = append(c.Modes, m)
			}
		}
	}
	return c
}

func TestConformanceFake(t *testing.T) {
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			w := postgresfake.New().SetVersion(14)
			return providertest.World{Provider: w.Provider(),
				Config: cty.ObjectVal(map[string]cty.Value{"dsn": cty.StringVal("postgres://migrator:pw@fake:5432/dcmms")}),
				Snapshot: func(context.Context) (providertest.Snapshot, error) {
					return w.Snapshot(), nil
				},
				Inject: w.Inject}
		},
		Cases: []providertest.Case{migrateCase(postgresfake.CallMigrate, nil)},
	}.Run(t)
}

// schemaSnapshot is what migrations change: the version row and every
// relation, function and trigger of the public schema.
func schemaSnapshot(ctx context.Context, dsn string) (providertest.Snapshot, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var version int64
	var dirty bool
	err = conn.QueryRow(ctx, "SELECT coalesce(max(version), 0), coalesce(bool_or(dirty), false) FROM schema_migrations").Scan(&version, &dirty)
	if err != nil {
		return nil, err
	}
	list := func(q string) ([]any, error) {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		out := make([]any, len(names))
		for i, n := range names {
			out[i] = n
		}
		return out, err
	}
	rels, err := list(`SELECT c.relname::text || ':' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	cols, err := list(`SELECT table_name || '.' || column_name || ':' || data_type FROM information_schema.columns
		WHERE table_schema = 'public' ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	funcs, err := list(`SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	trigs, err := list(`SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	return providertest.Snapshot{"version": version, "dirty": dirty, "relations": rels, "columns": cols, "functions": funcs, "triggers": trigs}, nil
}

// TestConformanceFakeRestore proves postgres_restore as a step: the
// database is at 017, the step restores a dump taken at 014, and its
// natural rollback restores the dump the step took just before (017). The
// dumps themselves are lasting (postgres/backups in the rollback matrix),
// so the snapshot leaves them out.
func TestConformanceFakeRestore(t *testing.T) {
	const dump = "/var/backups/dcmms-014.dump"
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			w := postgresfake.New().SetVersion(14)
			cfg := cty.ObjectVal(map[string]cty.Value{"dsn": cty.StringVal("postgres://migrator:pw@fake:5432/dcmms")})
			inst, err := w.Provider().Configure(context.Background(), "setup", cfg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := postgres.NewBackup(inst.(*postgres.Instance), postgres.BackupArgs{File: dump})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Do(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			w.SetVersion(17)
			return providertest.World{Provider: w.Provider(), Config: cfg,
				Snapshot: func(context.Context) (providertest.Snapshot, error) {
					s := w.Snapshot()
					delete(s, "backups")
					return s, nil
				},
				Inject: w.Inject}
		},
		Cases: []providertest.Case{{Name: "postgres_restore", Action: "postgres_restore", Call: postgresfake.CallRestore,
			Args: cty.ObjectVal(map[string]cty.Value{"file": cty.StringVal(dump)}),
			Effect: func(_, after providertest.Snapshot) error {
				if fmt.Sprint(after["version"]) != "14" {
					return fmt.Errorf("schema version %v, want 14 (the dump's)", after["version"])
				}
				return nil
			}}},
	}.Run(t)
}

// TestConformanceReal runs the suite against the real server, the faults
// injected on the wire by a proxy: before the effect, 015's script never
// reaches the server; after it, the server commits 017 and its answer is
// dropped (the connection reset); in mode timeout (on the real clock) that
// answer is held until the step's timeout gives up and closes the
// connection.
func TestConformanceReal(t *testing.T) {
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			db := newDB(t)
			migrateTo(t, instance(t, db.DSN), 14)
			u, err := url.Parse(db.DSN)
			if err != nil {
				t.Fatal(err)
			}
			proxy, err := faultnet.NewProxy(u.Host)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = proxy.Close() })
			via := *u
			via.Host = proxy.Addr()
			return providertest.World{Provider: &postgres.Provider{},
				Config: cty.ObjectVal(map[string]cty.Value{"dsn": cty.StringVal(via.String())}),
				Snapshot: func(ctx context.Context) (providertest.Snapshot, error) {
					return schemaSnapshot(ctx, db.DSN)
				},
				Inject: func(call string, f fault.Fault) {
					if call != postgresfake.CallMigrate {
						t.Fatalf("no wire fault for call %q", call)
					}
					proxy.SetCut(wireFault(f))
				}}
		},
		Cases:       []providertest.Case{migrateCase(postgresfake.CallMigrate, nil)},
		RealTime:    true,
		StepTimeout: 5 * time.Second,
	}.Run(t)
}

// wireFault turns a fault of the whole migration into a cut on the wire:
// Before drops 015's script (the first change), After drops the answer to
// the COMMIT that follows 017's script (the last change), Latency holds
// that answer for the fault's delay.
func wireFault(f fault.Fault) *faultnet.Cut {
	var mu sync.Mutex
	seen := false
	onFire := f.OnFire
	if f.Kind == fault.Before {
		return &faultnet.Cut{Before: true, OnFire: onFire, Match: func(w []byte) bool {
			return bytes.Contains(w, []byte("CREATE TABLE ml_features"))
		}}
	}
	return &faultnet.Cut{OnFire: onFire, Hold: f.Delay, Match: func(w []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		if !seen {
			seen = bytes.Contains(w, []byte("CREATE TABLE audit_log"))
			return false
		}
		return bytes.Contains(w, []byte("commit"))
	}}
}
