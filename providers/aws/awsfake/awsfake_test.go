package awsfake_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/aws/awsfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	rule  = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/dcmms/1/2/3"
	oldTG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dcmms-0-2-9/1"
	newTG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dcmms-0-3-0/2"
)

var start = time.Date(2026, 11, 26, 2, 35, 0, 0, time.UTC)

func world() *awsfake.World {
	return awsfake.New().
		PutObject("dcmms-backups", "production/postgres_full_20261126_020000.sql.gz", []byte("dump"), start.Add(-30*time.Minute)).
		SetRule(rule, aws.TargetWeight{TargetGroupARN: oldTG, Weight: 100}, aws.TargetWeight{TargetGroupARN: newTG, Weight: 0}).
		SetTargets(oldTG, "healthy", "i-old-1", "i-old-2").
		SetTargets(newTG, "healthy", "i-new-1", "i-new-2")
}

// rampPlan is the seed's pre-checks, backup upload and traffic ramp: 10%,
// 50%, 100% to the new target group, each watched for 15 minutes.
func rampPlan(t *testing.T, inst *aws.Instance, file string) *runbook.Plan {
	t.Helper()
	exists, err := aws.NewObjectExists(inst, aws.ObjectExistsArgs{Bucket: "dcmms-backups", Prefix: "production/", Date: "%Y%m%d"})
	require.NoError(t, err)
	upload, err := aws.NewUpload(inst, aws.UploadArgs{Bucket: "dcmms-backups", Source: file, Prefix: "production/pre-release-2/"})
	require.NoError(t, err)
	health, err := aws.NewTargetHealth(inst, aws.TargetHealthArgs{TargetGroupARN: newTG})
	require.NoError(t, err)
	b := runbook.NewBuilder("release-2").
		Step(runbook.Step{Name: "backup_exists", Action: exists}).
		Step(runbook.Step{Name: "upload_backup", Action: upload})
	for _, pct := range []int{10, 50, 100} {
		shift, err := aws.NewWeights(inst, aws.WeightsArgs{RuleARN: rule, Weights: map[string]int{oldTG: 100 - pct, newTG: pct}})
		require.NoError(t, err)
		b.Step(runbook.Step{Name: fmt.Sprintf("shift_%d", pct), Action: shift})
		b.Gate(runbook.Gate{Name: fmt.Sprintf("watch_%d", pct), Kind: runbook.GateSoak, Duration: 15 * time.Minute, Every: 30 * time.Second,
			Checks: []runbook.Check{{Name: "healthy", Probe: health, Success: runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) {
				return v.(int64) >= 2, nil
			})}}})
	}
	plan, err := b.Build()
	require.NoError(t, err)
	return plan
}

func TestRampWithFake(t *testing.T) {
	file := filepath.Join(t.TempDir(), "postgres_full_20261126_023000.sql.gz")
	require.NoError(t, os.WriteFile(file, []byte("the pre-release dump"), 0o644))
	tests := []struct {
		name       string
		script     func(w *awsfake.World)
		status     runbook.Status
		weights    map[string]int
		keys       []string
		modifyRule int
	}{
		{"healthy: 0/100 at the end", func(*awsfake.World) {}, runbook.StatusSucceeded,
			map[string]int{oldTG: 0, newTG: 100},
			[]string{"production/postgres_full_20261126_020000.sql.gz", "production/pre-release-2/postgres_full_20261126_023000.sql.gz"}, 3},
		{"new targets unhealthy at minute 20: back at 100/0", func(w *awsfake.World) {
			w.At(start.Add(20*time.Minute), func(w *awsfake.World) { w.SetTargetState(newTG, "i-new-2", "unhealthy") })
		}, runbook.StatusRolledBack, map[string]int{oldTG: 100, newTG: 0},
			[]string{"production/postgres_full_20261126_020000.sql.gz"}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := world()
			clock := runbook.NewSimClock(start)
			w.SetClock(clock.Now)
			tc.script(w)
			res, _ := (&runbook.Executor{Clock: clock}).Run(context.Background(), rampPlan(t, w.Instance("prod"), file), runbook.RunOptions{})
			assert.Equal(t, tc.status, res.Status, "%v", res.Err)
			assert.Equal(t, tc.weights, w.Weights(rule))
			assert.Equal(t, tc.keys, w.Keys("dcmms-backups"), "the rollback deletes the uploaded backup, not the one that was there")
			assert.Len(t, w.Modifications(), tc.modifyRule)
		})
	}
}

func TestNoBackupToday(t *testing.T) {
	w := world().DeleteAll("dcmms-backups", "production/").
		PutObject("dcmms-backups", "production/postgres_full_20261125_020000.sql.gz", []byte("old"), start.Add(-24*time.Hour))
	a, err := aws.NewObjectExists(w.Instance("prod"), aws.ObjectExistsArgs{Bucket: "dcmms-backups", Prefix: "production/", Date: "%Y%m%d"})
	require.NoError(t, err)
	_, err = a.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Clock: runbook.NewSimClock(start)}))
	require.ErrorIs(t, err, aws.ErrNoBackup)
	assert.Contains(t, err.Error(), "the newest is production/postgres_full_20261125_020000.sql.gz")
}

func TestFakeFailures(t *testing.T) {
	w := world()
	inst := w.Instance("prod")
	ctx := context.Background()

	w.Throttle("ModifyRule", 1)
	a, err := aws.NewWeights(inst, aws.WeightsArgs{RuleARN: rule, Weights: map[string]int{newTG: 10, oldTG: 90}})
	require.NoError(t, err)
	_, err = a.Do(ctx, nil)
	require.Error(t, err)
	assert.False(t, runbook.IsPermanent(err), "throttling is retryable")
	assert.Equal(t, map[string]int{oldTG: 100, newTG: 0}, w.Weights(rule))
	_, err = a.Do(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{oldTG: 90, newTG: 10}, w.Weights(rule))

	missing, err := aws.NewWeights(inst, aws.WeightsArgs{RuleARN: rule + "x", Weights: map[string]int{newTG: 10}})
	require.NoError(t, err)
	_, err = missing.Do(ctx, nil)
	var rnf *elbtypes.RuleNotFoundException
	require.True(t, errors.As(err, &rnf))
	assert.True(t, runbook.IsPermanent(err))

	w.SetTargets(newTG, "unhealthy", "i-new-1", "i-new-2")
	h, err := aws.NewTargetHealth(inst, aws.TargetHealthArgs{TargetGroupARN: newTG})
	require.NoError(t, err)
	s, err := h.Sample(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(0), s.Value)
	assert.Equal(t, 1, w.Calls("DescribeTargetHealth"))
}

func TestVersionedUploadRollback(t *testing.T) {
	w := awsfake.New().CreateBucket("assets", true).PutObject("assets", "0.3.0/index.html", []byte("before"), start)
	file := filepath.Join(t.TempDir(), "index.html")
	require.NoError(t, os.WriteFile(file, []byte("after"), 0o644))
	a, err := aws.NewUpload(w.Instance("prod"), aws.UploadArgs{Bucket: "assets", Source: file, Prefix: "0.3.0/"})
	require.NoError(t, err)
	out, err := a.Do(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"0.3.0/index.html": true}, out["existed_before"])
	got, _ := w.Object("assets", "0.3.0/index.html")
	assert.Equal(t, "after", string(got))

	env := runbook.NewEnv(runbook.EnvConfig{Self: out})
	require.NoError(t, a.NaturalRollback().Compensate(context.Background(), env))
	got, _ = w.Object("assets", "0.3.0/index.html")
	assert.Equal(t, "before", string(got), "deleting the step's own version makes the previous one current again")
}

func TestMultipartVerifiedByCompositeSHA256(t *testing.T) {
	w := awsfake.New().CreateBucket("b", false)
	data := make([]byte, 11<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	file := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(file, data, 0o644))
	a, err := aws.NewUpload(w.Instance("prod"), aws.UploadArgs{Bucket: "b", Source: file, Key: "big", PartSize: 5 << 20})
	require.NoError(t, err)
	out, err := a.Do(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"big": "sha256"}, out["verified_by"])
	assert.Contains(t, out["etag"], "-3")

	dl, err := aws.NewDownload(w.Instance("prod"), aws.DownloadArgs{Bucket: "b", Key: "big", File: file + ".down"})
	require.NoError(t, err)
	dout, err := dl.Do(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, out["sha256"].(map[string]any)["big"], dout["sha256"])
}

func TestUploadRetryRecognisesItsOwnObject(t *testing.T) {
	w := awsfake.New().CreateBucket("b", false)
	file := filepath.Join(t.TempDir(), "dump")
	require.NoError(t, os.WriteFile(file, []byte("dump"), 0o644))
	a, err := aws.NewUpload(w.Instance("prod"), aws.UploadArgs{Bucket: "b", Source: file, Key: "dump"})
	require.NoError(t, err)
	env := func(run string) *runbook.Env {
		return runbook.NewEnv(runbook.EnvConfig{Run: runbook.RunInfo{ID: run}, Node: "upload_backup"})
	}
	_, err = a.Do(context.Background(), env("run-1"))
	require.NoError(t, err)
	// The step is retried (or resumed in doubt): its own earlier object is
	// not "pre-existing", so the rollback still deletes it.
	out, err := a.Do(context.Background(), env("run-1"))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"dump": false}, out["existed_before"])
	// Another run's step finds an object that existed before.
	out, err = a.Do(context.Background(), env("run-2"))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"dump": true}, out["existed_before"])
}

func TestObjectExistsFilters(t *testing.T) {
	late := time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC) // already the 27th in Tokyo
	w := awsfake.New().
		PutObject("b", "db/full_20261126.gz", []byte("utc day"), late.Add(-2*time.Hour)).
		PutObject("b", "db/full_20261127.gz", []byte("tokyo day"), late.Add(-10*time.Minute)).
		PutObject("b", "db/full_20261120.gz", []byte("old"), late.Add(-6*24*time.Hour))
	tests := []struct {
		name  string
		args  aws.ObjectExistsArgs
		key   string
		count int64
		err   error
	}{
		{"UTC date", aws.ObjectExistsArgs{Bucket: "b", Prefix: "db/", Date: "%Y%m%d"}, "db/full_20261126.gz", 1, nil},
		{"Tokyo date", aws.ObjectExistsArgs{Bucket: "b", Prefix: "db/", Date: "%Y%m%d", TimeZone: "Asia/Tokyo"}, "db/full_20261127.gz", 1, nil},
		{"max age", aws.ObjectExistsArgs{Bucket: "b", Prefix: "db/", MaxAge: 3 * time.Hour}, "db/full_20261127.gz", 2, nil},
		{"too old", aws.ObjectExistsArgs{Bucket: "b", Prefix: "db/", Pattern: "*20261120*", MaxAge: 24 * time.Hour}, "", 0, aws.ErrNoBackup},
		{"missing bucket", aws.ObjectExistsArgs{Bucket: "nope"}, "", 0, aws.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := aws.NewObjectExists(w.Instance("prod"), tc.args)
			require.NoError(t, err)
			out, err := a.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{Clock: runbook.NewSimClock(late)}))
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Equal(t, errors.Is(tc.err, aws.ErrNotFound), runbook.IsPermanent(err), "a missing bucket is permanent, a missing backup is not")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.key, out["key"])
			assert.Equal(t, tc.count, out["count"])
		})
	}
	_, err := aws.NewObjectExists(w.Instance("prod"), aws.ObjectExistsArgs{Bucket: "b", TimeZone: "Mars/Olympus"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "time_zone \"Mars/Olympus\" is not an IANA zone")
}
