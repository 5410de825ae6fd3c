package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
)

// DefaultSessionName is the role session name when role_arn is given
// without session_name.
const DefaultSessionName = "handrail"

// LoadSDKConfig loads the SDK configuration of cfg with
// config.LoadDefaultConfig: the environment, the shared config and
// credentials files (Profile, SSO and web-identity profiles included),
// container and instance roles; then static credentials when given, and
// an assumed role (stscreds) when RoleARN is set. It reads local files only:
// credentials are fetched on the first call.
func LoadSDKConfig(ctx context.Context, cfg Config) (sdkaws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		// A library never logs to the process's stderr.
		config.WithLogger(logging.Nop{}),
		config.WithRetryer(func() sdkaws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = max(cfg.MaxAttempts, 1)
				if cfg.RetryMaxBackoff > 0 {
					o.MaxBackoff = cfg.RetryMaxBackoff
				}
			})
		}),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(cfg.Endpoint))
	}
	ac, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return sdkaws.Config{}, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.RoleARN != "" {
		name := cfg.SessionName
		if name == "" {
			name = DefaultSessionName
		}
		p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(ac), cfg.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = name
			if cfg.ExternalID != "" {
				o.ExternalID = sdkaws.String(cfg.ExternalID)
			}
		})
		ac.Credentials = sdkaws.NewCredentialsCache(p)
	}
	return ac, nil
}

// NewSDKClients is the real [ClientFactory]: S3 and ELBv2 clients of
// aws-sdk-go-v2 on the configuration [LoadSDKConfig] loads.
func NewSDKClients(ctx context.Context, cfg Config) (Clients, error) {
	ac, err := LoadSDKConfig(ctx, cfg)
	if err != nil {
		return Clients{}, err
	}
	s3c := s3.NewFromConfig(ac, func(o *s3.Options) {
		o.UsePathStyle = cfg.S3UsePathStyle
		if cfg.S3Endpoint != "" {
			o.BaseEndpoint = sdkaws.String(cfg.S3Endpoint)
		}
	})
	elbc := elb.NewFromConfig(ac, func(o *elb.Options) {
		if cfg.ELBv2Endpoint != "" {
			o.BaseEndpoint = sdkaws.String(cfg.ELBv2Endpoint)
		}
	})
	return Clients{S3: NewS3Adapter(s3c), ELBv2: NewELBv2Adapter(elbc)}, nil
}

// ---- S3 ----

// S3API is the part of *s3.Client the adapter uses (the transfer
// manager's upload and download operations included).
type S3API interface {
	manager.UploadAPIClient
	manager.DownloadAPIClient
	s3.ListObjectsV2APIClient
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// S3Adapter is the real [S3Client] on aws-sdk-go-v2. Uploads and downloads
// go through feature/s3/manager, the SDK's v1 transfer manager: parts in
// parallel, a multipart upload aborted on failure. (Its successor,
// feature/s3/transfermanager, is still v0.x; the adapter is the only code
// that knows which one is used.)
type S3Adapter struct {
	c S3API
}

// NewS3Adapter wraps an S3 client.
func NewS3Adapter(c S3API) *S3Adapter { return &S3Adapter{c: c} }

var _ S3Client = (*S3Adapter)(nil)

// ListObjects lists every page of keys under prefix.
func (a *S3Adapter) ListObjects(ctx context.Context, bucket, prefix string) ([]Object, error) {
	in := &s3.ListObjectsV2Input{Bucket: sdkaws.String(bucket)}
	if prefix != "" {
		in.Prefix = sdkaws.String(prefix)
	}
	var out []Object
	for p := s3.NewListObjectsV2Paginator(a.c, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s3Error(fmt.Sprintf("listing s3://%s/%s", bucket, prefix), err)
		}
		for _, o := range page.Contents {
			out = append(out, Object{Bucket: bucket, Key: sdkaws.ToString(o.Key), Size: sdkaws.ToInt64(o.Size),
				LastModified: sdkaws.ToTime(o.LastModified), ETag: unquote(sdkaws.ToString(o.ETag))})
		}
	}
	return out, nil
}

// HeadObject describes an object, its stored checksum included.
func (a *S3Adapter) HeadObject(ctx context.Context, bucket, key string) (Object, error) {
	h, err := a.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: sdkaws.String(bucket), Key: sdkaws.String(key),
		ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		return Object{}, s3Error(fmt.Sprintf("s3://%s/%s", bucket, key), err)
	}
	return Object{Bucket: bucket, Key: key, Size: sdkaws.ToInt64(h.ContentLength), LastModified: sdkaws.ToTime(h.LastModified),
		ETag: unquote(sdkaws.ToString(h.ETag)), VersionID: sdkaws.ToString(h.VersionId),
		ChecksumSHA256: sdkaws.ToString(h.ChecksumSHA256), Metadata: lowerKeys(h.Metadata)}, nil
}

// PutObject uploads with the transfer manager: one PutObject carrying the
// body's SHA-256 (S3 checks it) up to the part size, else a multipart
// upload with a SHA-256 per part.
func (a *S3Adapter) PutObject(ctx context.Context, req PutRequest) (PutResult, error) {
	ps := PartSize(req.Size, req.PartSize)
	//lint:ignore SA1019 feature/s3/manager is deprecated in favour of feature/s3/transfermanager, a separate module whose move needs its own tests against gofakes3; manager still ships and works.
	up := manager.NewUploader(a.c, func(u *manager.Uploader) {
		u.PartSize = ps
		if req.Concurrency > 0 {
			u.Concurrency = req.Concurrency
		}
	})
	in := &s3.PutObjectInput{Bucket: sdkaws.String(req.Bucket), Key: sdkaws.String(req.Key),
		Body: io.NewSectionReader(req.Body, 0, req.Size), Metadata: req.Metadata}
	if req.ContentType != "" {
		in.ContentType = sdkaws.String(req.ContentType)
	}
	if Parts(req.Size, ps) == 0 && len(req.SHA256) > 0 {
		in.ChecksumSHA256 = sdkaws.String(b64(req.SHA256))
	} else {
		in.ChecksumAlgorithm = s3types.ChecksumAlgorithmSha256
	}
	//lint:ignore SA1019 feature/s3/manager is deprecated in favour of feature/s3/transfermanager, a separate module whose move needs its own tests against gofakes3; manager still ships and works.
	out, err := up.Upload(ctx, in)
	if err != nil {
		return PutResult{}, s3Error(fmt.Sprintf("uploading s3://%s/%s", req.Bucket, req.Key), err)
	}
	return PutResult{ETag: unquote(sdkaws.ToString(out.ETag)), VersionID: sdkaws.ToString(out.VersionID),
		ChecksumSHA256: sdkaws.ToString(out.ChecksumSHA256), Parts: len(out.CompletedParts)}, nil
}

// GetObject heads the object, then downloads that very version (If-Match
// its ETag) with the transfer manager.
func (a *S3Adapter) GetObject(ctx context.Context, req GetRequest) (Object, error) {
	obj, err := a.HeadObject(ctx, req.Bucket, req.Key)
	if err != nil {
		return Object{}, err
	}
	//lint:ignore SA1019 feature/s3/manager is deprecated in favour of feature/s3/transfermanager, a separate module whose move needs its own tests against gofakes3; manager still ships and works.
	dl := manager.NewDownloader(a.c, func(d *manager.Downloader) {
		if req.PartSize > 0 {
			d.PartSize = req.PartSize
		}
		if req.Concurrency > 0 {
			d.Concurrency = req.Concurrency
		}
	})
	in := &s3.GetObjectInput{Bucket: sdkaws.String(req.Bucket), Key: sdkaws.String(req.Key)}
	if obj.VersionID != "" {
		in.VersionId = sdkaws.String(obj.VersionID)
	}
	if obj.ETag != "" {
		in.IfMatch = sdkaws.String(`"` + obj.ETag + `"`)
	}
	//lint:ignore SA1019 feature/s3/manager is deprecated in favour of feature/s3/transfermanager, a separate module whose move needs its own tests against gofakes3; manager still ships and works.
	if _, err := dl.Download(ctx, req.Dst, in); err != nil {
		return Object{}, s3Error(fmt.Sprintf("downloading s3://%s/%s", req.Bucket, req.Key), err)
	}
	return obj, nil
}

// DeleteObject deletes an object (or one version of it).
func (a *S3Adapter) DeleteObject(ctx context.Context, bucket, key, versionID string) error {
	in := &s3.DeleteObjectInput{Bucket: sdkaws.String(bucket), Key: sdkaws.String(key)}
	if versionID != "" {
		in.VersionId = sdkaws.String(versionID)
	}
	if _, err := a.c.DeleteObject(ctx, in); err != nil {
		err = s3Error(fmt.Sprintf("deleting s3://%s/%s", bucket, key), err)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// s3Error wraps an SDK error, adding ErrNotFound for missing keys and
// buckets (the SDK's typed error stays reachable with errors.As).
func s3Error(what string, err error) error {
	var nsk *s3types.NoSuchKey
	var nf *s3types.NotFound
	var nsb *s3types.NoSuchBucket
	var api smithy.APIError
	switch {
	case errors.As(err, &nsk), errors.As(err, &nf), errors.As(err, &nsb),
		errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NoSuchBucket"):
		return fmt.Errorf("%s: %w: %w", what, ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func unquote(etag string) string { return strings.Trim(etag, `"`) }

func lowerKeys(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// ---- ELBv2 ----

// ELBv2API is the part of *elasticloadbalancingv2.Client the adapter uses.
type ELBv2API interface {
	DescribeRules(ctx context.Context, in *elb.DescribeRulesInput, opts ...func(*elb.Options)) (*elb.DescribeRulesOutput, error)
	ModifyRule(ctx context.Context, in *elb.ModifyRuleInput, opts ...func(*elb.Options)) (*elb.ModifyRuleOutput, error)
	DescribeTargetHealth(ctx context.Context, in *elb.DescribeTargetHealthInput, opts ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error)
}

// ELBv2Adapter is the real [ELBv2Client] on aws-sdk-go-v2. Throttling and
// other retryable errors are retried by the SDK's retryer (max_attempts);
// errors reach the caller wrapped, so that errors.As finds
// *types.RuleNotFoundException and the other typed errors.
type ELBv2Adapter struct {
	c ELBv2API
}

// NewELBv2Adapter wraps an ELBv2 client.
func NewELBv2Adapter(c ELBv2API) *ELBv2Adapter { return &ELBv2Adapter{c: c} }

var _ ELBv2Client = (*ELBv2Adapter)(nil)

func (a *ELBv2Adapter) rule(ctx context.Context, ruleARN string) (elbtypes.Rule, int, error) {
	out, err := a.c.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{ruleARN}})
	if err != nil {
		return elbtypes.Rule{}, -1, fmt.Errorf("describing rule %s: %w", ruleARN, err)
	}
	if len(out.Rules) != 1 {
		return elbtypes.Rule{}, -1, fmt.Errorf("describing rule %s: %w", ruleARN, &elbtypes.RuleNotFoundException{Message: sdkaws.String("no such rule")})
	}
	r := out.Rules[0]
	for i, act := range r.Actions {
		if act.Type == elbtypes.ActionTypeEnumForward {
			return r, i, nil
		}
	}
	types := make([]string, 0, len(r.Actions))
	for _, act := range r.Actions {
		types = append(types, string(act.Type))
	}
	return r, -1, fmt.Errorf("%w: rule %s has no forward action (its actions: %s)", ErrRule, ruleARN, strings.Join(types, ", "))
}

// ForwardWeights reads the rule's forward action.
func (a *ELBv2Adapter) ForwardWeights(ctx context.Context, ruleARN string) ([]TargetWeight, error) {
	r, i, err := a.rule(ctx, ruleARN)
	if err != nil {
		return nil, err
	}
	act := r.Actions[i]
	if act.ForwardConfig != nil && len(act.ForwardConfig.TargetGroups) > 0 {
		out := make([]TargetWeight, 0, len(act.ForwardConfig.TargetGroups))
		for _, tg := range act.ForwardConfig.TargetGroups {
			w := 1
			if tg.Weight != nil {
				w = int(*tg.Weight)
			}
			out = append(out, TargetWeight{TargetGroupARN: sdkaws.ToString(tg.TargetGroupArn), Weight: w})
		}
		return out, nil
	}
	if act.TargetGroupArn != nil {
		return []TargetWeight{{TargetGroupARN: *act.TargetGroupArn, Weight: 1}}, nil
	}
	return nil, fmt.Errorf("%w: the forward action of rule %s names no target group", ErrRule, ruleARN)
}

// SetForwardWeights reads the rule, replaces the forward action's target
// groups and sends every action back with ModifyRule (which replaces the
// whole list); conditions are left alone.
func (a *ELBv2Adapter) SetForwardWeights(ctx context.Context, ruleARN string, weights []TargetWeight) error {
	r, i, err := a.rule(ctx, ruleARN)
	if err != nil {
		return err
	}
	acts := make([]elbtypes.Action, len(r.Actions))
	copy(acts, r.Actions)
	fwd := acts[i]
	fc := &elbtypes.ForwardActionConfig{}
	if fwd.ForwardConfig != nil {
		fc.TargetGroupStickinessConfig = fwd.ForwardConfig.TargetGroupStickinessConfig
	}
	for _, w := range weights {
		fc.TargetGroups = append(fc.TargetGroups, elbtypes.TargetGroupTuple{TargetGroupArn: sdkaws.String(w.TargetGroupARN), Weight: sdkaws.Int32(int32(w.Weight))})
	}
	fwd.ForwardConfig, fwd.TargetGroupArn = fc, nil
	acts[i] = fwd
	for j := range acts {
		// Describe never returns an OIDC client secret: keep the stored one.
		if oc := acts[j].AuthenticateOidcConfig; oc != nil && oc.ClientSecret == nil {
			c := *oc
			c.UseExistingClientSecret = sdkaws.Bool(true)
			acts[j].AuthenticateOidcConfig = &c
		}
	}
	if _, err := a.c.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: sdkaws.String(ruleARN), Actions: acts}); err != nil {
		return fmt.Errorf("modifying rule %s: %w", ruleARN, err)
	}
	return nil
}

// TargetHealth describes every registered target of a group.
func (a *ELBv2Adapter) TargetHealth(ctx context.Context, targetGroupARN string) ([]TargetHealth, error) {
	out, err := a.c.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: sdkaws.String(targetGroupARN)})
	if err != nil {
		return nil, fmt.Errorf("describing the health of %s: %w", targetGroupARN, err)
	}
	th := make([]TargetHealth, 0, len(out.TargetHealthDescriptions))
	for _, d := range out.TargetHealthDescriptions {
		t := TargetHealth{}
		if d.Target != nil {
			t.ID, t.Port = sdkaws.ToString(d.Target.Id), int(sdkaws.ToInt32(d.Target.Port))
		}
		if d.TargetHealth != nil {
			t.State, t.Reason, t.Description = string(d.TargetHealth.State), string(d.TargetHealth.Reason), sdkaws.ToString(d.TargetHealth.Description)
		}
		th = append(th, t)
	}
	return th, nil
}
