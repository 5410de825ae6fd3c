package engine

import (
	crand "crypto/rand"
	"encoding/hex"
	"time"
)

// NewRunID returns a fresh run id: the UTC time and random hex.
func NewRunID(now time.Time) string {
	var b [4]byte
	_, _ = crand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
