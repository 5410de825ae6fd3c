package main

import (
	"math"
	"runtime/debug"
)

// The CLI runs with GOGC=400 (see main): loading a runbook allocates
// about 180 bytes per byte of source, most of it the parser's tokens,
// garbage as soon as each piece of the source is parsed, and at the
// default a quarter of a large load's CPU went to the collector. Alone,
// GOGC=400 lets the heap grow to five times what the previous collection
// found live: a 14 MB runbook of 50,000 steps keeps about 0.4 GB live and
// its process peaked at 1.4-1.9 GB. A soft memory limit proportional to
// the source caps that growth where it matters: a runbook of 10,000 such
// steps (2.8 MB: 645 MiB) stays well below it. Should the live heap ever
// exceed the limit, the collector bounds its own CPU (half the processors).
const (
	heapLimitBase    = 512 << 20 // bytes
	heapLimitPerByte = 48        // bytes per byte of the runbook's source
)

// limitHeapForSource sets the soft memory limit for loading a runbook of
// n bytes, keeping a larger limit set for an earlier (larger) runbook.
func limitHeapForSource(n int64) {
	limit := int64(heapLimitBase)
	if n > 0 && n < (math.MaxInt64-limit)/heapLimitPerByte {
		limit += heapLimitPerByte * n
	}
	if cur := debug.SetMemoryLimit(-1); cur != math.MaxInt64 && cur >= limit {
		return
	}
	debug.SetMemoryLimit(limit)
}
