package postgres_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/providers/postgres"
)

// BenchmarkMigrateUpDown measures one postgres_migrate from 014 to 017 (the
// seed's three migrations, each in its own transaction under the advisory
// lock) followed by its natural rollback back down to 014, on the real
// server.
func BenchmarkMigrateUpDown(b *testing.B) {
	db := newDB(b)
	inst := instance(b, db.DSN)
	migrateTo(b, inst, 14)
	up, err := postgres.NewMigrate(inst, postgres.MigrateArgs{Dir: migrationsDir})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var upTime, downTime time.Duration
	n := 0
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		out, err := up.Do(ctx, env("migrate", nil, nil))
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := up.NaturalRollback().Compensate(ctx, env("migrate", nil, out)); err != nil {
			b.Fatal(err)
		}
		upTime += t1.Sub(t0)
		downTime += time.Since(t1)
		n++
	}
	b.StopTimer()
	b.ReportMetric(upTime.Seconds()*1000/float64(n), "up-ms/op")
	b.ReportMetric(downTime.Seconds()*1000/float64(n), "down-ms/op")
	if v := db.version(b); v != 14 {
		b.Fatalf("version %d after the benchmark, want 14", v)
	}
}

// BenchmarkAnchorPsqlUpDown is the anchor: psql running the same six
// scripts, each with --single-transaction (no lock, no version table).
func BenchmarkAnchorPsqlUpDown(b *testing.B) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		b.Skip("psql not installed")
	}
	db := newDB(b)
	migrateTo(b, instance(b, db.DSN), 14)
	files := []string{
		"015_add_ml_features_table.up.sql", "016_add_analytics_views.up.sql", "017_add_compliance_enhancements.up.sql",
		"017_add_compliance_enhancements.down.sql", "016_add_analytics_views.down.sql", "015_add_ml_features_table.down.sql",
	}
	b.ResetTimer()
	for b.Loop() {
		for _, f := range files {
			out, err := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", db.DSN, "-f", migrationsDir+"/"+f).CombinedOutput()
			if err != nil {
				b.Fatalf("%s: %v: %s", f, err, out)
			}
		}
	}
}

// BenchmarkAnchorPing is a round trip through the provider (SELECT of
// three settings), the unit of latency of everything above.
func BenchmarkAnchorPing(b *testing.B) {
	db := newDB(b)
	ping := postgres.NewPing(instance(b, db.DSN))
	ctx := context.Background()
	if _, err := ping.Do(ctx, env("ping", nil, nil)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := ping.Do(ctx, env("ping", nil, nil)); err != nil {
			b.Fatal(err)
		}
	}
}
