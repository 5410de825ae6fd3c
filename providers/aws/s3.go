package aws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/internal/lazyre"

	"github.com/handrail-dev/handrail/runbook"
)

func now(env *runbook.Env) time.Time {
	if env == nil {
		return time.Now()
	}
	return env.Clock().Now()
}

func line(env *runbook.Env, s string) {
	if env != nil {
		env.Line("stdout", s)
	}
}

func s3URI(bucket, key string) string { return "s3://" + bucket + "/" + key }

// ---- s3_object_exists ----

// ObjectExistsArgs are the arguments of s3_object_exists: the objects of
// Bucket under Prefix that meet every filter given.
type ObjectExistsArgs struct {
	Bucket string
	Prefix string
	// Pattern is a glob (path.Match) on the key after Prefix
	// ("postgres_full_*.sql.gz").
	Pattern string
	// Date is a strftime layout (%Y %m %d %H %M %S %y %j %%); the key must
	// contain the run clock's current date formatted with it (the seed's
	// `grep $(date +%Y%m%d)`).
	Date string
	// TimeZone is the IANA zone of Date (default UTC).
	TimeZone string
	// Regexp must match the key (RE2 syntax).
	Regexp string
	// MaxAge, when set, is how old the newest matching object may be.
	MaxAge time.Duration
	// MinSize is the smallest acceptable size in bytes.
	MinSize int64
}

// ObjectExistsAction checks that a matching object exists ("verify the
// production backup exists for today"). It is read-only; it fails with
// ErrNoBackup when nothing matches.
type ObjectExistsAction struct {
	inst *Instance
	args ObjectExistsArgs
	re   *regexp.Regexp
	loc  *time.Location
}

// NewObjectExists returns the s3_object_exists action. Outputs: key (the
// newest match), uri, size, last_modified (RFC 3339), etag, count (of
// matches), date (the date searched for, when Date is set).
func NewObjectExists(inst *Instance, a ObjectExistsArgs) (*ObjectExistsAction, error) {
	const act = "s3_object_exists"
	if err := checkBucket(act, a.Bucket); err != nil {
		return nil, err
	}
	if a.Pattern != "" {
		if _, err := path.Match(a.Pattern, ""); err != nil {
			return nil, fmt.Errorf("%s: pattern %q is not a valid glob: %w", act, a.Pattern, err)
		}
	}
	if a.Date != "" {
		if _, err := strftime(a.Date, time.Time{}); err != nil {
			return nil, fmt.Errorf("%s: date: %w", act, err)
		}
	}
	x := &ObjectExistsAction{inst: inst, args: a, loc: time.UTC}
	if a.TimeZone != "" {
		loc, err := time.LoadLocation(a.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("%s: time_zone %q is not an IANA zone such as Europe/Berlin: %w", act, a.TimeZone, err)
		}
		x.loc = loc
	}
	if a.Regexp != "" {
		re, err := regexp.Compile(a.Regexp)
		if err != nil {
			return nil, fmt.Errorf("%s: regexp %q: %w", act, a.Regexp, err)
		}
		x.re = re
	}
	if a.MaxAge < 0 || a.MinSize < 0 {
		return nil, fmt.Errorf("%s: max_age and min_size must not be negative", act)
	}
	return x, nil
}

func checkBucket(act, b string) error {
	if b == "" {
		return fmt.Errorf("%s: bucket is empty: give the bucket's name (dcmms-backups)", act)
	}
	if strings.HasPrefix(b, "s3://") || strings.Contains(b, "/") {
		return fmt.Errorf("%s: bucket %q must be a bare bucket name, without s3:// or a path (put the path in prefix or key)", act, b)
	}
	return nil
}

// find lists and filters; it returns the matches, newest first, and the
// formatted date.
func (a *ObjectExistsAction) find(ctx context.Context, env *runbook.Env) ([]Object, string, error) {
	a.inst.register(env)
	c, err := a.inst.s3(ctx)
	if err != nil {
		return nil, "", err
	}
	objs, err := c.ListObjects(ctx, a.args.Bucket, a.args.Prefix)
	if err != nil {
		return nil, "", err
	}
	t := now(env)
	date := ""
	if a.args.Date != "" {
		date, _ = strftime(a.args.Date, t.In(a.loc))
	}
	var out []Object
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Key, a.args.Prefix)
		if a.args.Pattern != "" {
			if ok, _ := path.Match(a.args.Pattern, rest); !ok {
				continue
			}
		}
		if date != "" && !strings.Contains(rest, date) {
			continue
		}
		if a.re != nil && !a.re.MatchString(o.Key) {
			continue
		}
		if o.Size < a.args.MinSize {
			continue
		}
		if a.args.MaxAge > 0 && t.Sub(o.LastModified) > a.args.MaxAge {
			continue
		}
		out = append(out, o)
	}
	sortNewest(out)
	sortNewest(objs)
	if len(out) == 0 {
		return nil, date, a.noMatch(objs, date)
	}
	return out, date, nil
}

func sortNewest(objs []Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		if !objs[i].LastModified.Equal(objs[j].LastModified) {
			return objs[i].LastModified.After(objs[j].LastModified)
		}
		return objs[i].Key > objs[j].Key
	})
}

func (a *ObjectExistsAction) noMatch(all []Object, date string) error {
	var what []string
	if a.args.Pattern != "" {
		what = append(what, fmt.Sprintf("pattern %q", a.args.Pattern))
	}
	if date != "" {
		what = append(what, fmt.Sprintf("date %s (%s)", date, a.args.Date))
	}
	if a.re != nil {
		what = append(what, fmt.Sprintf("regexp %q", a.args.Regexp))
	}
	if a.args.MinSize > 0 {
		what = append(what, fmt.Sprintf("at least %d bytes", a.args.MinSize))
	}
	if a.args.MaxAge > 0 {
		what = append(what, fmt.Sprintf("at most %s old", a.args.MaxAge))
	}
	msg := "no object under " + s3URI(a.args.Bucket, a.args.Prefix)
	if len(what) > 0 {
		msg += " matches " + strings.Join(what, ", ")
	}
	if len(all) == 0 {
		msg += " (the prefix is empty)"
	} else {
		msg += fmt.Sprintf(" (%d objects there; the newest is %s, %s)", len(all), all[0].Key, all[0].LastModified.UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("%w: %s", ErrNoBackup, msg)
}

func objectOutputs(bucket string, newest Object, count int) runbook.Outputs {
	return runbook.Outputs{
		"key":           newest.Key,
		"uri":           s3URI(bucket, newest.Key),
		"size":          newest.Size,
		"last_modified": newest.LastModified.UTC().Format(time.RFC3339),
		"etag":          newest.ETag,
		"count":         int64(count),
	}
}

// Do lists the prefix and returns the newest match.
func (a *ObjectExistsAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	objs, date, err := a.find(ctx, env)
	if err != nil {
		// No match may be fixed by waiting (a backup still uploading): it
		// stays retryable; a missing bucket or a refusal is not.
		return nil, permanentIf(fmt.Errorf("s3_object_exists: %w", err))
	}
	out := objectOutputs(a.args.Bucket, objs[0], len(objs))
	out["date"] = date
	line(env, fmt.Sprintf("found %s (%d bytes, %s); %d matching", s3URI(a.args.Bucket, objs[0].Key), objs[0].Size,
		objs[0].LastModified.UTC().Format(time.RFC3339), len(objs)))
	return out, nil
}

// Sample is s3_object_exists as a gate's check: the value is the number of
// matching objects (0 when none: not an error), the outputs describe the
// newest.
func (a *ObjectExistsAction) Sample(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
	objs, date, err := a.find(ctx, env)
	if errors.Is(err, ErrNoBackup) {
		return runbook.Sample{Value: int64(0), Outputs: runbook.Outputs{"count": int64(0), "date": date}}, nil
	}
	if err != nil {
		return runbook.Sample{}, fmt.Errorf("s3_object_exists: %w", err)
	}
	out := objectOutputs(a.args.Bucket, objs[0], len(objs))
	out["date"] = date
	return runbook.Sample{Value: int64(len(objs)), Outputs: out}, nil
}

// ReadOnly reports true.
func (a *ObjectExistsAction) ReadOnly() bool { return true }

// Describe names the instance and the action.
func (a *ObjectExistsAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "s3_object_exists"}
}

// strftime formats t with a subset of strftime: %Y %m %d %H %M %S %y %j %%.
func strftime(layout string, t time.Time) (string, error) {
	var b strings.Builder
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(layout) {
			return "", fmt.Errorf("%q ends with a lone %%", layout)
		}
		i++
		switch layout[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("%q: %%%c is not supported (use %%Y %%m %%d %%H %%M %%S %%y %%j %%%%)", layout, layout[i])
		}
	}
	return b.String(), nil
}

// ---- s3_upload ----

// UploadArgs are the arguments of s3_upload.
type UploadArgs struct {
	Bucket string
	// Source is a file or a directory. A directory's regular files are
	// uploaded under Prefix with their relative paths (slash-separated).
	Source string
	// Key is the key of a file (default: Prefix + the file's base name).
	Key string
	// Prefix is prepended to keys ("production/pre-release-2/").
	Prefix string
	// PartSize is the multipart part size (default 8 MiB, at least 5 MiB);
	// files larger than it go up as multipart uploads.
	PartSize int64
	// Concurrency is how many parts go up at once (default 5).
	Concurrency int
	// ContentType of every object (default: S3's).
	ContentType string
	// Keep keeps the uploaded objects on rollback.
	Keep bool
}

// UploadAction uploads a file or a directory. Each object's checksum is
// verified against what S3 reports. Its natural rollback deletes the
// objects the step created (see [UploadAction.NaturalRollback]).
type UploadAction struct {
	inst *Instance
	args UploadArgs
}

// NewUpload returns the s3_upload action. Outputs: bucket, key and etag
// (of the first object: the only one for a file), keys, etags, sha256 and
// existed_before and version_ids (maps by key), count, size (total bytes),
// verified_by (map by key: sha256 or etag-md5).
func NewUpload(inst *Instance, a UploadArgs) (*UploadAction, error) {
	const act = "s3_upload"
	if err := checkBucket(act, a.Bucket); err != nil {
		return nil, err
	}
	if a.Source == "" {
		return nil, fmt.Errorf("%s: source is empty: give a file or a directory to upload", act)
	}
	if a.PartSize < 0 || a.Concurrency < 0 {
		return nil, fmt.Errorf("%s: part_size and concurrency must not be negative", act)
	}
	if a.PartSize > 0 && a.PartSize < MinPartSize {
		return nil, fmt.Errorf("%s: part_size %d is below S3's minimum of 5 MiB (%d)", act, a.PartSize, MinPartSize)
	}
	if strings.HasPrefix(a.Key, "/") || strings.HasPrefix(a.Prefix, "/") {
		return nil, fmt.Errorf("%s: key and prefix must not start with /", act)
	}
	return &UploadAction{inst: inst, args: a}, nil
}

type uploadFile struct {
	path string
	key  string
	size int64
}

func (a *UploadAction) files() ([]uploadFile, error) {
	st, err := a.inst.files.Stat(a.args.Source)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("source %s is not a regular file or a directory", a.args.Source)
		}
		key := a.args.Key
		if key == "" {
			key = a.args.Prefix + filepath.Base(a.args.Source)
		}
		return []uploadFile{{path: a.args.Source, key: key, size: st.Size()}}, nil
	}
	if a.args.Key != "" {
		return nil, fmt.Errorf("source %s is a directory: give prefix (the keys' common start), not key", a.args.Source)
	}
	var out []uploadFile
	err = walkFiles(a.inst.files, a.args.Source, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(a.args.Source, p)
		if err != nil {
			return err
		}
		out = append(out, uploadFile{path: p, key: a.args.Prefix + filepath.ToSlash(rel), size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("source %s holds no regular file to upload", a.args.Source)
	}
	return out, nil
}

type uploaded struct {
	key, etag, sha, version, by string
	size                        int64
	existed                     bool
}

// Do uploads every file. Before the first upload it records (env.Checkpoint)
// what the rollback needs: for each key, whether an object was there, its
// version then (versioned buckets), and the SHA-256 of what the step
// writes. A retried or resumed attempt reuses that capture, so an object
// whose upload lost its answer is still known as the step's own. When an
// upload fails, the objects this step put are removed again (unless keep)
// before the error is returned: a failed step leaves nothing half-done
// behind, and a retry starts clean.
func (a *UploadAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	a.inst.register(env)
	files, err := a.files()
	if err != nil {
		return nil, fmt.Errorf("s3_upload: %w", err)
	}
	c, err := a.inst.s3(ctx)
	if err != nil {
		return nil, fmt.Errorf("s3_upload: %w", err)
	}
	digests := make([]digest, len(files))
	for i, f := range files {
		if digests[i], err = digestLocal(ctx, a.inst.files, f.path, PartSize(f.size, a.args.PartSize)); err != nil {
			return nil, fmt.Errorf("s3_upload %s: %w", f.path, err)
		}
	}
	capture, err := a.capture(ctx, env, c, files, digests)
	if err != nil {
		return nil, permanentIf(err)
	}
	var done []uploaded
	for i, f := range files {
		u, err := a.uploadOne(ctx, env, c, f, digests[i], capture.existed[f.key])
		if err != nil {
			err = fmt.Errorf("s3_upload %s to %s: %w", f.path, s3URI(a.args.Bucket, f.key), err)
			if !a.args.Keep {
				keys := make([]string, 0, i+1)
				for _, d := range done {
					keys = append(keys, d.key)
				}
				// The object whose upload failed may be there all the same
				// (the answer was lost).
				keys = append(keys, f.key)
				self := capture.outputs(a.args.Bucket)
				self["keys"] = keys
				if cerr := undoUpload(ctx, env, c, a.args.Bucket, self); cerr != nil {
					err = errors.Join(err, cerr)
				}
			}
			return nil, permanentIf(err)
		}
		done = append(done, u)
	}
	out := uploadOutputs(a.args.Bucket, done)
	out["previous_version_ids"] = capture.outputs(a.args.Bucket)["previous_version_ids"]
	return out, nil
}

// uploadCapture is what s3_upload records before its first upload.
type uploadCapture struct {
	keys     []string
	existed  map[string]bool
	versions map[string]string // version current before the step, by key
	sha      map[string]string
}

func (u uploadCapture) outputs(bucket string) runbook.Outputs {
	existed, versions, sha := map[string]any{}, map[string]any{}, map[string]any{}
	for _, k := range u.keys {
		existed[k], versions[k], sha[k] = u.existed[k], u.versions[k], u.sha[k]
	}
	return runbook.Outputs{"bucket": bucket, "keys": append([]string(nil), u.keys...), "existed_before": existed,
		"previous_version_ids": versions, "sha256": sha}
}

// capture returns the state of the keys before the step: from an earlier
// attempt's checkpoint, or read now and checkpointed before any upload.
func (a *UploadAction) capture(ctx context.Context, env *runbook.Env, c S3Client, files []uploadFile, digests []digest) (uploadCapture, error) {
	u := uploadCapture{existed: map[string]bool{}, versions: map[string]string{}, sha: map[string]string{}}
	for i, f := range files {
		u.keys = append(u.keys, f.key)
		u.sha[f.key] = digests[i].sha256Hex()
	}
	if cp := checkpointed(env); len(stringList(cp["keys"])) > 0 {
		existed, versions := anyMap(cp["existed_before"]), anyMap(cp["previous_version_ids"])
		for _, k := range stringList(cp["keys"]) {
			u.existed[k], _ = existed[k].(bool)
			u.versions[k], _ = versions[k].(string)
		}
		return u, nil
	}
	stamp := runStamp(env)
	for _, f := range files {
		prev, err := c.HeadObject(ctx, a.args.Bucket, f.key)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return u, fmt.Errorf("s3_upload: checking whether %s exists: %w", s3URI(a.args.Bucket, f.key), err)
		case stamp != "" && prev.Metadata[MetaRun] == stamp:
			// An earlier attempt of this very step (a run journaled before
			// checkpoints) created it: it is still the step's own object.
		default:
			u.existed[f.key], u.versions[f.key] = true, prev.VersionID
		}
	}
	if err := checkpoint(ctx, env, u.outputs(a.args.Bucket)); err != nil {
		return u, runbook.Permanent(fmt.Errorf("s3_upload: recording the objects before the upload: %w", err))
	}
	return u, nil
}

func (a *UploadAction) uploadOne(ctx context.Context, env *runbook.Env, c S3Client, f uploadFile, d digest, existed bool) (uploaded, error) {
	ps := PartSize(f.size, a.args.PartSize)
	stamp := runStamp(env)
	meta := map[string]string{MetaSHA256: d.sha256Hex()}
	if stamp != "" {
		meta[MetaRun] = stamp
	}
	fh, err := a.inst.files.Open(f.path)
	if err != nil {
		return uploaded{}, err
	}
	defer fh.Close()
	res, err := c.PutObject(ctx, PutRequest{Bucket: a.args.Bucket, Key: f.key, Body: fh, Size: d.size, PartSize: ps,
		Concurrency: a.args.Concurrency, ContentType: a.args.ContentType, SHA256: d.sha256, Metadata: meta})
	if err != nil {
		return uploaded{}, err
	}
	u := uploaded{key: f.key, etag: res.ETag, sha: d.sha256Hex(), version: res.VersionID, size: d.size, existed: existed}
	by, verr := verifyUpload(d, res)
	if verr != nil {
		// What S3 holds is not the file: never leave it behind, even with
		// keep, unless it replaced an object that was there before.
		if !existed {
			_ = c.DeleteObject(ctx, a.args.Bucket, f.key, res.VersionID)
		}
		return uploaded{}, verr
	}
	u.by = by
	parts := "single part"
	if res.Parts > 0 {
		parts = fmt.Sprintf("%d parts of %d bytes", res.Parts, ps)
	}
	line(env, fmt.Sprintf("uploaded %s to %s (%d bytes, %s, etag %s, verified by %s)", f.path, s3URI(a.args.Bucket, f.key), d.size, parts, res.ETag, by))
	return u, nil
}

// runStamp identifies the run and step that upload an object (metadata
// MetaRun), or "" outside a run.
func runStamp(env *runbook.Env) string {
	if env == nil || env.Run().ID == "" {
		return ""
	}
	return env.Run().ID + "/" + env.Node()
}

func uploadOutputs(bucket string, done []uploaded) runbook.Outputs {
	keys := make([]string, 0, len(done))
	etags, shas, existed, versions, by := map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}
	var size int64
	for _, u := range done {
		keys = append(keys, u.key)
		etags[u.key], shas[u.key], existed[u.key], versions[u.key], by[u.key] = u.etag, u.sha, u.existed, u.version, u.by
		size += u.size
	}
	return runbook.Outputs{
		"bucket": bucket, "key": done[0].key, "etag": done[0].etag, "keys": keys, "etags": etags, "sha256": shas,
		"existed_before": existed, "version_ids": versions, "verified_by": by, "count": int64(len(done)), "size": size,
	}
}

// Describe names the instance and the action.
func (a *UploadAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "s3_upload"}
}

// NaturalRollback removes what the step uploaded, from its outputs (or
// the checkpoint of an attempt that did not finish) alone:
//   - an object that did not exist before the step is deleted while it is
//     still the step's own (same ETag, or the SHA-256 the step recorded
//     before uploading): someone else's later write is left alone;
//   - an object that existed before is never deleted in a bucket without
//     versioning: the step overwrote it, its old content is gone, and
//     deleting it would lose the name as well (a backup someone relies
//     on). In a versioned bucket the versions the step created are deleted
//     until the version current before the step is current again: an
//     exact undo, also when a retried upload created two.
//
// Running it twice leaves the bucket as running it once. With keep = true
// the rollback keeps everything and says so.
func (a *UploadAction) NaturalRollback() runbook.Rollback {
	return &uploadBack{a: a}
}

type uploadBack struct{ a *UploadAction }

// Compensate removes the uploaded objects (see NaturalRollback).
func (r *uploadBack) Compensate(ctx context.Context, env *runbook.Env) error {
	bucket := r.a.args.Bucket
	if r.a.args.Keep {
		line(env, "keep = true: the uploaded objects stay in "+s3URI(bucket, r.a.args.Prefix))
		return nil
	}
	self := env.Self()
	if len(stringList(self["keys"])) == 0 {
		line(env, "the step uploaded nothing: nothing to delete")
		return nil
	}
	if b, ok := self["bucket"].(string); ok && b != "" {
		bucket = b
	}
	r.a.inst.register(env)
	c, err := r.a.inst.s3(ctx)
	if err != nil {
		return fmt.Errorf("s3_upload rollback: %w", err)
	}
	if err := undoUpload(ctx, env, c, bucket, self); err != nil {
		return fmt.Errorf("s3_upload rollback: %w", err)
	}
	return nil
}

// maxUndo bounds the versions one key's undo deletes (each attempt of the
// step may have created one).
const maxUndo = 16

// undoUpload removes the objects named by self's keys that the step put,
// reading existed_before, previous_version_ids, etags and sha256 from self.
func undoUpload(ctx context.Context, env *runbook.Env, c S3Client, bucket string, self runbook.Outputs) error {
	existed, prevVersions, etags, shas := anyMap(self["existed_before"]), anyMap(self["previous_version_ids"]), anyMap(self["etags"]), anyMap(self["sha256"])
	var errs []error
	for _, k := range stringList(self["keys"]) {
		uri := s3URI(bucket, k)
		was, _ := existed[k].(bool)
		prev, _ := prevVersions[k].(string)
		if was && prev == "" {
			line(env, fmt.Sprintf("%s existed before the step and the bucket keeps no versions: left as uploaded (its old content cannot be restored)", uri))
			continue
		}
		for n := 0; ; n++ {
			cur, err := c.HeadObject(ctx, bucket, k)
			if errors.Is(err, ErrNotFound) {
				if n == 0 {
					line(env, uri+" is not there: nothing to delete")
				}
				break
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("checking %s: %w", uri, err))
				break
			}
			if was && cur.VersionID == prev {
				if n == 0 {
					line(env, fmt.Sprintf("%s is at version %s, as before the step", uri, prev))
				}
				break
			}
			if !ours(cur, etags[k], shas[k]) {
				line(env, fmt.Sprintf("%s changed since the step (ETag %s): left alone", uri, cur.ETag))
				break
			}
			if n == maxUndo {
				errs = append(errs, fmt.Errorf("%s: still the step's own object after deleting %d versions", uri, n))
				break
			}
			if err := c.DeleteObject(ctx, bucket, k, cur.VersionID); err != nil {
				errs = append(errs, fmt.Errorf("deleting %s: %w", uri, err))
				break
			}
			if cur.VersionID != "" {
				line(env, fmt.Sprintf("deleted version %s of %s", cur.VersionID, uri))
			} else {
				line(env, "deleted "+uri)
			}
		}
	}
	return errors.Join(errs...)
}

// Describe names the instance and the action.
func (r *uploadBack) Describe() runbook.Description {
	return runbook.Description{Provider: r.a.inst.Name(), Action: "s3_upload"}
}

// ours reports whether the current object is still the one the step
// uploaded: same ETag, or same SHA-256 in the metadata s3_upload stores
// (ETags of multipart and SSE-KMS objects are not stable across tools).
// With neither known (outputs of an old journal) it trusts the step.
func ours(cur Object, etag, sha any) bool {
	e, _ := etag.(string)
	s, _ := sha.(string)
	if e == "" && s == "" {
		return true
	}
	return (e != "" && cur.ETag == e) || (s != "" && strings.EqualFold(cur.Metadata[MetaSHA256], s))
}

// stringList reads a list output ([]string, or []any after the journal).
func stringList(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// anyMap reads a map output.
func anyMap(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return x
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, s := range x {
			out[k] = s
		}
		return out
	case map[string]bool:
		out := make(map[string]any, len(x))
		for k, b := range x {
			out[k] = b
		}
		return out
	}
	return nil
}

// ---- s3_download ----

// DownloadArgs are the arguments of s3_download.
type DownloadArgs struct {
	Bucket, Key string
	// File is the local path written (its directory is created).
	File string
	// SHA256 is the expected hex SHA-256; without it the object's stored
	// checksums are used.
	SHA256 string
	// NoVerify skips the checksum (verify = false).
	NoVerify    bool
	PartSize    int64
	Concurrency int
}

// DownloadAction downloads an object to a file: into a temporary file
// beside it, verified, then renamed, so that File is never half-written. It
// changes nothing in AWS and is read-only.
type DownloadAction struct {
	inst *Instance
	args DownloadArgs
}

var sha256Hex = lazyre.New(`^[0-9a-fA-F]{64}$`)

// NewDownload returns the s3_download action. Outputs: file, bucket, key,
// size, sha256, etag, verified_by (sha256, sha256-metadata, etag-md5 or
// none).
func NewDownload(inst *Instance, a DownloadArgs) (*DownloadAction, error) {
	const act = "s3_download"
	if err := checkBucket(act, a.Bucket); err != nil {
		return nil, err
	}
	if a.Key == "" || a.File == "" {
		return nil, fmt.Errorf("%s: give the object's key and the local file to write", act)
	}
	if a.SHA256 != "" && !sha256Hex.MatchString(a.SHA256) {
		return nil, fmt.Errorf("%s: sha256 %q is not a hex SHA-256 (64 hex digits)", act, a.SHA256)
	}
	if a.PartSize < 0 || a.Concurrency < 0 {
		return nil, fmt.Errorf("%s: part_size and concurrency must not be negative", act)
	}
	return &DownloadAction{inst: inst, args: a}, nil
}

// Do downloads and verifies. When the instance's local files are
// writable ([WritableFiles]: a sandbox's fake disk) the file is written
// there, once verified, and the machine's disk is not touched; other
// replaced local files are read only, and the download fails rather than
// write to the machine's disk.
func (a *DownloadAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	a.inst.register(env)
	uri := s3URI(a.args.Bucket, a.args.Key)
	wrap := func(err error) error {
		return permanentIf(fmt.Errorf("s3_download %s to %s: %w", uri, a.args.File, err))
	}
	c, err := a.inst.s3(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	var (
		d   digest
		obj Object
		by  string
	)
	switch files := a.inst.files.(type) {
	case osFiles:
		d, obj, by, err = a.toDisk(ctx, c)
	case WritableFiles:
		d, obj, by, err = a.toFiles(ctx, c, files)
	default:
		err = runbook.Permanent(fmt.Errorf("%w: the instance's local files are read only (WithLocalFiles without WriteFile): nothing is written to the machine's disk instead", ErrReadOnlyFiles))
	}
	if err != nil {
		return nil, wrap(err)
	}
	line(env, fmt.Sprintf("downloaded %s to %s (%d bytes, sha256 %s, verified by %s)", uri, a.args.File, d.size, d.sha256Hex(), by))
	return runbook.Outputs{"file": a.args.File, "bucket": a.args.Bucket, "key": a.args.Key, "size": d.size,
		"sha256": d.sha256Hex(), "etag": obj.ETag, "verified_by": by}, nil
}

// toDisk downloads into a temporary file beside File on the machine's
// disk, verifies it, and renames it to File.
func (a *DownloadAction) toDisk(ctx context.Context, c S3Client) (digest, Object, string, error) {
	dir := filepath.Dir(a.args.File)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return digest{}, Object{}, "", err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(a.args.File)+".part-*")
	if err != nil {
		return digest{}, Object{}, "", err
	}
	defer os.Remove(tmp.Name())
	obj, err := c.GetObject(ctx, GetRequest{Bucket: a.args.Bucket, Key: a.args.Key, Dst: tmp, PartSize: a.args.PartSize, Concurrency: a.args.Concurrency})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return digest{}, Object{}, "", err
	}
	redigest := func(ctx context.Context, partSize int64) (digest, error) {
		return digestFile(ctx, tmp.Name(), partSize)
	}
	d, by, err := a.verify(ctx, redigest, obj)
	if err != nil {
		return digest{}, Object{}, "", err
	}
	if err := os.Rename(tmp.Name(), a.args.File); err != nil {
		return digest{}, Object{}, "", err
	}
	return d, obj, by, nil
}

// toFiles downloads into memory, verifies, and writes File to files.
func (a *DownloadAction) toFiles(ctx context.Context, c S3Client, files WritableFiles) (digest, Object, string, error) {
	var buf memWriterAt
	obj, err := c.GetObject(ctx, GetRequest{Bucket: a.args.Bucket, Key: a.args.Key, Dst: &buf, PartSize: a.args.PartSize, Concurrency: a.args.Concurrency})
	if err != nil {
		return digest{}, Object{}, "", err
	}
	data := buf.bytes()
	redigest := func(ctx context.Context, partSize int64) (digest, error) {
		return digestReader(ctx, bytes.NewReader(data), int64(len(data)), partSize)
	}
	d, by, err := a.verify(ctx, redigest, obj)
	if err != nil {
		return digest{}, Object{}, "", err
	}
	if err := files.WriteFile(a.args.File, data); err != nil {
		return digest{}, Object{}, "", err
	}
	return d, obj, by, nil
}

// verify digests the downloaded content and checks it against the object.
func (a *DownloadAction) verify(ctx context.Context, redigest func(context.Context, int64) (digest, error), obj Object) (digest, string, error) {
	d, err := redigest(ctx, 0)
	if err != nil {
		return digest{}, "", err
	}
	if d.size != obj.Size {
		return digest{}, "", fmt.Errorf("%w: got %d bytes, the object has %d", ErrChecksum, d.size, obj.Size)
	}
	if a.args.NoVerify {
		return d, "none", nil
	}
	by, err := verifyDownload(ctx, redigest, d, obj, a.args.SHA256)
	return d, by, err
}

// ReadOnly reports true: nothing changes in AWS.
func (a *DownloadAction) ReadOnly() bool { return true }

// Describe names the instance and the action.
func (a *DownloadAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "s3_download"}
}

// Compile-time checks.
var (
	_ runbook.Action          = (*ObjectExistsAction)(nil)
	_ runbook.Probe           = (*ObjectExistsAction)(nil)
	_ runbook.ReadOnly        = (*ObjectExistsAction)(nil)
	_ runbook.NaturalRollback = (*UploadAction)(nil)
	_ runbook.Describer       = (*uploadBack)(nil)
	_ runbook.ReadOnly        = (*DownloadAction)(nil)
)
