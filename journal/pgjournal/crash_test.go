package pgjournal_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/journal/internal/crashworld"
	"github.com/handrail-dev/handrail/runbook"
)

// site is a world file and a fresh schema.
type site struct{ dsn, schema, world string }

func newSite(t *testing.T) crashworld.Site {
	dsn, schema := freshSchema(t)
	return site{dsn: dsn, schema: schema, world: filepath.Join(t.TempDir(), "world.json")}
}

func (s site) WorldPath() string { return s.world }
func (s site) Env() []string {
	return []string{envDSN + "=" + s.dsn, envSchema + "=" + s.schema}
}
func (s site) Open(t *testing.T) runbook.Journal { return openJournal(t, s.dsn, s.schema, nil) }

// TestCrashMatrix runs the file journal's crash matrix on PostgreSQL: SIGKILL
// after every durable append, then resume and rollback in new processes.
func TestCrashMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("crash matrix: not in -short")
	}
	crashworld.Matrix(t, newSite)
}

// TestCrashEditedResume: a resume with an edited plan dies after every
// durable append; resuming again keeps exactly once.
func TestCrashEditedResume(t *testing.T) {
	crashworld.EditedResume(t, newSite)
}

// TestCrashInDoubt kills the run between a step's side effect and its
// record, for every step.
func TestCrashInDoubt(t *testing.T) {
	if testing.Short() {
		t.Skip("crash matrix: not in -short")
	}
	crashworld.InDoubt(t, newSite)
}

// Copy copies the world file and the journal's tables to a fresh schema.
func (s site) Copy(t *testing.T) crashworld.Site {
	c := newSite(t).(site)
	_, err := openJournal(t, c.dsn, c.schema, nil).Version(context.Background())
	require.NoError(t, err)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, table := range []string{"runs", "records", "locks"} {
		_, err := conn.Exec(ctx, `INSERT INTO `+pgx.Identifier{c.schema, table}.Sanitize()+` SELECT * FROM `+pgx.Identifier{s.schema, table}.Sanitize())
		require.NoError(t, err)
	}
	data, err := os.ReadFile(s.world)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(c.world, data, 0o640))
	return c
}
