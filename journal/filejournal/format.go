package filejournal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/handrail-dev/handrail/runbook"
)

// On disk, a run's log is the magic header followed by frames:
//
//	uint32 little-endian payload length
//	uint32 little-endian CRC-32C (Castagnoli) of the payload
//	payload: the record as JSON
//
// A frame is written whole by one write and fsync'ed before Append returns.
// A crash can only leave the last frame incomplete: such a torn tail is
// ignored by Load and cut off before the next append.
const (
	magic       = "HRJNL01\n"
	frameHeader = 8
	// maxFrame bounds a record; anything larger is corruption.
	maxFrame = 64 << 20
)

// castagnoli is the CRC-32C table, built on first use rather than at start
// (every CLI command links this package; few read or write a journal).
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// ErrCorrupt is wrapped by the error of a journal file damaged anywhere but
// in its last record (a torn last record is not corruption: it is ignored).
var ErrCorrupt = errors.New("filejournal: journal file corrupt")

// appendFrame appends the frame of rec to buf.
func appendFrame(buf []byte, rec runbook.Record) ([]byte, error) {
	payload, err := json.Marshal(rec)
	if err != nil {
		return buf, fmt.Errorf("filejournal: encode %s record of run %s (node %q): %w", rec.Kind, rec.Run, rec.Node, err)
	}
	if len(payload) > maxFrame {
		return buf, fmt.Errorf("filejournal: %s record of run %s (node %q) is %d bytes, more than the %d allowed", rec.Kind, rec.Run, rec.Node, len(payload), maxFrame)
	}
	var h [frameHeader]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:8], crc32.Checksum(payload, castagnoli()))
	buf = append(buf, h[:]...)
	return append(buf, payload...), nil
}

// scanResult is what parse found in a log.
type scanResult struct {
	recs []runbook.Record
	// valid is the length of the intact prefix (header and whole frames).
	valid int64
	// torn reports bytes after valid: a torn last record.
	torn bool
}

// parse reads a whole log. stopAfter > 0 stops after that many records.
// name is used in errors.
func parse(data []byte, name string, stopAfter int) (scanResult, error) {
	var res scanResult
	if len(data) < len(magic) {
		if !bytes.HasPrefix([]byte(magic), data) {
			return res, fmt.Errorf("%w: %s: not a handrail journal (bad header)", ErrCorrupt, name)
		}
		// Torn creation: nothing durable yet.
		res.torn = len(data) > 0
		return res, nil
	}
	if string(data[:len(magic)]) != magic {
		return res, fmt.Errorf("%w: %s: not a handrail journal (bad header %q)", ErrCorrupt, name, data[:len(magic)])
	}
	off := len(magic)
	res.valid = int64(off)
	var fence int64 // highest fencing epoch so far
	for off < len(data) {
		if stopAfter > 0 && len(res.recs) >= stopAfter {
			return res, nil
		}
		rest := data[off:]
		bad := ""
		var n int
		switch {
		case len(rest) < frameHeader:
			bad = "incomplete frame header"
		default:
			n = int(binary.LittleEndian.Uint32(rest[0:4]))
			sum := binary.LittleEndian.Uint32(rest[4:8])
			switch {
			case n == 0 || n > maxFrame:
				bad = fmt.Sprintf("bad frame length %d", n)
			case len(rest) < frameHeader+n:
				bad = "incomplete frame"
			case crc32.Checksum(rest[frameHeader:frameHeader+n], castagnoli()) != sum:
				bad = "checksum mismatch"
			}
		}
		if bad != "" {
			// A torn tail reaches the end of the file (or is followed by
			// nothing but zeros, which some file systems leave after a
			// crash). Anything else is damage in the middle: refuse to
			// guess.
			if len(rest) < frameHeader || frameHeader+n >= len(rest) || allZero(rest) {
				res.torn = true
				return res, nil
			}
			return res, fmt.Errorf("%w: %s: %s at byte %d, with %d bytes after it", ErrCorrupt, name, bad, off, len(rest))
		}
		var rec runbook.Record
		if err := json.Unmarshal(rest[frameHeader:frameHeader+n], &rec); err != nil {
			return res, fmt.Errorf("%w: %s: record at byte %d: %v", ErrCorrupt, name, off, err)
		}
		if want := int64(len(res.recs) + 1); rec.Seq != want {
			return res, fmt.Errorf("%w: %s: record at byte %d has seq %d, want %d", ErrCorrupt, name, off, rec.Seq, want)
		}
		if rec.Fence != 0 {
			if rec.Fence < fence {
				return res, fmt.Errorf("%w: %s: record %d (%s) was appended under run lock epoch %d, after a record of epoch %d: a process that had lost its run lock wrote it; check the run with 'handrail show' and decide by hand", ErrCorrupt, name, rec.Seq, rec.Kind, rec.Fence, fence)
			}
			fence = rec.Fence
		}
		res.recs = append(res.recs, rec)
		off += frameHeader + n
		res.valid = int64(off)
	}
	return res, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
