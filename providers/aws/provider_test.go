package aws_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/aws/awsfake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

func TestConfigure(t *testing.T) {
	s := cty.StringVal
	tests := []struct {
		name   string
		config map[string]cty.Value
		want   aws.Config
		err    string
	}{
		{"empty: the standard chain", map[string]cty.Value{}, aws.Config{MaxAttempts: 5}, ""},
		{"everything", map[string]cty.Value{"region": s("eu-west-1"), "profile": s("prod"), "role_arn": s("arn:aws:iam::1:role/deploy"),
			"external_id": s("ext"), "session_name": s("release-2"), "s3_endpoint": s("http://127.0.0.1:9000"),
			"elbv2_endpoint": s("https://elasticloadbalancing.eu-west-1.amazonaws.com"), "s3_use_path_style": cty.True,
			"max_attempts": cty.NumberIntVal(8), "retry_max_backoff": s("2s")},
			aws.Config{Region: "eu-west-1", Profile: "prod", RoleARN: "arn:aws:iam::1:role/deploy", ExternalID: "ext", SessionName: "release-2",
				S3Endpoint: "http://127.0.0.1:9000", ELBv2Endpoint: "https://elasticloadbalancing.eu-west-1.amazonaws.com", S3UsePathStyle: true,
				MaxAttempts: 8, RetryMaxBackoff: 2 * time.Second}, ""},
		{"static keys", map[string]cty.Value{"access_key_id": s("AKID"), "secret_access_key": s("secret")},
			aws.Config{AccessKeyID: "AKID", SecretAccessKey: "secret", MaxAttempts: 5}, ""},
		{"key without secret", map[string]cty.Value{"access_key_id": s("AKID")}, aws.Config{}, "give both access_key_id and secret_access_key"},
		{"token without keys", map[string]cty.Value{"session_token": s("tok")}, aws.Config{}, "session_token needs access_key_id"},
		{"external id without role", map[string]cty.Value{"external_id": s("x")}, aws.Config{}, "external_id and session_name go with role_arn"},
		{"bad endpoint", map[string]cty.Value{"s3_endpoint": s("localhost:9000")}, aws.Config{}, "s3_endpoint \"localhost:9000\" is not a URL"},
		{"max_attempts 0", map[string]cty.Value{"max_attempts": cty.NumberIntVal(0)}, aws.Config{}, "max_attempts: 0 is out of range"},
		{"bad backoff", map[string]cty.Value{"retry_max_backoff": s("soon")}, aws.Config{}, "retry_max_backoff: \"soon\" is not a duration"},
		{"wrong type", map[string]cty.Value{"region": cty.True}, aws.Config{}, "region: want a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got aws.Config
			calls := 0
			p := &aws.Provider{ClientFactory: func(_ context.Context, cfg aws.Config) (aws.Clients, error) {
				calls++
				got = cfg
				return awsfake.New().Instance("x").Clients(context.Background())
			}}
			inst, err := p.Configure(context.Background(), "prod", cty.ObjectVal(tc.config))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Contains(t, err.Error(), "aws.prod")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "aws.prod", inst.Name())
			assert.Equal(t, 0, calls, "Configure does not create clients")
			_, err = inst.(*aws.Instance).Clients(context.Background())
			require.NoError(t, err)
			_, err = inst.(*aws.Instance).Clients(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 1, calls, "clients are created once, on first use")
			assert.Equal(t, tc.want, got)
		})
	}
}

// The HCL path: the provider's action types build actions from cty values.
func TestActionTypes(t *testing.T) {
	w := awsfake.New().
		SetRule(ruleARN, aws.TargetWeight{TargetGroupARN: oldTG, Weight: 100}, aws.TargetWeight{TargetGroupARN: newTG, Weight: 0}).
		SetTargets(newTG, "healthy", "i-1", "i-2")
	p := w.Provider()
	reg, err := provider.NewRegistry(p)
	require.NoError(t, err)
	assert.Equal(t, []string{"elbv2_target_health", "elbv2_weights", "s3_download", "s3_object_exists", "s3_upload"}, reg.ActionNames())
	inst, err := p.Configure(context.Background(), "prod", cty.ObjectVal(map[string]cty.Value{
		"region": cty.StringVal("eu-west-1"), "access_key_id": cty.StringVal("AKID"), "secret_access_key": cty.StringVal("very-secret")}))
	require.NoError(t, err)

	at := p.Actions()["elbv2_weights"]
	assert.True(t, at.NaturalRollback)
	weights := func(old, new int64) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"rule_arn": cty.StringVal(ruleARN),
			"weights": cty.MapVal(map[string]cty.Value{oldTG: cty.NumberIntVal(old), newTG: cty.NumberIntVal(new)})})
	}
	a, err := at.New(inst, weights(90, 10))
	require.NoError(t, err)
	assert.Equal(t, runbook.Description{Provider: "aws.prod", Action: "elbv2_weights"}, runbook.Describe(a))
	env := runbook.NewEnv(runbook.EnvConfig{Node: "shift"})
	out, err := a.Do(context.Background(), env)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{oldTG: 90, newTG: 10}, w.Weights(ruleARN))
	assert.Equal(t, "(sensitive)", env.Redact("very-secret"), "static secrets are registered with the run")
	rb := a.(runbook.NaturalRollback).NaturalRollback()
	require.NoError(t, rb.Compensate(context.Background(), rollbackEnv(t, out)))
	assert.Equal(t, map[string]int{oldTG: 100, newTG: 0}, w.Weights(ruleARN))

	_, err = at.New(inst, weights(1000, 0))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "elbv2_weights: weight 1000")

	probe, err := p.Actions()["elbv2_target_health"].NewProbe(inst, cty.ObjectVal(map[string]cty.Value{"target_group_arn": cty.StringVal(newTG)}))
	require.NoError(t, err)
	smp, err := probe.Sample(context.Background(), env)
	require.NoError(t, err)
	assert.Equal(t, int64(2), smp.Value)

	up, err := p.Actions()["s3_upload"].New(inst, cty.ObjectVal(map[string]cty.Value{"bucket": cty.StringVal("b"), "source": cty.StringVal("x"),
		"part_size": cty.NumberIntVal(1024)}))
	assert.Nil(t, up)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "s3_upload: part_size 1024 is below S3's minimum of 5 MiB")

	_, err = p.Actions()["s3_object_exists"].New(inst, cty.ObjectVal(map[string]cty.Value{"bucket": cty.StringVal("s3://b/production")}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "must be a bare bucket name")

	_, err = p.Actions()["s3_object_exists"].New(inst, cty.ObjectVal(map[string]cty.Value{"bucket": cty.StringVal("b"), "date": cty.StringVal("%Q")}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "%Q is not supported")

	_, err = at.New(&otherInstance{}, weights(1, 1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "provider ssh.lb is not an aws provider")
}

type otherInstance struct{}

func (*otherInstance) Name() string { return "ssh.lb" }

func TestSharedConfigProfile(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(cfgFile, []byte("[profile release]\nregion = ap-southeast-2\n"), 0o600))
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	ac, err := aws.LoadSDKConfig(context.Background(), aws.Config{Profile: "release", MaxAttempts: 3})
	require.NoError(t, err)
	assert.Equal(t, "ap-southeast-2", ac.Region)
	assert.Equal(t, 3, ac.Retryer().MaxAttempts())

	ac, err = aws.LoadSDKConfig(context.Background(), aws.Config{Profile: "release", Region: "eu-central-1", MaxAttempts: 1})
	require.NoError(t, err)
	assert.Equal(t, "eu-central-1", ac.Region, "region overrides the profile")

	_, err = aws.LoadSDKConfig(context.Background(), aws.Config{Profile: "missing"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing")
}

// role_arn + external_id: credentials come from STS AssumeRole (a fake STS
// on the generic endpoint), and the ELBv2 call is signed with them.
func TestAssumeRole(t *testing.T) {
	var mu sync.Mutex
	var assumed url.Values
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		mu.Lock()
		assumed = r.PostForm
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
			`<Credentials><AccessKeyId>ASIAASSUMED</AccessKeyId><SecretAccessKey>assumed-secret</SecretAccessKey>` +
			`<SessionToken>assumed-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>` +
			`<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/deploy/handrail</Arn><AssumedRoleId>AROA:handrail</AssumedRoleId></AssumedRoleUser>` +
			`</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`))
	}))
	t.Cleanup(sts.Close)
	s := newELBServer(t)
	s.key = "ASIAASSUMED"
	s.setRule(ruleARN, elbAction{Type: "forward", Order: 1, TGs: []elbTG{{oldTG, 100}, {newTG, 0}}})
	inst, err := aws.NewInstance("prod", aws.Config{Region: "eu-west-1", AccessKeyID: "AKIDBASE", SecretAccessKey: "base-secret",
		RoleARN: "arn:aws:iam::123456789012:role/deploy", ExternalID: "dcmms-release", Endpoint: sts.URL, ELBv2Endpoint: s.srv.URL})
	require.NoError(t, err)
	a, err := aws.NewWeights(inst, aws.WeightsArgs{RuleARN: ruleARN, Weights: map[string]int{newTG: 10, oldTG: 90}})
	require.NoError(t, err)
	_, err = a.Do(context.Background(), envAt(time.Now()))
	require.NoError(t, err)
	assert.Equal(t, map[string]int{oldTG: 90, newTG: 10}, s.weights(ruleARN))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "AssumeRole", assumed.Get("Action"))
	assert.Equal(t, "arn:aws:iam::123456789012:role/deploy", assumed.Get("RoleArn"))
	assert.Equal(t, "dcmms-release", assumed.Get("ExternalId"))
	assert.Equal(t, aws.DefaultSessionName, assumed.Get("RoleSessionName"))
}
