package pgjournal_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/internal/testenv"

	"github.com/handrail-dev/handrail/runbook"
)

var bt0 = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

// envBenchDSN points the benchmarks at another server than the test one
// (whose fsync is off for speed), e.g. a durable cluster.
const envBenchDSN = "HANDRAIL_BENCH_PG_DSN"

// benchSchema is freshSchema on the benchmark server.
func benchSchema(b *testing.B) (string, string) {
	if dsn := os.Getenv(envBenchDSN); dsn != "" {
		b.Setenv(testenv.EnvPostgresDSN, dsn)
	}
	dsn, schema := freshSchema(b)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	var fsync, sc string
	if err := conn.QueryRow(context.Background(), `SELECT current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&fsync, &sc); err != nil {
		b.Fatal(err)
	}
	b.Logf("server: fsync=%s synchronous_commit=%s", fsync, sc)
	return dsn, schema
}

func benchRecord(run string, i int64) runbook.Record {
	return runbook.Record{Run: run, Kind: runbook.RecNodeSucceeded, Node: fmt.Sprintf("deploy_backend_%d", i), Attempt: 1,
		Time:    bt0.Add(time.Duration(i) * time.Millisecond),
		Outputs: runbook.Outputs{"previous_image": "dcmms/backend:0.2.9", "image": "dcmms/backend:0.3.0", "container_id": "3f2a9c0d1e4b"}}
}

// BenchmarkAppend is the per-record cost of the PostgreSQL journal: one
// Append of one record (one transaction, committed) at a time, next to the
// server's floor measured alternately in the same loop: one single-row
// INSERT committed on its own into a plain table.
func BenchmarkAppend(b *testing.B) {
	dsn, schema := benchSchema(b)
	j := openJournal(b, dsn, schema, nil)
	ctx := context.Background()
	if err := j.Append(ctx, runbook.Record{Run: "bench", Kind: runbook.RecRunStarted, Time: bt0}); err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	floorTable := pgx.Identifier{schema, "floor"}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE TABLE `+floorTable+` (id bigint PRIMARY KEY, data jsonb NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	var floor, journal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := time.Now()
		if _, err := conn.Exec(ctx, `INSERT INTO `+floorTable+` (id, data) VALUES ($1, '{"image":"dcmms/backend:0.3.0"}')`, i); err != nil {
			b.Fatal(err)
		}
		m := time.Now()
		if err := j.Append(ctx, benchRecord("bench", int64(i))); err != nil {
			b.Fatal(err)
		}
		e := time.Now()
		floor += m.Sub(s)
		journal += e.Sub(m)
	}
	b.ReportMetric(float64(floor.Nanoseconds())/float64(b.N), "floor-ns/rec")
	b.ReportMetric(float64(journal.Nanoseconds())/float64(b.N), "journal-ns/rec")
	b.ReportMetric(float64(journal)/float64(floor), "ratio")
}

// BenchmarkAppendConcurrent appends one record per call from 8 goroutines
// per CPU to one run (parallel steps): each call is its own transaction.
func BenchmarkAppendConcurrent(b *testing.B) {
	dsn, schema := benchSchema(b)
	j := openJournal(b, dsn, schema, nil)
	ctx := context.Background()
	if err := j.Append(ctx, runbook.Record{Run: "bench", Kind: runbook.RecRunStarted, Time: bt0}); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := j.Append(ctx, benchRecord("bench", n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLoad loads a run of 200 records.
func BenchmarkLoad(b *testing.B) {
	dsn, schema := benchSchema(b)
	j := openJournal(b, dsn, schema, nil)
	ctx := context.Background()
	recs := make([]runbook.Record, 200)
	for i := range recs {
		recs[i] = benchRecord("bench", int64(i))
	}
	if err := j.Append(ctx, recs...); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := j.Load(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendFenced is the cost of fencing: one AppendFenced (the lock's
// row read FOR SHARE in the same statement) next to one plain Append of the
// same record to another run, alternately in the same loop.
func BenchmarkAppendFenced(b *testing.B) {
	dsn, schema := benchSchema(b)
	j := openJournal(b, dsn, schema, nil)
	ctx := context.Background()
	lease, err := j.Lock(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer lease.Release()
	for _, run := range []string{"plain", "fenced"} {
		if err := j.Append(ctx, runbook.Record{Run: run, Kind: runbook.RecRunStarted, Time: bt0}); err != nil {
			b.Fatal(err)
		}
	}
	var plain, fenced time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < 2; k++ {
			s := time.Now()
			if (i+k)%2 == 0 {
				if err := j.Append(ctx, benchRecord("plain", int64(i))); err != nil {
					b.Fatal(err)
				}
				plain += time.Since(s)
			} else {
				if err := j.AppendFenced(ctx, lease, benchRecord("fenced", int64(i))); err != nil {
					b.Fatal(err)
				}
				fenced += time.Since(s)
			}
		}
	}
	b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "plain-ns/rec")
	b.ReportMetric(float64(fenced.Nanoseconds())/float64(b.N), "fenced-ns/rec")
	b.ReportMetric(float64(fenced)/float64(plain), "ratio")
}
