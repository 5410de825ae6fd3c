package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestLimitHeapForSource(t *testing.T) {
	prev := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })

	limitHeapForSource(14 << 20)
	want := int64(heapLimitBase + heapLimitPerByte*(14<<20))
	if got := debug.SetMemoryLimit(-1); got != want {
		t.Fatalf("14 MiB source: limit %d, want %d", got, want)
	}
	limitHeapForSource(1 << 10) // a smaller runbook after it keeps the larger limit
	if got := debug.SetMemoryLimit(-1); got != want {
		t.Fatalf("after a 1 KiB source: limit %d, want %d kept", got, want)
	}
	limitHeapForSource(20 << 20)
	if got, want := debug.SetMemoryLimit(-1), int64(heapLimitBase+heapLimitPerByte*(20<<20)); got != want {
		t.Fatalf("20 MiB source: limit %d, want %d", got, want)
	}
}
