package watch_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/handrail-dev/handrail/journal/internal/watch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCheckFailureLosesTheLeaseOnce(t *testing.T) {
	errGone := errors.New("gone")
	var checks, after atomic.Int32
	l := watch.Start(time.Millisecond, func() error {
		if checks.Add(1) < 3 {
			return nil
		}
		return errGone
	}, func() { after.Add(1) })
	select {
	case <-l.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the lease was not lost after its check failed")
	}
	if !errors.Is(l.Err(), errGone) {
		t.Fatalf("Err() = %v, want %v", l.Err(), errGone)
	}
	l.MarkLost(errors.New("later"))
	if !errors.Is(l.Err(), errGone) {
		t.Fatalf("a later loss replaced the first reason: %v", l.Err())
	}
	if !l.Stop() {
		t.Fatal("the first Stop reported the lease stopped already")
	}
	if l.Stop() {
		t.Fatal("a second Stop reported a release")
	}
	if n := checks.Load(); n != 3 {
		t.Fatalf("checked %d times, want 3 (none after the loss)", n)
	}
	if n := after.Load(); n != 1 {
		t.Fatalf("afterLoss ran %d times, want 1", n)
	}
}

func TestStoppedLeaseIsNotLost(t *testing.T) {
	var checks atomic.Int32
	l := watch.Start(time.Millisecond, func() error { checks.Add(1); return nil }, nil)
	for checks.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	if !l.Stop() {
		t.Fatal("Stop reported the lease stopped already")
	}
	n := checks.Load()
	time.Sleep(20 * time.Millisecond)
	if checks.Load() != n {
		t.Fatal("the lease was checked after Stop returned")
	}
	select {
	case <-l.Lost():
		t.Fatal("a released lease reported lost")
	default:
	}
	if l.Err() != nil {
		t.Fatalf("Err() = %v after a release", l.Err())
	}
}
