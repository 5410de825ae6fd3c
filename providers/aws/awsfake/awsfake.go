// Package awsfake is a stateful in-memory fake of the AWS services the aws
// provider uses: S3 buckets whose objects carry dates, sizes, S3-style
// ETags and versions, and ELBv2 listener rules with forward weights and
// target groups with target health. It can be told "there is no backup
// today", "the next 2 calls are throttled", "0.3.0's targets are
// unhealthy", and inspected afterwards ("after rollback the rule is back at
// 100/0"). Runbook tests and the sandbox use [World.Provider] in place of
// the real provider.
package awsfake

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/providers/aws"
)

// World is one fake AWS account. It is safe for concurrent use; the zero
// value is not usable, call [New].
type World struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*bucket
	rules   map[string][]aws.TargetWeight
	health  map[string][]aws.TargetHealth

	throttle  map[string]int // operation -> calls left to throttle
	fail      map[string]error
	calls     map[string]int
	modifies  []Modification
	versionID int
	events    []event
	faults    fault.Injector
}

type event struct {
	at time.Time
	fn func(*World)
}

type bucket struct {
	versioned bool
	objects   map[string][]*object // versions, newest last
}

type object struct {
	data     []byte
	modified time.Time
	etag     string
	version  string
	checksum string
	meta     map[string]string
	deleted  bool // a delete marker
}

// Modification is one change of a rule's weights, as recorded by the
// fake.
type Modification struct {
	RuleARN string
	Weights map[string]int
}

// New returns an empty world whose clock is the real one.
func New() *World {
	return &World{now: time.Now, buckets: map[string]*bucket{}, rules: map[string][]aws.TargetWeight{},
		health: map[string][]aws.TargetHealth{}, throttle: map[string]int{}, fail: map[string]error{}, calls: map[string]int{}}
}

// Provider returns the "aws" provider backed by this world: every instance
// it configures, whatever its region or credentials, talks to this world.
// Local files (s3_upload's source, s3_download's file) are the machine's
// disk; the sandbox builds its aws.Provider with Files set to its
// in-memory disk instead, so that a rehearsal writes nothing locally.
func (w *World) Provider() provider.Provider {
	return &aws.Provider{ClientFactory: w.ClientFactory()}
}

// ClientFactory returns the factory of clients that talk to this world, for
// aws.Provider.ClientFactory.
func (w *World) ClientFactory() aws.ClientFactory {
	return func(context.Context, aws.Config) (aws.Clients, error) {
		return aws.Clients{S3: &s3Client{w: w}, ELBv2: &elbClient{w: w}}, nil
	}
}

// Option returns the option that makes aws.NewInstance use this world, for
// runbooks built in Go.
func (w *World) Option() aws.Option { return aws.WithClientFactory(w.ClientFactory()) }

// Instance returns an instance "aws.<name>" on this world.
func (w *World) Instance(name string) *aws.Instance {
	// A fixed, valid configuration: NewInstance cannot fail on it.
	inst, _ := aws.NewInstance(name, aws.Config{Region: "eu-west-1"}, w.Option())
	return inst
}

// SetClock makes the world date new objects with now (a run's simulated
// clock: world.SetClock(clock.Now)).
func (w *World) SetClock(now func() time.Time) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = now
	return w
}

// At schedules fn to run on the world once its clock reaches t, just
// before the first call made at or after t ("the new targets turn
// unhealthy at minute 20": world.At(start.Add(20*time.Minute), func(w
// *awsfake.World) { w.SetTargets(newTG, "unhealthy", "i-1", "i-2") })).
func (w *World) At(t time.Time, fn func(*World)) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, event{at: t, fn: fn})
	sort.SliceStable(w.events, func(i, j int) bool { return w.events[i].at.Before(w.events[j].at) })
	return w
}

// runDue runs the scheduled events whose time has come.
func (w *World) runDue() {
	for {
		w.mu.Lock()
		if len(w.events) == 0 || w.now().Before(w.events[0].at) {
			w.mu.Unlock()
			return
		}
		ev := w.events[0]
		w.events = w.events[1:]
		w.mu.Unlock()
		ev.fn(w)
	}
}

// ---- S3 scripting and inspection ----

// CreateBucket creates a bucket (idempotent). Versioned buckets keep every
// version of an object.
func (w *World) CreateBucket(name string, versioned bool) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	if b, ok := w.buckets[name]; ok {
		b.versioned = versioned
		return w
	}
	w.buckets[name] = &bucket{versioned: versioned, objects: map[string][]*object{}}
	return w
}

// PutObject stores an object dated modified (a backup written before the
// run: "production/postgres_full_20261125_020000.sql.gz", yesterday). The
// bucket is created if needed.
func (w *World) PutObject(bucketName, key string, data []byte, modified time.Time) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.bucketLocked(bucketName)
	w.storeLocked(b, key, data, modified, hexMD5(data), "", nil)
	return w
}

// DeleteAll removes every object under prefix ("no backup today").
func (w *World) DeleteAll(bucketName, prefix string) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	if b, ok := w.buckets[bucketName]; ok {
		for k := range b.objects {
			if strings.HasPrefix(k, prefix) {
				delete(b.objects, k)
			}
		}
	}
	return w
}

// ObjectInfo is what [World.Objects] reports of one object.
type ObjectInfo struct {
	Key          string
	Size         int64
	LastModified time.Time
	ETag         string
	VersionID    string
	// Versions is the number of versions kept (1 in an unversioned bucket).
	Versions int
}

// Objects returns the current objects of a bucket, sorted by key.
func (w *World) Objects(bucketName string) []ObjectInfo {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.buckets[bucketName]
	if !ok {
		return nil
	}
	var out []ObjectInfo
	for k, vs := range b.objects {
		cur := current(vs)
		if cur == nil {
			continue
		}
		out = append(out, ObjectInfo{Key: k, Size: int64(len(cur.data)), LastModified: cur.modified, ETag: cur.etag, VersionID: cur.version, Versions: len(vs)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Keys returns the current keys of a bucket, sorted.
func (w *World) Keys(bucketName string) []string {
	var out []string
	for _, o := range w.Objects(bucketName) {
		out = append(out, o.Key)
	}
	return out
}

// Object returns the content of an object.
func (w *World) Object(bucketName, key string) ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.buckets[bucketName]
	if !ok {
		return nil, false
	}
	cur := current(b.objects[key])
	if cur == nil {
		return nil, false
	}
	return append([]byte(nil), cur.data...), true
}

func current(vs []*object) *object {
	if len(vs) == 0 || vs[len(vs)-1].deleted {
		return nil
	}
	return vs[len(vs)-1]
}

func (w *World) bucketLocked(name string) *bucket {
	b, ok := w.buckets[name]
	if !ok {
		b = &bucket{objects: map[string][]*object{}}
		w.buckets[name] = b
	}
	return b
}

func (w *World) storeLocked(b *bucket, key string, data []byte, modified time.Time, etag, checksum string, meta map[string]string) *object {
	o := &object{data: append([]byte(nil), data...), modified: modified, etag: etag, checksum: checksum, meta: meta}
	if b.versioned {
		w.versionID++
		o.version = fmt.Sprintf("v%06d", w.versionID)
		b.objects[key] = append(b.objects[key], o)
	} else {
		b.objects[key] = []*object{o}
	}
	return o
}

// ---- ELBv2 scripting and inspection ----

// SetRule creates or replaces a listener rule whose forward action sends
// to the given target groups with these weights, in this order. The
// target groups are created with no targets if unknown.
func (w *World) SetRule(ruleARN string, weights ...aws.TargetWeight) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rules[ruleARN] = append([]aws.TargetWeight(nil), weights...)
	for _, tw := range weights {
		if _, ok := w.health[tw.TargetGroupARN]; !ok {
			w.health[tw.TargetGroupARN] = nil
		}
	}
	return w
}

// Weights returns the current weights of a rule by target group ARN (nil
// for an unknown rule).
func (w *World) Weights(ruleARN string) map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	tws, ok := w.rules[ruleARN]
	if !ok {
		return nil
	}
	out := make(map[string]int, len(tws))
	for _, tw := range tws {
		out[tw.TargetGroupARN] = tw.Weight
	}
	return out
}

// Modifications returns every weight change made through the clients, in
// order.
func (w *World) Modifications() []Modification {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Modification(nil), w.modifies...)
}

// SetTargets registers targets in a target group, all in state (healthy,
// unhealthy, initial, draining...), replacing those there.
func (w *World) SetTargets(targetGroupARN, state string, ids ...string) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	th := make([]aws.TargetHealth, 0, len(ids))
	for _, id := range ids {
		th = append(th, aws.TargetHealth{ID: id, Port: 8080, State: state, Reason: reasonOf(state)})
	}
	w.health[targetGroupARN] = th
	return w
}

// SetTargetState changes the state of one target of a group ("0.3.0's
// second task is unhealthy").
func (w *World) SetTargetState(targetGroupARN, id, state string) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, t := range w.health[targetGroupARN] {
		if t.ID == id {
			w.health[targetGroupARN][i].State, w.health[targetGroupARN][i].Reason = state, reasonOf(state)
		}
	}
	return w
}

func reasonOf(state string) string {
	switch state {
	case "unhealthy":
		return "Target.FailedHealthChecks"
	case "initial":
		return "Elb.RegistrationInProgress"
	case "draining":
		return "Target.DeregistrationInProgress"
	}
	return ""
}

// ---- failures ----

// Throttle makes the next n calls of an operation ("DescribeRules",
// "ModifyRule", "DescribeTargetHealth", "ListObjectsV2", "HeadObject",
// "PutObject", "GetObject", "DeleteObject") fail with a throttling error.
// The fake has no retryer: the error reaches the action as it would after
// the SDK's retries ran out.
func (w *World) Throttle(op string, n int) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.throttle[op] = n
	return w
}

// Fail makes every call of an operation fail with err until cleared with
// a nil err.
func (w *World) Fail(op string, err error) *World {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		delete(w.fail, op)
	} else {
		w.fail[op] = err
	}
	return w
}

// Faults returns the world's fault injector. The calls that change the
// world go through it by operation name ("ModifyRule", "PutObject",
// "DeleteObject"): arm a fault to make the next one fail before its
// effect, apply its effect and lose the answer, or take simulated time
// (see package fault).
func (w *World) Faults() *fault.Injector { return &w.faults }

// Calls returns how many times an operation was called.
func (w *World) Calls(op string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls[op]
}

// callLocked counts a call and returns its scripted failure.
func (w *World) callLocked(op string) error {
	w.calls[op]++
	if err := w.fail[op]; err != nil {
		return err
	}
	if w.throttle[op] > 0 {
		w.throttle[op]--
		return &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded", Fault: smithy.FaultClient}
	}
	return nil
}

// ---- the S3 client ----

type s3Client struct{ w *World }

func (c *s3Client) ListObjects(ctx context.Context, bucketName, prefix string) ([]aws.Object, error) {
	c.w.runDue()
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.callLocked("ListObjectsV2"); err != nil {
		return nil, err
	}
	b, ok := w.buckets[bucketName]
	if !ok {
		return nil, fmt.Errorf("listing s3://%s: %w", bucketName, aws.ErrNotFound)
	}
	var out []aws.Object
	for k, vs := range b.objects {
		cur := current(vs)
		if cur == nil || !strings.HasPrefix(k, prefix) {
			continue
		}
		out = append(out, info(bucketName, k, cur))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, ctx.Err()
}

func info(bucketName, key string, o *object) aws.Object {
	return aws.Object{Bucket: bucketName, Key: key, Size: int64(len(o.data)), LastModified: o.modified, ETag: o.etag,
		VersionID: o.version, ChecksumSHA256: o.checksum, Metadata: o.meta}
}

func (c *s3Client) HeadObject(ctx context.Context, bucketName, key string) (aws.Object, error) {
	c.w.runDue()
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.callLocked("HeadObject"); err != nil {
		return aws.Object{}, err
	}
	b, ok := w.buckets[bucketName]
	if !ok {
		return aws.Object{}, fmt.Errorf("s3://%s/%s: %w (no such bucket)", bucketName, key, aws.ErrNotFound)
	}
	cur := current(b.objects[key])
	if cur == nil {
		return aws.Object{}, fmt.Errorf("s3://%s/%s: %w", bucketName, key, aws.ErrNotFound)
	}
	return info(bucketName, key, cur), ctx.Err()
}

func (c *s3Client) PutObject(ctx context.Context, req aws.PutRequest) (aws.PutResult, error) {
	c.w.runDue()
	data, err := io.ReadAll(io.NewSectionReader(req.Body, 0, req.Size))
	if err != nil {
		return aws.PutResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return aws.PutResult{}, err
	}
	ps := aws.PartSize(req.Size, req.PartSize)
	parts := aws.Parts(int64(len(data)), ps)
	etag, checksum := hexMD5(data), b64SHA(data)
	if parts > 0 {
		etag, checksum = multipartSums(data, ps)
	} else if len(req.SHA256) > 0 && base64.StdEncoding.EncodeToString(req.SHA256) != checksum {
		return aws.PutResult{}, &smithy.GenericAPIError{Code: "BadDigest", Message: "The SHA256 you specified did not match the calculated checksum.", Fault: smithy.FaultClient}
	}
	w := c.w
	var res aws.PutResult
	err = w.faults.Do(ctx, "PutObject", func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if err := w.callLocked("PutObject"); err != nil {
			return err
		}
		b, ok := w.buckets[req.Bucket]
		if !ok {
			return fmt.Errorf("uploading s3://%s/%s: %w (no such bucket)", req.Bucket, req.Key, aws.ErrNotFound)
		}
		meta := map[string]string{}
		for k, v := range req.Metadata {
			meta[strings.ToLower(k)] = v
		}
		o := w.storeLocked(b, req.Key, data, w.now(), etag, checksum, meta)
		res = aws.PutResult{ETag: etag, VersionID: o.version, ChecksumSHA256: checksum, Parts: parts}
		return nil
	})
	if err != nil {
		return aws.PutResult{}, err
	}
	return res, nil
}

func (c *s3Client) GetObject(ctx context.Context, req aws.GetRequest) (aws.Object, error) {
	c.w.runDue()
	obj, err := c.HeadObject(ctx, req.Bucket, req.Key)
	if err != nil {
		return aws.Object{}, err
	}
	w := c.w
	w.mu.Lock()
	if err := w.callLocked("GetObject"); err != nil {
		w.mu.Unlock()
		return aws.Object{}, err
	}
	data := current(w.buckets[req.Bucket].objects[req.Key]).data
	w.mu.Unlock()
	if _, err := req.Dst.WriteAt(data, 0); err != nil {
		return aws.Object{}, err
	}
	return obj, nil
}

func (c *s3Client) DeleteObject(ctx context.Context, bucketName, key, versionID string) error {
	c.w.runDue()
	w := c.w
	return w.faults.Do(ctx, "DeleteObject", func() error { return w.deleteObject(ctx, bucketName, key, versionID) })
}

func (w *World) deleteObject(ctx context.Context, bucketName, key, versionID string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.callLocked("DeleteObject"); err != nil {
		return err
	}
	b, ok := w.buckets[bucketName]
	if !ok {
		return nil
	}
	vs := b.objects[key]
	switch {
	case versionID != "":
		for i, o := range vs {
			if o.version == versionID {
				vs = append(vs[:i:i], vs[i+1:]...)
				break
			}
		}
		if len(vs) == 0 {
			delete(b.objects, key)
		} else {
			b.objects[key] = vs
		}
	case b.versioned && len(vs) > 0:
		w.versionID++
		b.objects[key] = append(vs, &object{deleted: true, version: fmt.Sprintf("v%06d", w.versionID), modified: w.now()})
	default:
		delete(b.objects, key)
	}
	return ctx.Err()
}

func hexMD5(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func b64SHA(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// multipartSums returns S3's ETag and composite SHA-256 of a multipart
// upload.
func multipartSums(data []byte, partSize int64) (etag, checksum string) {
	var md5s, shas bytes.Buffer
	n := 0
	for off := int64(0); off < int64(len(data)); off += partSize {
		end := min(off+partSize, int64(len(data)))
		m := md5.Sum(data[off:end])
		s := sha256.Sum256(data[off:end])
		md5s.Write(m[:])
		shas.Write(s[:])
		n++
	}
	m := md5.Sum(md5s.Bytes())
	s := sha256.Sum256(shas.Bytes())
	return fmt.Sprintf("%s-%d", hex.EncodeToString(m[:]), n), fmt.Sprintf("%s-%d", base64.StdEncoding.EncodeToString(s[:]), n)
}

// ---- the ELBv2 client ----

type elbClient struct{ w *World }

func ruleNotFound(arn string) error {
	return &elbtypes.RuleNotFoundException{Message: stringPtr("One or more rules not found: " + arn)}
}

func stringPtr(s string) *string { return &s }

func (c *elbClient) ForwardWeights(ctx context.Context, ruleARN string) ([]aws.TargetWeight, error) {
	c.w.runDue()
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.callLocked("DescribeRules"); err != nil {
		return nil, fmt.Errorf("describing rule %s: %w", ruleARN, err)
	}
	tws, ok := w.rules[ruleARN]
	if !ok {
		return nil, fmt.Errorf("describing rule %s: %w", ruleARN, ruleNotFound(ruleARN))
	}
	return append([]aws.TargetWeight(nil), tws...), ctx.Err()
}

func (c *elbClient) SetForwardWeights(ctx context.Context, ruleARN string, weights []aws.TargetWeight) error {
	c.w.runDue()
	return c.w.faults.Do(ctx, "ModifyRule", func() error { return c.w.setForwardWeights(ctx, ruleARN, weights) })
}

func (w *World) setForwardWeights(ctx context.Context, ruleARN string, weights []aws.TargetWeight) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.callLocked("DescribeRules"); err != nil {
		return fmt.Errorf("describing rule %s: %w", ruleARN, err)
	}
	if _, ok := w.rules[ruleARN]; !ok {
		return fmt.Errorf("describing rule %s: %w", ruleARN, ruleNotFound(ruleARN))
	}
	if err := w.callLocked("ModifyRule"); err != nil {
		return fmt.Errorf("modifying rule %s: %w", ruleARN, err)
	}
	m := Modification{RuleARN: ruleARN, Weights: map[string]int{}}
	for _, tw := range weights {
		if tw.Weight < 0 || tw.Weight > aws.MaxWeight {
			return fmt.Errorf("modifying rule %s: %w", ruleARN, &smithy.GenericAPIError{Code: "ValidationError", Message: "weight out of range", Fault: smithy.FaultClient})
		}
		if _, ok := w.health[tw.TargetGroupARN]; !ok {
			return fmt.Errorf("modifying rule %s: %w", ruleARN, &elbtypes.TargetGroupNotFoundException{Message: stringPtr("Target groups '" + tw.TargetGroupARN + "' not found")})
		}
		m.Weights[tw.TargetGroupARN] = tw.Weight
	}
	w.rules[ruleARN] = append([]aws.TargetWeight(nil), weights...)
	w.modifies = append(w.modifies, m)
	return ctx.Err()
}

func (c *elbClient) TargetHealth(ctx context.Context, targetGroupARN string) ([]aws.TargetHealth, error) {
	c.w.runDue()
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.callLocked("DescribeTargetHealth"); err != nil {
		return nil, fmt.Errorf("describing the health of %s: %w", targetGroupARN, err)
	}
	th, ok := w.health[targetGroupARN]
	if !ok {
		return nil, fmt.Errorf("describing the health of %s: %w", targetGroupARN,
			&elbtypes.TargetGroupNotFoundException{Message: stringPtr("One or more target groups not found")})
	}
	return append([]aws.TargetHealth(nil), th...), ctx.Err()
}

// Compile-time checks.
var (
	_ aws.S3Client    = (*s3Client)(nil)
	_ aws.ELBv2Client = (*elbClient)(nil)
)
