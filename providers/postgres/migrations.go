package postgres

import (
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/handrail-dev/handrail/internal/lazyre"
)

// Migration is one version of a migration directory: its up and, when
// present, its down script.
type Migration struct {
	Version int64
	// Name is the part after the version ("add_ml_features_table").
	Name string
	// UpFile and DownFile are the file names ("015_add_ml_features_table.up.sql");
	// DownFile is empty when the migration has no down script.
	UpFile, DownFile string
	Up, Down         string
}

// MigrationSet is a directory of migrations, sorted by version.
type MigrationSet struct {
	Migrations []Migration
}

// migrationFile is golang-migrate's file name layout:
// {version}_{title}.{up|down}.{extension}.
var migrationFile = lazyre.New(`^([0-9]+)_(.*)\.(up|down)\.sql$`)

// LoadMigrations reads every `NNN_name.up.sql` / `NNN_name.down.sql` file of
// the root of fsys (golang-migrate's layout). Other files are ignored. It
// fails on a version given twice, a down script without an up script, or a
// version of 0 (reserved for "no migration applied").
func LoadMigrations(fsys fs.FS, source string) (*MigrationSet, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrMigrations, source, err)
	}
	byVersion := map[int64]*Migration{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %s/%s: version %q is not a number PostgreSQL's bigint holds", ErrMigrations, source, e.Name(), m[1])
		}
		if v == 0 {
			return nil, fmt.Errorf("%w: %s/%s: version 0 is reserved for \"no migration applied\": number migrations from 1", ErrMigrations, source, e.Name())
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("%w: read %s/%s: %w", ErrMigrations, source, e.Name(), err)
		}
		if !utf8.Valid(body) {
			return nil, fmt.Errorf("%w: %s/%s is not UTF-8 text", ErrMigrations, source, e.Name())
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		}
		switch m[3] {
		case "up":
			if mig.UpFile != "" {
				return nil, fmt.Errorf("%w: %s: version %d has two up scripts, %s and %s", ErrMigrations, source, v, mig.UpFile, e.Name())
			}
			mig.UpFile, mig.Up = e.Name(), string(body)
		case "down":
			if mig.DownFile != "" {
				return nil, fmt.Errorf("%w: %s: version %d has two down scripts, %s and %s", ErrMigrations, source, v, mig.DownFile, e.Name())
			}
			mig.DownFile, mig.Down = e.Name(), string(body)
		}
	}
	set := &MigrationSet{}
	for _, m := range byVersion {
		if m.UpFile == "" {
			return nil, fmt.Errorf("%w: %s: %s has no matching up script", ErrMigrations, source, m.DownFile)
		}
		set.Migrations = append(set.Migrations, *m)
	}
	sort.Slice(set.Migrations, func(i, j int) bool { return set.Migrations[i].Version < set.Migrations[j].Version })
	return set, nil
}

// Latest returns the highest version of the set, 0 when it is empty.
func (s *MigrationSet) Latest() int64 {
	if s == nil || len(s.Migrations) == 0 {
		return 0
	}
	return s.Migrations[len(s.Migrations)-1].Version
}

// Find returns the migration of a version.
func (s *MigrationSet) Find(v int64) (Migration, bool) {
	if s == nil {
		return Migration{}, false
	}
	i := sort.Search(len(s.Migrations), func(i int) bool { return s.Migrations[i].Version >= v })
	if i < len(s.Migrations) && s.Migrations[i].Version == v {
		return s.Migrations[i], true
	}
	return Migration{}, false
}

// Direction says whether a planned migration runs its up or down script.
type Direction string

// Directions.
const (
	Up   Direction = "up"
	Down Direction = "down"
)

// PlannedMigration is one script to run.
type PlannedMigration struct {
	Migration Migration
	Direction Direction
	// File and SQL are the script's file name and text.
	File, SQL string
	// After is the version recorded once the script ran: the migration's
	// own version going up, the previous version of the set going down (0
	// when none is left).
	After int64
}

// PlanMigrations returns the scripts that bring a database at version
// current to target (nil: the set's latest): up scripts in ascending order,
// or down scripts in descending order. current 0 means no migration
// applied; target 0 means every migration down. source names the set in
// errors.
func PlanMigrations(set *MigrationSet, source string, current int64, target *int64) ([]PlannedMigration, error) {
	to := set.Latest()
	if target != nil {
		to = *target
	}
	if to < 0 {
		return nil, fmt.Errorf("%w: target version %d is negative: give a version of %s or 0 for none", ErrMigrations, to, source)
	}
	if current != 0 {
		if _, ok := set.Find(current); !ok {
			return nil, fmt.Errorf("%w: the database is at version %d, which has no script in %s: is this the right directory?", ErrMigrations, current, source)
		}
	}
	if to != 0 {
		if _, ok := set.Find(to); !ok {
			return nil, fmt.Errorf("%w: target version %d has no script in %s (versions there: %s)", ErrMigrations, to, source, versionList(set))
		}
	}
	var plan []PlannedMigration
	switch {
	case to > current:
		for _, m := range set.Migrations {
			if m.Version > current && m.Version <= to {
				plan = append(plan, PlannedMigration{Migration: m, Direction: Up, File: m.UpFile, SQL: m.Up, After: m.Version})
			}
		}
	case to < current:
		for i := len(set.Migrations) - 1; i >= 0; i-- {
			m := set.Migrations[i]
			if m.Version <= to || m.Version > current {
				continue
			}
			if m.DownFile == "" {
				return nil, fmt.Errorf("%w: cannot migrate down from %d to %d: version %d (%s) has no down script in %s", ErrMigrations, current, to, m.Version, m.UpFile, source)
			}
			var after int64
			if i > 0 {
				after = set.Migrations[i-1].Version
			}
			plan = append(plan, PlannedMigration{Migration: m, Direction: Down, File: m.DownFile, SQL: m.Down, After: after})
		}
	}
	return plan, nil
}

func versionList(set *MigrationSet) string {
	if set == nil || len(set.Migrations) == 0 {
		return "none"
	}
	first, last := set.Migrations[0].Version, set.Latest()
	if first == last {
		return strconv.FormatInt(first, 10)
	}
	return fmt.Sprintf("%d to %d", first, last)
}

// FormatVersion renders a schema version for messages: the number, or
// "none" for 0.
func FormatVersion(v int64) string {
	if v == 0 {
		return "none"
	}
	return strconv.FormatInt(v, 10)
}

// LineColumn converts a 1-based character position in text (as PostgreSQL
// reports an error's position in a query) into a 1-based line and column.
// It returns 0, 0 for a position outside text.
func LineColumn(text string, position int) (line, column int) {
	if position < 1 {
		return 0, 0
	}
	line, column = 1, 1
	n := 1
	for _, r := range text {
		if n == position {
			return line, column
		}
		if r == '\n' {
			line++
			column = 1
		} else {
			column++
		}
		n++
	}
	if n == position {
		return line, column
	}
	return 0, 0
}
