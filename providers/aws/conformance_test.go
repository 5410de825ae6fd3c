package aws_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/providertest"
	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/aws/awsfake"
	"github.com/handrail-dev/handrail/runbook"
)

// ---- the reproduction: a ModifyRule that applies, then resets ----

// shiftThenFail runs the release the issue describes: elbv2_weights to
// 90/10 with two attempts, whose first ModifyRule changes the rule and
// then loses its answer, and a later step that fails.
func shiftThenFail(t *testing.T, inst *aws.Instance) *runbook.Result {
	t.Helper()
	shift, err := aws.NewWeights(inst, aws.WeightsArgs{RuleARN: ruleARN, Weights: map[string]int{oldTG: 90, newTG: 10}})
	require.NoError(t, err)
	b := runbook.NewBuilder("release")
	b.Step(runbook.Step{Name: "traffic", Action: shift, Retry: runbook.Retry{Attempts: 2, Delay: 5 * time.Second}})
	b.Step(runbook.Step{Name: "smoke", Irreversible: true, Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) {
		return nil, runbook.Permanent(errors.New("smoke test failed"))
	})})
	p, err := b.Build()
	require.NoError(t, err)
	ex := &runbook.Executor{Clock: runbook.NewSimClock(time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)), Journal: &runbook.MemJournal{}}
	res, err := ex.Run(context.Background(), p, runbook.RunOptions{RunID: "release-lost-answer"})
	require.Error(t, err)
	require.Equal(t, 2, res.Nodes["traffic"].Attempts, "the first ModifyRule lost its answer, the retry succeeded")
	return res
}

func TestLostModifyRuleAnswerRollsBackOnTheFake(t *testing.T) {
	w := awsfake.New().SetRule(ruleARN, aws.TargetWeight{TargetGroupARN: oldTG, Weight: 100}, aws.TargetWeight{TargetGroupARN: newTG, Weight: 0})
	w.Faults().Arm("ModifyRule", fault.Fault{Kind: fault.After})
	res := shiftThenFail(t, w.Instance("prod"))
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, []string{"traffic"}, res.Compensated)
	assert.Equal(t, map[string]int{oldTG: 100, newTG: 0}, w.Weights(ruleARN), "traffic is back on the old version")
	assert.Equal(t, 1, w.Faults().Fired("ModifyRule"))
}

func TestLostModifyRuleAnswerRollsBackThroughTheSDK(t *testing.T) {
	s, _ := newELBWorld(t, 1)
	var faults fault.Injector
	faults.Arm("ModifyRule", fault.Fault{Kind: fault.After})
	inst, err := aws.NewInstance("prod", sdkConfig("", s.srv.URL), aws.WithClientFactory(sdkFactory(&faults)))
	require.NoError(t, err)
	res := shiftThenFail(t, inst)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, map[string]int{oldTG: 100, newTG: 0}, s.weights(ruleARN), "traffic is back on the old version")
	// The server saw the lost ModifyRule, the retry's (none: the weights
	// were in place) and the rollback's.
	assert.Equal(t, 2, s.count("ModifyRule"))
	assert.Equal(t, 1, faults.Fired("ModifyRule"))
}

// ---- the real SDK, with faults in its HTTP transport ----

func sdkConfig(s3URL, elbURL string) aws.Config {
	return aws.Config{Region: "eu-west-1", AccessKeyID: "AKIDTEST", SecretAccessKey: "s3cr3t-key",
		S3Endpoint: s3URL, S3UsePathStyle: true, ELBv2Endpoint: elbURL, MaxAttempts: 1}
}

// sdkFactory builds the SDK's clients as aws.NewSDKClients does, with a
// transport that injects faults: ModifyRule by its Query action, S3's
// PutObject and DeleteObject by method.
func sdkFactory(faults *fault.Injector) aws.ClientFactory {
	return func(ctx context.Context, cfg aws.Config) (aws.Clients, error) {
		ac, err := aws.LoadSDKConfig(ctx, cfg)
		if err != nil {
			return aws.Clients{}, err
		}
		ac.HTTPClient = &http.Client{Transport: &fault.Transport{Faults: faults, Call: callOf}}
		s3c := s3.NewFromConfig(ac, func(o *s3.Options) {
			o.UsePathStyle = cfg.S3UsePathStyle
			o.BaseEndpoint = sdkaws.String(cfg.S3Endpoint)
		})
		elbc := elb.NewFromConfig(ac, func(o *elb.Options) { o.BaseEndpoint = sdkaws.String(cfg.ELBv2Endpoint) })
		return aws.Clients{S3: aws.NewS3Adapter(s3c), ELBv2: aws.NewELBv2Adapter(elbc)}, nil
	}
}

// callOf names a request: the Query protocol's Action for ELBv2, the S3
// operation otherwise.
func callOf(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && r.Body != nil && !q.Has("uploads") && !q.Has("uploadId") && !q.Has("delete"):
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return ""
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return ""
		}
		return f.Get("Action")
	case r.Method == http.MethodPut && !q.Has("partNumber") && r.Header.Get("X-Amz-Copy-Source") == "":
		return "PutObject"
	case r.Method == http.MethodDelete && !q.Has("uploadId"):
		return "DeleteObject"
	}
	return ""
}

// ---- the conformance suite ----

const (
	assets    = "dcmms-frontend-assets"
	versioned = "dcmms-config-history"
)

func weightsCase(call string) providertest.Case {
	return providertest.Case{Name: "elbv2_weights", Action: "elbv2_weights", Call: call,
		Args: cty.ObjectVal(map[string]cty.Value{"rule_arn": cty.StringVal(ruleARN),
			"weights": cty.MapVal(map[string]cty.Value{oldTG: cty.NumberIntVal(90), newTG: cty.NumberIntVal(10)})}),
		Effect: func(_, after providertest.Snapshot) error {
			return wantEqual(after["rules"], map[string]any{ruleARN: map[string]any{oldTG: 90.0, newTG: 10.0}})
		}}
}

func uploadCase(name, bucket, file, key string, objects func(after providertest.Snapshot) any, want map[string]any) providertest.Case {
	return providertest.Case{Name: name, Action: "s3_upload", Call: "PutObject",
		Args: cty.ObjectVal(map[string]cty.Value{"bucket": cty.StringVal(bucket), "source": cty.StringVal(file), "key": cty.StringVal(key)}),
		Effect: func(_, after providertest.Snapshot) error {
			return wantEqual(objects(after), want)
		}}
}

func wantEqual(got, want any) error {
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	return nil
}

// fakeObjects reads the contents of a bucket's objects from awsfake's
// snapshot.
func fakeObjects(bucket string) func(providertest.Snapshot) any {
	return func(s providertest.Snapshot) any {
		b, _ := s["buckets"].(map[string]any)[bucket].(map[string]any)
		out := map[string]any{}
		for k, o := range b["objects"].(map[string]any) {
			out[k] = o.(map[string]any)["content"]
		}
		return out
	}
}

func TestConformanceFake(t *testing.T) {
	file := filepath.Join(t.TempDir(), "app.js")
	writeFile(t, file, []byte("console.log('0.3.0')"))
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			w := awsfake.New().
				SetRule(ruleARN, aws.TargetWeight{TargetGroupARN: oldTG, Weight: 100}, aws.TargetWeight{TargetGroupARN: newTG, Weight: 0}).
				PutObject(assets, "0.2.9/app.js", []byte("console.log('0.2.9')"), time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)).
				CreateBucket(versioned, true).
				PutObject(versioned, "app.js", []byte("console.log('0.2.9')"), time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
			return providertest.World{Provider: w.Provider(), Config: cty.ObjectVal(map[string]cty.Value{"region": cty.StringVal("eu-west-1")}),
				Snapshot: func(context.Context) (providertest.Snapshot, error) { return w.Snapshot(), nil },
				Inject:   func(call string, f fault.Fault) { w.Faults().Arm(call, f) },
				SetClock: func(c runbook.Clock) { w.SetClock(c.Now) }}
		},
		Cases: []providertest.Case{
			weightsCase("ModifyRule"),
			uploadCase("s3_upload_new_object", assets, file, "0.3.0/app.js", fakeObjects(assets),
				map[string]any{"0.2.9/app.js": "console.log('0.2.9')", "0.3.0/app.js": "console.log('0.3.0')"}),
			uploadCase("s3_upload_over_a_version", versioned, file, "app.js", fakeObjects(versioned),
				map[string]any{"app.js": "console.log('0.3.0')"}),
		},
	}.Run(t)
}

// TestConformanceSDK runs the suite through aws-sdk-go-v2 against the
// Query-protocol ELBv2 server and gofakes3, with faults in the transport.
func TestConformanceSDK(t *testing.T) {
	file := filepath.Join(t.TempDir(), "app.js")
	writeFile(t, file, []byte("console.log('0.3.0')"))
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			s, _ := newELBWorld(t, 1)
			w := newS3World(t, assets)
			w.put(t, assets, "0.2.9/app.js", []byte("console.log('0.2.9')"))
			faults := &fault.Injector{}
			cfg := sdkConfig(w.srv.URL, s.srv.URL)
			return providertest.World{Provider: &aws.Provider{ClientFactory: sdkFactory(faults)},
				Config: cty.ObjectVal(map[string]cty.Value{"region": cty.StringVal(cfg.Region), "access_key_id": cty.StringVal(cfg.AccessKeyID),
					"secret_access_key": cty.StringVal(cfg.SecretAccessKey), "s3_endpoint": cty.StringVal(cfg.S3Endpoint),
					"s3_use_path_style": cty.True, "elbv2_endpoint": cty.StringVal(cfg.ELBv2Endpoint), "max_attempts": cty.NumberIntVal(1)}),
				Snapshot: func(context.Context) (providertest.Snapshot, error) {
					weights := map[string]any{}
					for tg, v := range s.weights(ruleARN) {
						weights[tg] = v
					}
					return providertest.Snapshot{"rules": map[string]any{ruleARN: weights}, "objects": w.snapshot(t, assets)}, nil
				},
				Inject: func(call string, f fault.Fault) { faults.Arm(call, f) },
				// Each simulated process journals to a file journal of
				// its own: the new process reads what the old one wrote
				// from disk.
				Journal: func(t *testing.T) runbook.Journal {
					j, err := filejournal.Open(t.TempDir(), nil)
					require.NoError(t, err)
					t.Cleanup(func() { _ = j.Close() })
					return j
				}}
		},
		Cases: []providertest.Case{
			weightsCase("ModifyRule"),
			uploadCase("s3_upload_new_object", assets, file, "0.3.0/app.js", func(s providertest.Snapshot) any { return s["objects"] },
				map[string]any{"0.2.9/app.js": "console.log('0.2.9')", "0.3.0/app.js": "console.log('0.3.0')"}),
		},
	}.Run(t)
}

// snapshot returns the content of every object of a bucket in gofakes3.
func (w *s3World) snapshot(t *testing.T, bucket string) map[string]any {
	out := map[string]any{}
	for _, k := range w.keys(t, bucket) {
		out[k] = string(w.content(t, bucket, k))
	}
	return out
}
