package aws

import (
	"context"
	"errors"
	"io"
	"time"
)

// S3Client is what the S3 actions need of Amazon S3. The real adapter
// ([NewSDKClients]) speaks to S3 with aws-sdk-go-v2 and its transfer
// manager; the stateful fake in awsfake keeps buckets in memory. Every
// method must honour ctx.
type S3Client interface {
	// ListObjects returns every object whose key starts with prefix (all
	// pages).
	ListObjects(ctx context.Context, bucket, prefix string) ([]Object, error)
	// HeadObject describes one object. A missing object is an error
	// wrapping [ErrNotFound].
	HeadObject(ctx context.Context, bucket, key string) (Object, error)
	// PutObject uploads req.Body: in one PutObject when req.Size is at most
	// [PartSize](req.Size, req.PartSize), else as a multipart upload of
	// parts of exactly that size (the last one shorter).
	PutObject(ctx context.Context, req PutRequest) (PutResult, error)
	// GetObject downloads an object into req.Dst and returns what HeadObject
	// says of it.
	GetObject(ctx context.Context, req GetRequest) (Object, error)
	// DeleteObject deletes an object, or one version of it when versionID
	// is set. Deleting a missing object is not an error.
	DeleteObject(ctx context.Context, bucket, key, versionID string) error
}

// Object describes an S3 object.
type Object struct {
	Bucket       string
	Key          string
	Size         int64
	LastModified time.Time
	// ETag is the entity tag without quotes: the hex MD5 of a single-part
	// upload (unless encrypted with SSE-KMS), "<md5 of part md5s>-<parts>"
	// for a multipart one.
	ETag string
	// VersionID is set in versioned buckets.
	VersionID string
	// ChecksumSHA256 is the stored SHA-256 checksum (base64), when the
	// object was uploaded with one ("…-N" for a multipart composite).
	ChecksumSHA256 string
	// Metadata is the user metadata (x-amz-meta-*), keys in lower case.
	Metadata map[string]string
}

// PutRequest asks to upload one object.
type PutRequest struct {
	Bucket, Key string
	// Body is read from offset 0 to Size; it may be read concurrently
	// through ReadAt.
	Body io.ReaderAt
	Size int64
	// PartSize is the requested part size of a multipart upload (see
	// [PartSize] for the one used).
	PartSize int64
	// Concurrency is how many parts are sent at once (0: 5).
	Concurrency int
	ContentType string
	// SHA256 is the raw SHA-256 of the whole body: sent with a single-part
	// upload, so that S3 rejects a corrupted body itself.
	SHA256 []byte
	// Metadata is stored with the object (x-amz-meta-*).
	Metadata map[string]string
}

// PutResult is what S3 says about an uploaded object.
type PutResult struct {
	ETag      string
	VersionID string
	// ChecksumSHA256 is the checksum S3 computed, when it returns one
	// (base64; "…-N" composite for multipart uploads).
	ChecksumSHA256 string
	// Parts is the number of parts (0 for a single PutObject).
	Parts int
}

// GetRequest asks to download one object.
type GetRequest struct {
	Bucket, Key string
	// Dst receives the object; parts may be written concurrently.
	Dst         io.WriterAt
	PartSize    int64
	Concurrency int
}

// ELBv2Client is what the ELBv2 actions need of Elastic Load Balancing v2.
// The real adapter speaks the ELBv2 Query API with aws-sdk-go-v2; the fake
// in awsfake keeps rules and target health in memory. Every method must
// honour ctx. Errors of the service reach the caller wrapped, so that
// errors.As finds the SDK's typed errors
// (*types.RuleNotFoundException...).
type ELBv2Client interface {
	// ForwardWeights returns the target groups of the rule's forward
	// action with their weights, in the rule's order.
	ForwardWeights(ctx context.Context, ruleARN string) ([]TargetWeight, error)
	// SetForwardWeights replaces the target groups and weights of the
	// rule's forward action, keeping its other actions, its conditions and
	// its stickiness settings.
	SetForwardWeights(ctx context.Context, ruleARN string, weights []TargetWeight) error
	// TargetHealth describes the registered targets of a target group.
	TargetHealth(ctx context.Context, targetGroupARN string) ([]TargetHealth, error)
}

// TargetWeight is one target group of a forward action.
type TargetWeight struct {
	TargetGroupARN string
	Weight         int
}

// TargetHealth is the health of one target.
type TargetHealth struct {
	ID    string
	Port  int
	State string // healthy, unhealthy, initial, draining, unused, unavailable
	// Reason and Description say why a target is not healthy.
	Reason      string
	Description string
}

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotFound is wrapped when an object (or bucket) does not exist.
	ErrNotFound = errors.New("aws: not found")
	// ErrNoBackup is wrapped by s3_object_exists when no object matches.
	ErrNoBackup = errors.New("aws: no matching object")
	// ErrChecksum is wrapped when a checksum does not match: the data in S3
	// (or on disk) is not what was sent (or expected).
	ErrChecksum = errors.New("aws: checksum mismatch")
	// ErrRule is wrapped when a rule cannot take the weights asked (no
	// forward action, a target group that is not in the rule).
	ErrRule = errors.New("aws: rule cannot take these weights")
	// ErrUnhealthy is wrapped by elbv2_target_health when fewer targets are
	// healthy than min_healthy.
	ErrUnhealthy = errors.New("aws: not enough healthy targets")
)

// Multipart limits of S3.
const (
	// MinPartSize is the smallest part S3 accepts (but for the last).
	MinPartSize int64 = 5 << 20
	// MaxParts is the largest number of parts of one upload.
	MaxParts int64 = 10000
	// DefaultPartSize is used when an upload gives none.
	DefaultPartSize int64 = 8 << 20
)

// PartSize returns the part size used to upload size bytes when requested
// is asked: requested, raised to [MinPartSize], and raised further so that
// the upload fits in [MaxParts] parts (the transfer manager's rule). An
// object of at most that size goes up in one PutObject.
func PartSize(size, requested int64) int64 {
	ps := requested
	if ps <= 0 {
		ps = DefaultPartSize
	}
	if ps < MinPartSize {
		ps = MinPartSize
	}
	if size/ps >= MaxParts {
		ps = size/MaxParts + 1
	}
	return ps
}

// Parts returns the number of parts of a multipart upload of size bytes in
// parts of partSize, or 0 when the object goes up in one PutObject (or
// partSize is not positive).
func Parts(size, partSize int64) int {
	if partSize <= 0 || size <= partSize {
		return 0
	}
	return int((size + partSize - 1) / partSize)
}
