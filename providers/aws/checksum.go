package aws

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/handrail-dev/handrail/internal/lazyre"
)

// MetaSHA256 is the user-metadata key under which s3_upload stores the hex
// SHA-256 of the whole object, so that s3_download can verify any object it
// uploaded, multipart or not (x-amz-meta-handrail-sha256).
const MetaSHA256 = "handrail-sha256"

// MetaRun is the user-metadata key under which s3_upload records the run
// and step that wrote an object ("<run id>/<step>"): a retried or resumed
// attempt of the same step recognises its own earlier upload and does not
// take it for an object that existed before.
const MetaRun = "handrail-run"

// digest holds the checksums of a body, whole and per part.
type digest struct {
	size     int64
	sha256   []byte
	md5      []byte
	partSize int64
	partMD5  [][]byte
	partSHA  [][]byte
}

// lane hashes a stream whole and/or in parts of partSize.
type lane struct {
	whole    hash.Hash
	newPart  func() hash.Hash
	partSize int64
	cur      hash.Hash
	in       int64
	parts    [][]byte
}

func (l *lane) write(b []byte) {
	if l.whole != nil {
		l.whole.Write(b)
	}
	for l.newPart != nil && len(b) > 0 {
		if l.cur == nil {
			l.cur, l.in = l.newPart(), 0
		}
		take := min(int64(len(b)), l.partSize-l.in)
		l.cur.Write(b[:take])
		l.in += take
		b = b[take:]
		if l.in == l.partSize {
			l.parts = append(l.parts, l.cur.Sum(nil))
			l.cur = nil
		}
	}
}

func (l *lane) finish() {
	if l.cur != nil && l.in > 0 {
		l.parts = append(l.parts, l.cur.Sum(nil))
	}
	l.cur = nil
}

// digestReader reads size bytes of r and returns their checksums: the
// SHA-256 always; the MD5 of the whole when the body fits in one part of
// partSize, else the MD5 and SHA-256 of each part. The SHA-256 side and the
// MD5 side are computed on two goroutines.
func digestReader(ctx context.Context, r io.Reader, size, partSize int64) (digest, error) {
	d := digest{partSize: partSize}
	multi := Parts(size, partSize) > 0
	a := &lane{whole: sha256.New()}
	m := &lane{}
	if multi {
		a.newPart, a.partSize = sha256.New, partSize
		m.newPart, m.partSize = md5.New, partSize
	} else {
		m.whole = md5.New()
	}
	buf := make([]byte, 1<<20)
	var wg sync.WaitGroup
	for {
		if err := ctx.Err(); err != nil {
			return digest{}, err
		}
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			b := buf[:n]
			d.size += int64(n)
			wg.Add(1)
			go func() { defer wg.Done(); m.write(b) }()
			a.write(b)
			wg.Wait()
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return digest{}, err
		}
	}
	if d.size != size {
		return digest{}, fmt.Errorf("read %d bytes, expected %d: the file changed while being read", d.size, size)
	}
	a.finish()
	m.finish()
	d.sha256 = a.whole.Sum(nil)
	if multi {
		d.partSHA, d.partMD5 = a.parts, m.parts
	} else {
		d.md5 = m.whole.Sum(nil)
	}
	return d, nil
}

// digestFile digests a file of the machine's disk.
func digestFile(ctx context.Context, file string, partSize int64) (digest, error) {
	return digestLocal(ctx, osFiles{}, file, partSize)
}

// multipart reports whether the digest has parts.
func (d digest) multipart() bool { return len(d.partMD5) > 0 }

// etag is the ETag S3 gives the body (without SSE-KMS): the hex MD5, or the
// hex MD5 of the parts' MD5s followed by "-<parts>".
func (d digest) etag() string {
	if !d.multipart() {
		return hex.EncodeToString(d.md5)
	}
	h := md5.New()
	for _, p := range d.partMD5 {
		h.Write(p)
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(d.partMD5))
}

// checksumSHA256 is the base64 SHA-256 checksum S3 reports: of the whole
// body, or the composite (SHA-256 of the parts' SHA-256s) of a multipart
// upload, without the "-<parts>" suffix.
func (d digest) checksumSHA256() string {
	if !d.multipart() {
		return b64(d.sha256)
	}
	h := sha256.New()
	for _, p := range d.partSHA {
		h.Write(p)
	}
	return b64(h.Sum(nil))
}

func (d digest) sha256Hex() string { return hex.EncodeToString(d.sha256) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

var md5ETag = lazyre.New(`^[0-9a-f]{32}(-[0-9]+)?$`)

// stripParts removes a "-<parts>" suffix.
func stripParts(s string) string {
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		return s[:i]
	}
	return s
}

// verifyUpload compares what S3 reports of an upload with the local
// digest. The SHA-256 checksum is preferred (S3 computed it from the bytes
// it stored); without one, the ETag is compared with the MD5 it must be.
// It returns how the upload was verified ("sha256" or "etag-md5").
func verifyUpload(d digest, res PutResult) (string, error) {
	if res.ChecksumSHA256 != "" {
		got, want := stripParts(res.ChecksumSHA256), d.checksumSHA256()
		if got != want {
			return "", fmt.Errorf("%w: S3 stored SHA-256 %s, the file has %s", ErrChecksum, res.ChecksumSHA256, want)
		}
		return "sha256", nil
	}
	etag := strings.ToLower(res.ETag)
	if md5ETag.MatchString(etag) {
		if want := d.etag(); etag != want {
			return "", fmt.Errorf("%w: S3 answered ETag %s, the file's MD5 gives %s", ErrChecksum, res.ETag, want)
		}
		return "etag-md5", nil
	}
	return "", fmt.Errorf("%w: S3 returned neither a SHA-256 checksum nor an MD5 ETag (ETag %q): the upload cannot be verified", ErrChecksum, res.ETag)
}

// verifyDownload checks a downloaded file against, in order: the expected
// SHA-256 given by the step, the SHA-256 s3_upload stored in the object's
// metadata, the stored SHA-256 checksum, and the MD5 ETag (multipart ETags
// with the usual part sizes). It returns how the file was verified.
// redigest digests the downloaded content again with another part size.
func verifyDownload(ctx context.Context, redigest func(ctx context.Context, partSize int64) (digest, error), d digest, obj Object, expected string) (string, error) {
	if expected != "" {
		if !strings.EqualFold(expected, d.sha256Hex()) {
			return "", fmt.Errorf("%w: the step expects SHA-256 %s, the downloaded file has %s", ErrChecksum, expected, d.sha256Hex())
		}
		return "sha256", nil
	}
	if m := obj.Metadata[MetaSHA256]; m != "" {
		if !strings.EqualFold(m, d.sha256Hex()) {
			return "", fmt.Errorf("%w: the object's %s metadata says %s, the downloaded file has %s", ErrChecksum, MetaSHA256, m, d.sha256Hex())
		}
		return "sha256-metadata", nil
	}
	if c := obj.ChecksumSHA256; c != "" && !strings.Contains(c, "-") {
		if c != b64(d.sha256) {
			return "", fmt.Errorf("%w: S3 stored SHA-256 %s, the downloaded file has %s", ErrChecksum, c, b64(d.sha256))
		}
		return "sha256", nil
	}
	etag := strings.ToLower(obj.ETag)
	if !md5ETag.MatchString(etag) {
		return "", fmt.Errorf("%w: the object has no SHA-256 and its ETag %q is not an MD5: give sha256 (the expected hex digest) or verify = false", ErrChecksum, obj.ETag)
	}
	if !strings.Contains(etag, "-") {
		if etag != hex.EncodeToString(d.md5) {
			return "", fmt.Errorf("%w: ETag %s, the downloaded file's MD5 is %s (for an SSE-KMS object give sha256, or verify = false)", ErrChecksum, obj.ETag, hex.EncodeToString(d.md5))
		}
		return "etag-md5", nil
	}
	var parts int64
	_, _ = fmt.Sscanf(etag[strings.IndexByte(etag, '-')+1:], "%d", &parts)
	for _, ps := range guessPartSizes(d.size, parts) {
		dd, err := redigest(ctx, ps)
		if err != nil {
			return "", err
		}
		if dd.etag() == etag {
			return "etag-md5", nil
		}
	}
	return "", fmt.Errorf("%w: multipart ETag %s matches the downloaded file with none of the usual part sizes: give sha256 (the expected hex digest) or verify = false", ErrChecksum, obj.ETag)
}

// guessPartSizes returns the part sizes that split size bytes into parts
// parts: the size rounded up to a whole MiB, and the common defaults.
func guessPartSizes(size, parts int64) []int64 {
	if parts <= 0 {
		return nil
	}
	var out []int64
	seen := map[int64]bool{}
	try := func(ps int64) {
		if ps > 0 && !seen[ps] && Parts(size, ps) == int(parts) {
			seen[ps] = true
			out = append(out, ps)
		}
	}
	per := (size + parts - 1) / parts
	try(per)
	try((per + (1 << 20) - 1) &^ ((1 << 20) - 1))
	for _, mib := range []int64{5, 8, 10, 15, 16, 25, 32, 50, 64, 100, 128, 256, 512} {
		try(mib << 20)
	}
	return out
}
