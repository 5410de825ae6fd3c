package aws_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/aws/awsfake"
	"github.com/handrail-dev/handrail/runbook"
)

// Run with:
//
//	go test ./providers/aws/ -run '^$' -bench . -benchtime 20x
//
// elbv2_weights does DescribeRules (capture), DescribeRules + ModifyRule
// (read-modify-write): three round trips, against the one-call anchor.
// s3_upload of 20 MB hashes the file (SHA-256 + MD5 + per-part MD5s),
// HEADs the key, uploads 4 parts of 5 MB, against a bare SDK PutObject of
// the same 20 MB and the hashing alone.

func BenchmarkELBv2Weights(b *testing.B) {
	ctx := context.Background()
	b.Run("sdk-query-server", func(b *testing.B) {
		_, inst := newELBWorld(b, 3)
		a := [2]*aws.WeightsAction{}
		a[0], _ = aws.NewWeights(inst, aws.WeightsArgs{RuleARN: ruleARN, Weights: map[string]int{oldTG: 90, newTG: 10}})
		a[1], _ = aws.NewWeights(inst, aws.WeightsArgs{RuleARN: ruleARN, Weights: map[string]int{oldTG: 10, newTG: 90}})
		env := runbook.NewEnv(runbook.EnvConfig{})
		if _, err := a[1].Do(ctx, env); err != nil { // create the clients
			b.Fatal(err)
		}
		b.ResetTimer()
		c0 := cpuTime()
		defer reportCPU(b, c0)
		for i := 0; i < b.N; i++ {
			if _, err := a[i%2].Do(ctx, env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("anchor-sdk-describe-rules", func(b *testing.B) {
		s, _ := newELBWorld(b, 3)
		ac, err := aws.LoadSDKConfig(ctx, aws.Config{Region: "eu-west-1", AccessKeyID: "AKIDTEST", SecretAccessKey: "x", MaxAttempts: 1})
		if err != nil {
			b.Fatal(err)
		}
		c := elb.NewFromConfig(ac, func(o *elb.Options) { o.BaseEndpoint = sdkaws.String(s.srv.URL) })
		b.ResetTimer()
		c0 := cpuTime()
		defer reportCPU(b, c0)
		for i := 0; i < b.N; i++ {
			if _, err := c.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{ruleARN}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("awsfake", func(b *testing.B) {
		w := awsfake.New().SetRule(ruleARN, aws.TargetWeight{TargetGroupARN: oldTG, Weight: 100}, aws.TargetWeight{TargetGroupARN: newTG, Weight: 0})
		inst := w.Instance("prod")
		a := [2]*aws.WeightsAction{}
		a[0], _ = aws.NewWeights(inst, aws.WeightsArgs{RuleARN: ruleARN, Weights: map[string]int{oldTG: 90, newTG: 10}})
		a[1], _ = aws.NewWeights(inst, aws.WeightsArgs{RuleARN: ruleARN, Weights: map[string]int{oldTG: 10, newTG: 90}})
		env := runbook.NewEnv(runbook.EnvConfig{})
		if _, err := a[1].Do(ctx, env); err != nil { // create the clients
			b.Fatal(err)
		}
		b.ResetTimer()
		c0 := cpuTime()
		defer reportCPU(b, c0)
		for i := 0; i < b.N; i++ {
			if _, err := a[i%2].Do(ctx, env); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkS3Upload20MB(b *testing.B) {
	ctx := context.Background()
	data := randomBytes(b, 20<<20)
	file := filepath.Join(b.TempDir(), "big.bin")
	writeFile(b, file, data)
	args := aws.UploadArgs{Bucket: "bench", Source: file, Key: "big.bin", PartSize: 5 << 20, Concurrency: 4}
	b.Run("sdk-gofakes3", func(b *testing.B) {
		w := newS3World(b, "bench")
		a, err := aws.NewUpload(w.inst, args)
		if err != nil {
			b.Fatal(err)
		}
		env := runbook.NewEnv(runbook.EnvConfig{})
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
		c0 := cpuTime()
		defer reportCPU(b, c0)
		for i := 0; i < b.N; i++ {
			if _, err := a.Do(ctx, env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("anchor-sdk-putobject", func(b *testing.B) {
		w := newS3World(b, "bench")
		ac, err := aws.LoadSDKConfig(ctx, aws.Config{Region: "eu-west-1", AccessKeyID: "AKIDTEST", SecretAccessKey: "x", MaxAttempts: 1})
		if err != nil {
			b.Fatal(err)
		}
		c := s3.NewFromConfig(ac, func(o *s3.Options) { o.BaseEndpoint = sdkaws.String(w.srv.URL); o.UsePathStyle = true })
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
		c0 := cpuTime()
		defer reportCPU(b, c0)
		for i := 0; i < b.N; i++ {
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: sdkaws.String("bench"), Key: sdkaws.String("raw.bin"), Body: bytes.NewReader(data)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("anchor-hash-sha256-md5", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		c0 := cpuTime()
		defer reportCPU(b, c0)
		for i := 0; i < b.N; i++ {
			_ = sha256.Sum256(data)
			_ = md5.Sum(data)
		}
	})
	b.Run("awsfake", func(b *testing.B) {
		w := awsfake.New().CreateBucket("bench", false).SetClock(func() time.Time { return time.Unix(0, 0) })
		a, err := aws.NewUpload(w.Instance("prod"), args)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
		c0 := cpuTime()
		defer reportCPU(b, c0)
		for i := 0; i < b.N; i++ {
			if _, err := a.Do(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU reports the process CPU time per operation since c0.
func reportCPU(b *testing.B, c0 time.Duration) {
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
