package postgres

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLineColumn(t *testing.T) {
	text := "-- é comment\nSELECT 1;\n\nSELEC 2;"
	tests := []struct {
		pos, line, col int
	}{
		{1, 1, 1},
		{4, 1, 4}, // é counts as one character, as PostgreSQL counts them
		{14, 2, 1},
		{24, 3, 1},
		{25, 4, 1},
		{len([]rune(text)) + 1, 4, 9},
		{0, 0, 0},
		{1000, 0, 0},
	}
	for _, tt := range tests {
		l, c := LineColumn(text, tt.pos)
		assert.Equal(t, [2]int{tt.line, tt.col}, [2]int{l, c}, "position %d", tt.pos)
	}
}

func seedSet(t *testing.T) *MigrationSet {
	t.Helper()
	fsys := fstest.MapFS{
		"001_init.up.sql":    {Data: []byte("CREATE TABLE a ();")},
		"001_init.down.sql":  {Data: []byte("DROP TABLE a;")},
		"014_sla.up.sql":     {Data: []byte("-- 14")},
		"014_sla.down.sql":   {Data: []byte("-- 14 down")},
		"015_ml.up.sql":      {Data: []byte("-- 15")},
		"015_ml.down.sql":    {Data: []byte("-- 15 down")},
		"016_views.up.sql":   {Data: []byte("-- 16")},
		"017_compl.up.sql":   {Data: []byte("-- 17")},
		"017_compl.down.sql": {Data: []byte("-- 17 down")},
		"README.md":          {Data: []byte("ignored")},
		"sub/002_x.up.sql":   {Data: []byte("ignored: not at the root")},
	}
	set, err := LoadMigrations(fsys, "migrations")
	require.NoError(t, err)
	return set
}

func files(plan []PlannedMigration) []string {
	var out []string
	for _, p := range plan {
		out = append(out, p.File)
	}
	return out
}

func TestPlanMigrations(t *testing.T) {
	set := seedSet(t)
	assert.Equal(t, int64(17), set.Latest())
	v := func(i int64) *int64 { return &i }
	tests := []struct {
		name    string
		current int64
		target  *int64
		want    []string
		after   []int64
		wantErr string
	}{
		{name: "up to latest", current: 14, want: []string{"015_ml.up.sql", "016_views.up.sql", "017_compl.up.sql"}, after: []int64{15, 16, 17}},
		{name: "up to 15", current: 14, target: v(15), want: []string{"015_ml.up.sql"}, after: []int64{15}},
		{name: "from nothing", current: 0, target: v(14), want: []string{"001_init.up.sql", "014_sla.up.sql"}, after: []int64{1, 14}},
		{name: "nothing to do", current: 17},
		{name: "down to 15", current: 17, target: v(15), wantErr: "version 16 (016_views.up.sql) has no down script"},
		{name: "down to 14 from 15", current: 15, target: v(14), want: []string{"015_ml.down.sql"}, after: []int64{14}},
		{name: "all down", current: 14, target: v(0), want: []string{"014_sla.down.sql", "001_init.down.sql"}, after: []int64{1, 0}},
		{name: "unknown current", current: 13, wantErr: "the database is at version 13, which has no script in migrations"},
		{name: "unknown target", current: 14, target: v(20), wantErr: "target version 20 has no script in migrations (versions there: 1 to 17)"},
		{name: "negative target", current: 14, target: v(-1), wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := PlanMigrations(set, "migrations", tt.current, tt.target)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrMigrations)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, files(plan))
			var after []int64
			for _, p := range plan {
				after = append(after, p.After)
			}
			assert.Equal(t, tt.after, after)
		})
	}
}

func TestLoadMigrationsErrors(t *testing.T) {
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		wantErr string
	}{
		{"two ups", fstest.MapFS{"015_a.up.sql": {}, "015_b.up.sql": {}}, "version 15 has two up scripts, 015_a.up.sql and 015_b.up.sql"},
		{"down only", fstest.MapFS{"015_a.down.sql": {}}, "015_a.down.sql has no matching up script"},
		{"version zero", fstest.MapFS{"000_a.up.sql": {}}, "version 0 is reserved"},
		{"huge version", fstest.MapFS{"99999999999999999999_a.up.sql": {}}, "is not a number PostgreSQL's bigint holds"},
		{"not utf-8", fstest.MapFS{"001_a.up.sql": {Data: []byte{0xff, 0xfe}}}, "is not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadMigrations(tt.fsys, "migrations")
			require.ErrorIs(t, err, ErrMigrations)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestRedaction(t *testing.T) {
	const dsn = "postgres://dcmms:p%40ss-W0rd@db:5432/dcmms"
	tests := []struct{ in, want string }{
		{"failed to connect to `user=dcmms database=dcmms`: " + dsn, "failed to connect to `user=dcmms database=dcmms`: (sensitive dsn)"},
		{"password p@ss-W0rd rejected", "password (sensitive) rejected"},
		{"encoded p%40ss-W0rd", "encoded (sensitive)"},
		{"other url postgres://x:y@h/db", "other url postgres://x:(sensitive)@h/db"},
		{"host=h password='a b' user=u", "host=h password=(sensitive) user=u"},
		{"host=h password=abc user=u", "host=h password=(sensitive) user=u"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, redactText(tt.in, dsn, "p@ss-W0rd"))
	}
	ce := &cleanError{msg: "redacted", err: ErrConnect}
	assert.True(t, errors.Is(ce, ErrConnect))
}

func TestDSNWithoutPassword(t *testing.T) {
	assert.Equal(t, "postgres://dcmms@db:5432/dcmms?sslmode=require", dsnWithoutPassword("postgres://dcmms:secret@db:5432/dcmms?sslmode=require"))
	assert.Equal(t, "postgres://db/dcmms", dsnWithoutPassword("postgres://db/dcmms"))
	assert.Equal(t, "host=db user=u  dbname=x", dsnWithoutPassword("host=db user=u password=secret dbname=x"))
}

func TestSameValue(t *testing.T) {
	assert.True(t, sameValue(int64(14), "014"))
	assert.True(t, sameValue(int64(14), "14"))
	assert.True(t, sameValue(1.5, "1.50"))
	assert.True(t, sameValue("abc", "abc"))
	assert.True(t, sameValue(nil, "null"))
	assert.True(t, sameValue(true, "true"))
	assert.False(t, sameValue(int64(15), "014"))
	assert.False(t, sameValue("abc", "abd"))
}
