package aws_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// s3World is gofakes3 on httptest, reached through the real SDK client.
type s3World struct {
	backend *s3mem.Backend
	srv     *httptest.Server
	inst    *aws.Instance
	// mutate, when set, may change S3's responses (to corrupt an ETag).
	mutate func(r *http.Request, h http.Header)
}

func newS3World(t testing.TB, buckets ...string) *s3World {
	t.Helper()
	w := &s3World{backend: s3mem.New()}
	faker := gofakes3.New(w.backend)
	h := faker.Server()
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mw := &mutatingWriter{ResponseWriter: rw, r: r, f: func(r *http.Request, hd http.Header) {
			// gofakes3 gives every object a version ID, even in a bucket
			// without versioning; S3 sends none there.
			if !w.versioned(r) {
				hd.Del("x-amz-version-id")
			}
			if w.mutate != nil {
				w.mutate(r, hd)
			}
		}}
		h.ServeHTTP(mw, r)
		if !mw.done {
			mw.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(w.srv.Close)
	for _, b := range buckets {
		require.NoError(t, w.backend.CreateBucket(b))
	}
	inst, err := aws.NewInstance("backups", aws.Config{Region: "eu-west-1", AccessKeyID: "AKIDTEST", SecretAccessKey: "s3cr3t-key",
		S3Endpoint: w.srv.URL, S3UsePathStyle: true, MaxAttempts: 2, RetryMaxBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	w.inst = inst
	return w
}

// versioned reports whether the request's bucket keeps versions.
func (w *s3World) versioned(r *http.Request) bool {
	bucket, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	v, err := w.backend.VersioningConfiguration(bucket)
	return err == nil && v.Enabled()
}

type mutatingWriter struct {
	http.ResponseWriter
	r    *http.Request
	f    func(*http.Request, http.Header)
	done bool
}

func (m *mutatingWriter) WriteHeader(code int) {
	if !m.done {
		m.done = true
		m.f(m.r, m.Header())
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *mutatingWriter) Write(b []byte) (int, error) {
	if !m.done {
		m.WriteHeader(http.StatusOK)
	}
	return m.ResponseWriter.Write(b)
}

func (w *s3World) put(t *testing.T, bucket, key string, data []byte) {
	t.Helper()
	_, err := w.backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil)
	require.NoError(t, err)
}

func (w *s3World) keys(t *testing.T, bucket string) []string {
	t.Helper()
	res, err := w.backend.ListBucket(bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	require.NoError(t, err)
	var out []string
	for _, c := range res.Contents {
		out = append(out, c.Key)
	}
	sort.Strings(out)
	return out
}

func (w *s3World) content(t *testing.T, bucket, key string) []byte {
	t.Helper()
	obj, err := w.backend.GetObject(bucket, key, nil)
	require.NoError(t, err)
	defer obj.Contents.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(obj.Contents)
	require.NoError(t, err)
	return b.Bytes()
}

func envAt(t time.Time) *runbook.Env {
	return runbook.NewEnv(runbook.EnvConfig{Node: "step", Clock: runbook.NewSimClock(t)})
}

// journaled returns outputs as they come back from a journal (JSON).
func journaled(t *testing.T, out runbook.Outputs) runbook.Outputs {
	t.Helper()
	b, err := json.Marshal(out)
	require.NoError(t, err)
	var back runbook.Outputs
	require.NoError(t, json.Unmarshal(b, &back))
	return back
}

func rollbackEnv(t *testing.T, out runbook.Outputs) *runbook.Env {
	return runbook.NewEnv(runbook.EnvConfig{Node: "step", Self: journaled(t, out)})
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func TestObjectExistsSDK(t *testing.T) {
	w := newS3World(t, "dcmms-backups")
	w.put(t, "dcmms-backups", "production/postgres_full_20261125_020000.sql.gz", []byte("yesterday"))
	w.put(t, "dcmms-backups", "production/postgres_full_20261126_020000.sql.gz", []byte("today's backup"))
	w.put(t, "dcmms-backups", "production/config_20261126.tar.gz", []byte("config"))
	w.put(t, "dcmms-backups", "staging/postgres_full_20261126_020000.sql.gz", []byte("staging"))

	day := func(d int) time.Time { return time.Date(2026, 11, d, 2, 30, 0, 0, time.UTC) }
	tests := []struct {
		name    string
		args    aws.ObjectExistsArgs
		at      time.Time
		wantKey string
		count   int64
		wantErr string
	}{
		{"today's backup found", aws.ObjectExistsArgs{Bucket: "dcmms-backups", Prefix: "production/", Pattern: "postgres_full_*", Date: "%Y%m%d"},
			day(26), "production/postgres_full_20261126_020000.sql.gz", 1, ""},
		{"any object today", aws.ObjectExistsArgs{Bucket: "dcmms-backups", Prefix: "production/", Date: "%Y%m%d"},
			day(26), "", 2, ""},
		{"regexp", aws.ObjectExistsArgs{Bucket: "dcmms-backups", Regexp: `^production/postgres_full_\d{8}_\d{6}\.sql\.gz$`},
			day(26), "", 2, ""},
		{"no backup today", aws.ObjectExistsArgs{Bucket: "dcmms-backups", Prefix: "production/", Pattern: "postgres_full_*", Date: "%Y%m%d"},
			day(27), "", 0, "no object under s3://dcmms-backups/production/ matches pattern \"postgres_full_*\", date 20261127 (%Y%m%d) (3 objects there; the newest is"},
		{"empty prefix", aws.ObjectExistsArgs{Bucket: "dcmms-backups", Prefix: "nothing/"},
			day(26), "", 0, "(the prefix is empty)"},
		{"too small", aws.ObjectExistsArgs{Bucket: "dcmms-backups", Prefix: "production/", Date: "%Y%m%d", MinSize: 1 << 20},
			day(26), "", 0, "at least 1048576 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := aws.NewObjectExists(w.inst, tc.args)
			require.NoError(t, err)
			out, err := a.Do(context.Background(), envAt(tc.at))
			if tc.wantErr != "" {
				require.ErrorIs(t, err, aws.ErrNoBackup)
				assert.Contains(t, err.Error(), tc.wantErr)
				s, err := a.Sample(context.Background(), envAt(tc.at))
				require.NoError(t, err, "as a probe, no match is a value of 0")
				assert.Equal(t, int64(0), s.Value)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.count, out["count"])
			if tc.wantKey != "" {
				assert.Equal(t, tc.wantKey, out["key"])
				assert.Equal(t, "s3://dcmms-backups/"+tc.wantKey, out["uri"])
				assert.Equal(t, int64(len("today's backup")), out["size"])
			}
			assert.NotEmpty(t, out["last_modified"])
		})
	}
}

func TestUploadSDK(t *testing.T) {
	dir := t.TempDir()
	small := []byte("postgres dump of today")
	writeFile(t, filepath.Join(dir, "postgres_full_20261126.sql.gz"), small)
	writeFile(t, filepath.Join(dir, "site", "index.html"), []byte("<html>"))
	writeFile(t, filepath.Join(dir, "site", "static", "app.js"), []byte("console.log(1)"))
	writeFile(t, filepath.Join(dir, "site", "static", "app.css"), []byte("body{}"))
	big := randomBytes(t, 20<<20+123)
	writeFile(t, filepath.Join(dir, "big.bin"), big)

	tests := []struct {
		name     string
		args     aws.UploadArgs
		keys     []string
		verified string
		etagPart string
	}{
		{"file", aws.UploadArgs{Bucket: "dcmms-backups", Source: filepath.Join(dir, "postgres_full_20261126.sql.gz"), Prefix: "production/pre-release-2/"},
			[]string{"production/pre-release-2/postgres_full_20261126.sql.gz"}, "etag-md5", ""},
		{"file with key", aws.UploadArgs{Bucket: "dcmms-backups", Source: filepath.Join(dir, "postgres_full_20261126.sql.gz"), Key: "x/y.gz"},
			[]string{"x/y.gz"}, "etag-md5", ""},
		{"folder", aws.UploadArgs{Bucket: "dcmms-backups", Source: filepath.Join(dir, "site"), Prefix: "frontend/0.3.0/"},
			[]string{"frontend/0.3.0/index.html", "frontend/0.3.0/static/app.css", "frontend/0.3.0/static/app.js"}, "etag-md5", ""},
		{"multipart 20 MB in 5 MB parts", aws.UploadArgs{Bucket: "dcmms-backups", Source: filepath.Join(dir, "big.bin"), Key: "big.bin", PartSize: 5 << 20, Concurrency: 4},
			[]string{"big.bin"}, "etag-md5", "-5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newS3World(t, "dcmms-backups")
			a, err := aws.NewUpload(w.inst, tc.args)
			require.NoError(t, err)
			out, err := a.Do(context.Background(), envAt(time.Now()))
			require.NoError(t, err)
			assert.Equal(t, tc.keys, out["keys"])
			assert.Equal(t, tc.keys, w.keys(t, "dcmms-backups"))
			assert.Equal(t, int64(len(tc.keys)), out["count"])
			for _, k := range tc.keys {
				assert.Equal(t, tc.verified, out["verified_by"].(map[string]any)[k])
				assert.Equal(t, false, out["existed_before"].(map[string]any)[k])
			}
			etag := out["etag"].(string)
			if tc.etagPart != "" {
				assert.True(t, strings.HasSuffix(etag, tc.etagPart), "multipart ETag %s", etag)
				assert.Equal(t, big, w.content(t, "dcmms-backups", "big.bin"))
			} else {
				assert.Len(t, etag, 32)
			}

			// Download what was uploaded, verified.
			f := filepath.Join(t.TempDir(), "down", "file")
			d, err := aws.NewDownload(w.inst, aws.DownloadArgs{Bucket: "dcmms-backups", Key: tc.keys[0], File: f, PartSize: 5 << 20})
			require.NoError(t, err)
			dout, err := d.Do(context.Background(), envAt(time.Now()))
			require.NoError(t, err)
			assert.Equal(t, out["sha256"].(map[string]any)[tc.keys[0]], dout["sha256"])
			assert.Contains(t, []string{"sha256-metadata", "sha256"}, dout["verified_by"])

			// The natural rollback deletes everything the step created.
			rb := a.NaturalRollback()
			require.NoError(t, rb.Compensate(context.Background(), rollbackEnv(t, out)))
			assert.Empty(t, w.keys(t, "dcmms-backups"))
		})
	}
}

func TestUploadRollbackDeletesOnlyWhatItCreated(t *testing.T) {
	w := newS3World(t, "dcmms-frontend-assets")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "index.html"), []byte("new index"))
	writeFile(t, filepath.Join(dir, "app.js"), []byte("new app"))
	w.put(t, "dcmms-frontend-assets", "0.3.0/index.html", []byte("old index, uploaded by someone else"))
	w.put(t, "dcmms-frontend-assets", "0.2.9/index.html", []byte("the previous release"))

	a, err := aws.NewUpload(w.inst, aws.UploadArgs{Bucket: "dcmms-frontend-assets", Source: dir, Prefix: "0.3.0/"})
	require.NoError(t, err)
	out, err := a.Do(context.Background(), envAt(time.Now()))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"0.3.0/app.js": false, "0.3.0/index.html": true}, out["existed_before"])

	require.NoError(t, a.NaturalRollback().Compensate(context.Background(), rollbackEnv(t, out)))
	assert.Equal(t, []string{"0.2.9/index.html", "0.3.0/index.html"}, w.keys(t, "dcmms-frontend-assets"),
		"the object that existed before is kept, the new one deleted, the unrelated one untouched")

	// An object the step created but someone overwrote since is left alone.
	out, err = a.Do(context.Background(), envAt(time.Now()))
	require.NoError(t, err)
	// (gofakes3 keeps an overwritten object's metadata: delete it first.)
	_, err = w.backend.DeleteObject("dcmms-frontend-assets", "0.3.0/app.js")
	require.NoError(t, err)
	w.put(t, "dcmms-frontend-assets", "0.3.0/app.js", []byte("a hotfix written after the step"))
	out["existed_before"] = map[string]any{"0.3.0/app.js": false, "0.3.0/index.html": true}
	require.NoError(t, a.NaturalRollback().Compensate(context.Background(), rollbackEnv(t, out)))
	assert.Equal(t, []byte("a hotfix written after the step"), w.content(t, "dcmms-frontend-assets", "0.3.0/app.js"))
}

func TestUploadKeep(t *testing.T) {
	w := newS3World(t, "dcmms-backups")
	f := filepath.Join(t.TempDir(), "dump.sql.gz")
	writeFile(t, f, []byte("dump"))
	a, err := aws.NewUpload(w.inst, aws.UploadArgs{Bucket: "dcmms-backups", Source: f, Prefix: "production/", Keep: true})
	require.NoError(t, err)
	out, err := a.Do(context.Background(), envAt(time.Now()))
	require.NoError(t, err)
	require.NoError(t, a.NaturalRollback().Compensate(context.Background(), rollbackEnv(t, out)))
	assert.Equal(t, []string{"production/dump.sql.gz"}, w.keys(t, "dcmms-backups"))
}

func TestUploadChecksumMismatch(t *testing.T) {
	w := newS3World(t, "dcmms-backups")
	w.mutate = func(r *http.Request, h http.Header) {
		if r.Method == http.MethodPut && h.Get("ETag") != "" {
			h.Set("ETag", `"00000000000000000000000000000000"`)
		}
	}
	f := filepath.Join(t.TempDir(), "dump.sql.gz")
	writeFile(t, f, []byte("dump"))
	a, err := aws.NewUpload(w.inst, aws.UploadArgs{Bucket: "dcmms-backups", Source: f, Key: "dump.sql.gz"})
	require.NoError(t, err)
	_, err = a.Do(context.Background(), envAt(time.Now()))
	require.ErrorIs(t, err, aws.ErrChecksum)
	assert.True(t, runbook.IsPermanent(err))
	w.mutate = nil
	assert.Empty(t, w.keys(t, "dcmms-backups"), "a corrupt object the step created is not left behind")
}

func TestDownloadChecksum(t *testing.T) {
	w := newS3World(t, "dcmms-backups")
	w.put(t, "dcmms-backups", "plain.txt", []byte("uploaded by another tool"))
	file := filepath.Join(t.TempDir(), "plain.txt")

	d, err := aws.NewDownload(w.inst, aws.DownloadArgs{Bucket: "dcmms-backups", Key: "plain.txt", File: file})
	require.NoError(t, err)
	out, err := d.Do(context.Background(), envAt(time.Now()))
	require.NoError(t, err)
	assert.Equal(t, "etag-md5", out["verified_by"])

	d, err = aws.NewDownload(w.inst, aws.DownloadArgs{Bucket: "dcmms-backups", Key: "plain.txt", File: file + ".2", SHA256: strings.Repeat("ab", 32)})
	require.NoError(t, err)
	_, err = d.Do(context.Background(), envAt(time.Now()))
	require.ErrorIs(t, err, aws.ErrChecksum)
	_, statErr := os.Stat(file + ".2")
	assert.True(t, os.IsNotExist(statErr), "a file that fails its checksum is not left behind")

	d, err = aws.NewDownload(w.inst, aws.DownloadArgs{Bucket: "dcmms-backups", Key: "missing", File: file + ".3"})
	require.NoError(t, err)
	_, err = d.Do(context.Background(), envAt(time.Now()))
	require.ErrorIs(t, err, aws.ErrNotFound)
}
